"""Neurons: the masked evaluator against the model, rankings against ground truth, interactions against naive loops."""

import numpy as np
import pytest
import torch

from dina_core.evaluate.model_eval import evaluate_run
from dina_core.evaluate.tasks import tier_task
from dina_core.interpret.interactions import ablation_synergy, reconstruction_r2, signal_noise_correlations
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.interpret.neurons import (attribution_importance, default_ks, order, pruning_curve,
                                         random_pruning_curve, reliability, response_strength, smallest_subset,
                                         strong_responder_auc)
from dina_core.model import build_model
from dina_core.model.inference import encode_images, encode_responses
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing
from dina_core.runs.run import Run


@pytest.fixture(scope="module")
def evaluator(small_run, small_data):
    return MaskedEvaluator(small_run, small_data)


@pytest.fixture(scope="module")
def importance(small_run, small_data):
    return attribution_importance(small_run, small_data)


def _masks(n: int, seed: int = 0) -> np.ndarray:
    """Dense (random halves, fractional) and sparse (pair ablated, 10 kept) masks, plus all/none."""
    rng = np.random.default_rng(seed)
    pair, few = np.ones(n), np.zeros(n)
    pair[[3, 17]] = 0
    few[rng.choice(n, 10, replace=False)] = 1
    return np.stack([np.ones(n), np.zeros(n), pair, few, rng.random(n) < 0.5, rng.random(n)]).astype(np.float32)


def test_evaluator_reproduces_evaluate_run(small_run, small_data, evaluator):
    rows = {r["responses"]: r for r in evaluate_run(small_run, small_data, per_level=False)
            if r["direction"] == "neural_to_image"}
    assert evaluator.top1(np.ones(evaluator.n_neurons)) == rows["averaged"]["top1"]
    single = MaskedEvaluator(small_run, small_data, "single_trial")
    assert single.top1(np.ones(single.n_neurons)) == rows["single_trial"]["top1"]
    mask = torch.from_numpy(_masks(evaluator.n_neurons)[4])
    masked = {r["responses"]: r for r in evaluate_run(small_run, small_data, per_level=False, neuron_mask=mask)
              if r["direction"] == "neural_to_image"}
    assert evaluator.top1(mask) == masked["averaged"]["top1"]


UNTRAINED = {"linear": ("linear", {}), "dina_encoding_level": ("dina", {"encoding_level": True}),
             "dina_encoding_levels_only": ("dina", {"aligned_stages": (), "stage_weights": (), "linear_level": False,
                                                    "encoding_level": True})}  # no layer over the neurons at all


@pytest.mark.parametrize("kind", ["dina", *UNTRAINED])
def test_scores_match_the_model_under_masks(kind, small_run, small_data):
    if kind == "dina":
        run = small_run
    else:  # an untrained linear two-tower, or DINA with its encoding level: the fold must hold for any weights
        torch.manual_seed(0)
        model_kind, config = UNTRAINED[kind]
        model = build_model(model_kind, config, small_data.n_neurons, small_data.image_shape).eval()
        run = Run(model, model_kind, config, TrainConfig(), Preprocessing.fit(small_data))
    ev = MaskedEvaluator(run, small_data)
    prepared = run.prepare(small_data)
    task = tier_task(prepared)
    queries, _ = task.queries()
    image_emb = encode_images(run.model, task.images)
    masks = _masks(ev.n_neurons)
    scores = ev.scores(masks)
    for mask, s in zip(masks, scores):
        expected = encode_responses(run.model, queries, neuron_mask=torch.from_numpy(mask)) @ image_emb.T
        torch.testing.assert_close(s.float(), expected, atol=2e-6, rtol=1e-5)


def test_batch_equals_loop_and_model_is_untouched(small_run, evaluator):
    state = {k: v.clone() for k, v in small_run.model.state_dict().items()}
    masks = np.concatenate([_masks(evaluator.n_neurons, seed) for seed in range(2)])
    np.testing.assert_array_equal(evaluator.top1(masks), [evaluator.top1(m) for m in masks])
    np.testing.assert_array_equal(evaluator.ranks(masks), [evaluator.ranks(m) for m in masks])
    np.testing.assert_allclose(evaluator.margin(masks), [evaluator.margin(m) for m in masks], atol=1e-9)
    assert not small_run.model.training
    assert all(not m._forward_hooks for m in small_run.model.modules())
    assert all(torch.equal(v, state[k]) for k, v in small_run.model.state_dict().items())


def test_all_masked_is_at_chance(evaluator):
    # Every query becomes the same vector, so at most one image can rank first.
    assert evaluator.top1(np.zeros(evaluator.n_neurons)) <= evaluator.chance + 1e-12
    with pytest.raises(ValueError):
        evaluator.top1(np.ones(evaluator.n_neurons + 1))


def test_helpers():
    assert default_ks(200) == [1, 2, 5, 10, 20, 50, 100, 200]
    assert default_ks(5000)[-3:] == [1000, 2000, 5000]
    np.testing.assert_array_equal(order(np.array([0.1, np.nan, 3.0, 0.1])), [2, 0, 3, 1])
    curve = [{"k": 1, "top1": 0.1}, {"k": 5, "top1": 0.4}, {"k": 10, "top1": 0.46}, {"k": 20, "top1": 0.44}]
    assert smallest_subset(curve, 0.5) == 10 and smallest_subset(curve, 0.44, fraction=1.0) == 10
    assert smallest_subset(curve, 1.0) is None
    flags = np.array([True, True, False, False, False])
    assert strong_responder_auc(np.array([5.0, 4, 3, 2, 1]), flags) == 1.0
    assert strong_responder_auc(np.array([1.0, 2, 3, 4, 5]), flags) == 0.0
    assert strong_responder_auc(np.array([5.0, np.nan, 3, 2, 1]), flags) == 1.0
    assert np.isnan(strong_responder_auc(np.ones(5), np.zeros(5, bool)))


def test_rankings_and_reliability(small_run, small_data, importance):
    n = small_run.model.n_neurons
    assert importance.shape == (n,) and (importance >= 0).all() and importance.max() > 0
    strength = response_strength(small_run, small_data)
    assert strength.shape == (n,) and (strength > 0).all()
    rel, why = reliability(small_run, small_data)  # simulated like Sensorium: only test images repeat
    assert np.isnan(rel).all() and "test" in why
    repeated = type(small_data)(**{**small_data.__dict__, "tiers": np.where(small_data.tiers == "test", "validation",
                                                                             small_data.tiers)})
    rel, why = reliability(small_run, repeated)
    assert why is None and np.isfinite(rel).mean() > 0.9


def test_importance_finds_strong_responders(small_data, importance):
    """20 of 200 simulated neurons are strong, reliable responders. Under the null (ranking
    unrelated to strength) the AUC is 0.5 +- 0.07 (sd), so 0.7 is about 3 sd above chance."""
    auc = strong_responder_auc(importance, small_data.ground_truth["strong_responder"])
    assert auc >= 0.7, auc


def test_pruning_by_importance_beats_random(small_run, small_data, importance):
    """Single-trial queries (120) give finer accuracy steps than 30 averaged ones; mid k is 5..50 of 200."""
    ev = MaskedEvaluator(small_run, small_data, "single_trial")
    ks = default_ks(ev.n_neurons)
    top = pruning_curve(ev, importance, ks)
    bottom = pruning_curve(ev, importance, ks, keep="bottom")
    rand = random_pruning_curve(ev, ks, n_draws=10)
    full = ev.top1(np.ones(ev.n_neurons))
    assert top[-1]["top1"] == bottom[-1]["top1"] == full and rand[-1]["top1_std"] == pytest.approx(0.0)
    mid = [i for i, k in enumerate(ks) if 5 <= k <= 50]
    top_mid, rand_mid, bottom_mid = (np.mean([curve[i]["top1"] for i in mid]) for curve in (top, rand, bottom))
    assert top_mid > rand_mid > bottom_mid - 0.02, (top_mid, rand_mid, bottom_mid)
    assert all(r["top1_std"] >= 0 for r in rand)


def test_synergy_symmetric_and_matches_single_masks(evaluator, importance):
    top = order(importance)[:5]
    for metric in ("top1", "margin"):
        s = ablation_synergy(evaluator, top, metric=metric)
        assert s.shape == (5, 5)
        np.testing.assert_array_equal(s, s.T)
        np.testing.assert_array_equal(np.diag(s), 0.0)
        score = getattr(evaluator, metric)
        full = score(np.ones(evaluator.n_neurons))

        def drop(*neurons):
            mask = np.ones(evaluator.n_neurons)
            mask[list(neurons)] = 0
            return full - score(mask)

        i, j = top[1], top[3]
        assert s[1, 3] == pytest.approx(drop(i, j) - drop(i) - drop(j), abs=1e-9)


def test_signal_and_noise_correlations_match_naive_loop(small_data):
    test = small_data.tier_mask("test")
    responses, image_index = small_data.responses[test].astype(np.float64), small_data.image_index[test]
    neurons = np.array([0, 5, 17, 42])
    signal, noise = signal_noise_correlations(responses, image_index, neurons)
    images = np.unique(image_index)
    for a in range(len(neurons)):
        for b in range(len(neurons)):
            x, y = responses[:, neurons[a]], responses[:, neurons[b]]
            mx = np.array([x[image_index == i].mean() for i in images])
            my = np.array([y[image_index == i].mean() for i in images])
            assert signal[a, b] == pytest.approx(np.corrcoef(mx, my)[0, 1], abs=1e-9)
            rx = np.concatenate([x[image_index == i] - x[image_index == i].mean() for i in images])
            ry = np.concatenate([y[image_index == i] - y[image_index == i].mean() for i in images])
            assert noise[a, b] == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-9)


def test_reconstruction_r2(small_run, small_data, importance):
    queries, _ = tier_task(small_run.prepare(small_data)).queries()
    n = small_run.model.n_neurons
    ranked = reconstruction_r2(small_run.model, queries, importance, [20, 50, n])
    shuffled = reconstruction_r2(small_run.model, queries, np.random.default_rng(0).random(n), [20, 50, n])
    assert ranked[-1]["r2"] == pytest.approx(1.0) and set(ranked[0]["stages"]) == set(small_run.model.map_shapes)
    assert ranked[1]["r2"] > shuffled[1]["r2"]  # the important neurons carry more of the predicted maps
