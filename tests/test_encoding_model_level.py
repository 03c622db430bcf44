"""DINA's encoding-model level (``model.encoding_model_level``): the fitted encoding baseline held frozen inside
DINA scores exactly as the baseline's correlation rule, never trains, survives a save/load round trip, learns
nothing on shuffled pairs, and the benchmark hands its encoding row's fit over instead of fitting it twice.
"""

import dataclasses

import numpy as np
import pytest
import torch

from dina_core.benchmark import run_benchmark
from dina_core.errors import DinaError
from dina_core.evaluate.encoding import fit_encoding
from dina_core.evaluate.encoding_scores import tier_embeddings
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.model import DinaModel, ModelConfig
from dina_core.model.config import ENCODING_MODEL
from dina_core.model.encoding import EncodingConfig
from dina_core.model.inference import encode_images, encode_responses
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing, prepare
from dina_core.runs.run import load_run
from dina_core.train.encoding_model_level import check_fit_matches
from dina_core.train.run import NothingTrainedError, train_run

TINY = dict(stage_channels=(4, 8, 8), trunk_dim=32, encoding_model_level=True)
FAST = dict(epochs=6, behavior="off")  # no behaviour correction: the level sees what the baseline sees


@pytest.fixture(scope="module")
def fitted(small_data):
    """The baseline fitted without a behaviour gain (so its correlation rule divides by no gain), and a DINA model
    holding it as its level."""
    fit = fit_encoding(small_data, EncodingConfig(behavior_gain=False, epochs=3))
    pre = Preprocessing.fit(small_data)
    model = DinaModel(ModelConfig(**TINY), small_data.n_neurons, small_data.image_shape).eval()
    prepared = prepare(small_data, pre, "cpu", 0.1, 0)
    model.encoding_model.load_fitted(fit.model, pre.response_normalizer.mean / pre.response_normalizer.std,
                                     prepared.images)
    return fit, model, prepared


def _level_similarity(model, prepared, trials, images):
    queries = prepared.responses[torch.as_tensor(trials)]
    return (encode_responses(model, queries, level=ENCODING_MODEL)
            @ encode_images(model, prepared.images[torch.as_tensor(images)], level=ENCODING_MODEL).T)


def test_the_level_scores_exactly_as_the_baselines_correlation_rule(fitted, small_data):
    fit, model, prepared = fitted
    trials = prepared.tier_trials["test"]
    images = np.unique(small_data.image_index[trials])
    assert (np.asarray(small_data.responses) >= 0).all()  # raw / std is then the baseline's clipped response
    ours = _level_similarity(model, prepared, trials, images).numpy()
    base = tier_embeddings(fit, "test", "correlation")
    np.testing.assert_array_equal(base.candidates, images)
    np.testing.assert_allclose(ours, base.trials @ base.images.T, atol=1e-5)


def test_the_level_never_trains_and_its_batch_norm_stays_in_eval_mode(fitted, small_data):
    _, model, prepared = fitted
    model.train()
    assert not model.encoding_model.training and not model.encoding_model.model.training  # nor its buffers averaged
    assert not any(p.requires_grad for p in model.encoding_model.parameters())
    out = model(prepared.images[:4], prepared.responses[:4])
    assert ENCODING_MODEL not in out["image"] and model.loss_weights[ENCODING_MODEL] == 0
    model.eval()


def test_a_masked_neuron_is_at_its_train_mean_on_the_level(fitted, small_data):
    _, model, prepared = fitted
    responses, mask = prepared.responses[:5], torch.ones(small_data.n_neurons)
    mask[: small_data.n_neurons // 3] = 0
    for rule in ("correlation", "log_likelihood"):
        model.encoding_model.set_rule(rule)
        assert torch.allclose(encode_responses(model, responses, level=ENCODING_MODEL, neuron_mask=mask),
                              encode_responses(model, responses * mask, level=ENCODING_MODEL))
    model.encoding_model.set_rule("correlation")


@pytest.fixture(scope="module")
def level_run(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("encoding_model_level") / "run"
    return train_run(small_data, out, model_config=ModelConfig(**TINY).to_dict(), train_config=TrainConfig(**FAST))[0], out


def test_a_training_fits_the_level_first_keeps_it_frozen_and_saves_it(level_run, small_data):
    run, out = level_run
    meta = run.metadata["encoding_model_level"]
    assert meta["best_epoch"] >= 0 and not meta["reused"] and meta["best_val_correlation"] > 0.06
    loaded = load_run(out)
    assert loaded.model.levels[-1] == ENCODING_MODEL
    for name, tensor in run.model.encoding_model.state_dict().items():
        assert torch.equal(tensor, loaded.model.encoding_model.state_dict()[name]), name
    evaluator = MaskedEvaluator(loaded, small_data)
    full = evaluator.top1(np.ones(small_data.n_neurons))
    assert full > 5 * evaluator.chance  # the combined score, level included, far above chance


def test_the_masked_evaluator_matches_masked_encoding_on_the_level(level_run, small_data):
    run, _ = level_run
    evaluator = MaskedEvaluator(run, small_data, "single_trial")
    rng = np.random.default_rng(0)
    mask = (rng.random(small_data.n_neurons) > 0.5).astype(np.float32)
    prepared = run.prepare(small_data)
    task_trials = prepared.tier_trials["test"]
    images = np.unique(small_data.image_index[task_trials])
    queries = prepared.responses[torch.as_tensor(task_trials)]
    slow = (encode_responses(run.model, queries, neuron_mask=torch.as_tensor(mask))
            @ encode_images(run.model, prepared.images[torch.as_tensor(images)]).T)
    fast = evaluator.scores(mask)[0].float()
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), atol=1e-4)


def test_the_shuffled_null_fits_its_encoding_model_on_shuffled_pairs(small_data, level_run):
    null, _ = train_run(small_data, None, model_config=ModelConfig(**TINY).to_dict(),
                        train_config=TrainConfig(**FAST, shuffle_pairs=True))
    learnt = level_run[0].metadata["encoding_model_level"]["best_val_correlation"]
    assert null.metadata["encoding_model_level"]["best_val_correlation"] < learnt / 3


def test_stopped_while_fitting_the_encoding_model_saves_nothing(small_data, tmp_path):
    with pytest.raises(NothingTrainedError, match="encoding model"):
        train_run(small_data, tmp_path / "run", model_config=ModelConfig(**TINY).to_dict(),
                  train_config=TrainConfig(**FAST), should_stop=lambda: True)
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_fit_of_another_split_is_refused(fitted, small_data):
    fit, _, prepared = fitted
    check_fit_matches(fit, prepared)
    tiers = dict(prepared.tier_trials)
    tiers["train"], tiers["validation"] = tiers["train"][1:], np.append(tiers["validation"], tiers["train"][0])
    with pytest.raises(DinaError, match="another split"):
        check_fit_matches(fit, dataclasses.replace(prepared, tier_trials=tiers))


def test_the_benchmark_hands_its_encoding_fit_to_dinas_level(small_data, tmp_path):
    metrics = run_benchmark(small_data, tmp_path, train_config=TrainConfig(**FAST), models=("dina", "encoding"),
                            model_config=ModelConfig(**TINY).to_dict())
    assert [r["model"] for r in metrics["rows"]][:8] == ["dina"] * 4 + ["encoding"] * 4  # the order asked for
    handed = load_run(tmp_path / "dina")
    assert handed.metadata["encoding_model_level"]["reused"]
    alone, _ = train_run(small_data, None, model_config=ModelConfig(**TINY).to_dict(), train_config=TrainConfig(**FAST))
    for name, tensor in alone.model.state_dict().items():  # the benchmark's dina row is what `dina train` trains
        assert torch.equal(tensor, handed.model.state_dict()[name]), name


def test_the_log_likelihood_rule_ranks_images_exactly_by_the_poisson_likelihood(fitted, small_data):
    _, model, prepared = fitted
    trials = prepared.tier_trials["test"][:20]
    candidates = prepared.images[torch.as_tensor(np.unique(small_data.image_index[prepared.tier_trials["test"]]))]
    queries = prepared.responses[torch.as_tensor(trials)]
    model.encoding_model.set_rule("log_likelihood")
    try:
        ours = (encode_responses(model, queries, level=ENCODING_MODEL)
                @ encode_images(model, candidates, level=ENCODING_MODEL).T).double()
        rates = model.encoding_model.model.image_rates(candidates).double()
        v = (queries.double() + model.encoding_model.response_offset.double()).clamp_min(0)
        naive = v @ rates.log().T - rates.sum(1)  # sum over neurons of r log l - l
        assert (ours.argsort(1) == naive.argsort(1)).all()
        # a constant per response apart, the likelihood over a positive scale of the response's own
        scale = (naive[:, :1] - naive[:, 1:2]) / (ours[:, :1] - ours[:, 1:2])
        assert (scale > 0).all()
        np.testing.assert_allclose((ours * scale - naive).std(1), 0, atol=1e-3)
    finally:
        model.encoding_model.set_rule("correlation")


@pytest.mark.parametrize("buffer, value", [("encoding_model.rule", 7), ("encoding_model.image_norm", 0.0)])
def test_a_hand_edited_level_in_a_checkpoint_is_refused(level_run, tmp_path, buffer, value):
    from dina_core.errors import CheckpointError

    _, out = level_run
    payload = torch.load(out / "model.pt", weights_only=True)
    payload["state_dict"]["encoding_model.rule"] = torch.tensor(1)  # the likelihood, so the norm matters
    payload["state_dict"][buffer] = torch.tensor(value, dtype=payload["state_dict"][buffer].dtype)
    (tmp_path / "run").mkdir()
    torch.save(payload, tmp_path / "run" / "model.pt")
    for name in ("run.json",):
        (tmp_path / "run" / name).write_bytes((out / name).read_bytes())
    with pytest.raises(CheckpointError, match=buffer.split(".")[1]):
        load_run(tmp_path / "run")
