"""DINA's encoding level (``model.encoding_head``): it scores a pair by the correlation of observed and predicted
responses, its regression loss matches a naive reference, masks act on it as on every level, and a short
training of the level alone learns the simulator's noise-free responses and identifies images far above chance.
"""

import numpy as np
import pytest
import torch

from dina_core.config import ConfigError
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.model import DinaModel, ModelConfig
from dina_core.model.config import ENCODING
from dina_core.model.encoding_head import EncodingHead
from dina_core.runs.config import TrainConfig
from dina_core.train.run import train_run
from dina_core.train.step import param_groups

TINY = dict(stage_channels=(4, 8, 8), trunk_dim=32, encoding_level=True)
ENCODING_ONLY = dict(aligned_stages=(), stage_weights=(), linear_level=False, encoding_level=True,
                     encoding_model_level=False)


def _model(n_neurons=30, **overrides) -> DinaModel:
    torch.manual_seed(0)
    return DinaModel(ModelConfig(**{**TINY, **overrides}), n_neurons, (12, 20)).eval()


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Q, n) and (N, n) -> (Q, N) Pearson correlation over the n columns, computed naively."""
    return np.array([[np.corrcoef(x, y)[0, 1] for y in b] for x in a])


def test_the_encoding_level_scores_the_correlation_of_observed_and_predicted_responses():
    model = _model()
    images, responses = torch.randn(6, 1, 12, 20), torch.randn(4, 30)
    with torch.no_grad():
        similarity = (model.encode_response(responses, ENCODING) @ model.encode_image(images, ENCODING).T).numpy()
        predicted = model.encoding_head.readout(model.image_tower(images)["stage2"]).numpy()
    r = responses.numpy()
    # centring the prediction is enough: the response's own norm is a constant per query
    scale = np.linalg.norm(r, axis=1, keepdims=True) / np.linalg.norm(r - r.mean(1, keepdims=True), axis=1, keepdims=True)
    np.testing.assert_allclose(similarity * scale, _pearson(r, predicted), atol=1e-5)
    assert (np.argsort(similarity, 1) == np.argsort(_pearson(r, predicted), 1)).all()


def test_the_encoding_stage_is_checked_only_when_the_level_is_on():
    assert ModelConfig(stage_channels=(8,), aligned_stages=("stage1",)).levels() == ("stage1", "linear",
                                                                                      "encoding_model")
    with pytest.raises(ConfigError, match="encoding_stage"):
        ModelConfig(stage_channels=(8,), aligned_stages=("stage1",), encoding_level=True)


def test_a_masked_neuron_is_at_its_train_mean_on_the_encoding_level():
    model = _model()
    responses, mask = torch.randn(3, 30), torch.ones(30)
    mask[:10] = 0
    zeroed = responses.clone()
    zeroed[:, :10] = 0
    assert torch.allclose(model.encode_response(responses, ENCODING, neuron_mask=mask),
                          model.encode_response(zeroed, ENCODING))


def test_the_fit_loss_matches_a_naive_reference():
    predicted, responses = torch.randn(5, 7), torch.randn(5, 7)
    centred = predicted - predicted.mean(1, keepdim=True)
    naive = np.mean([(centred[t, i].item() - (responses[t, i] - responses[t].mean()).item()) ** 2
                     for t in range(5) for i in range(7)])
    assert abs(EncodingHead.fit_loss(centred, responses).item() - naive) < 1e-5


def test_training_adds_the_fit_loss_and_never_decays_readout_positions():
    model = _model().train()
    out = model(torch.randn(4, 1, 12, 20), torch.randn(4, 30))
    assert out["fit_loss"].ndim == 0 and out["fit_loss"].requires_grad
    assert "fit_loss" not in _model(encoding_fit_weight=0.0).train()(torch.randn(4, 1, 12, 20), torch.randn(4, 30))
    decayed = {id(p) for p in param_groups(model, 0.1)[0]["params"]}
    assert id(model.encoding_head.readout.mu) not in decayed and id(model.encoding_head.readout.sigma) not in decayed
    assert id(model.encoding_head.readout.features) in decayed


def _noise_free_correlation(model: DinaModel, data, prepared) -> float:
    """Mean over neurons of the correlation of the head's predictions with the simulator's noise-free responses
    to the test images."""
    test = np.unique(data.image_index[data.tier_mask("test")])
    with torch.no_grad():
        predicted = model.encoding_head(model.image_tower(prepared.images[test])[model.config.encoding_stage]).numpy()
    truth = data.ground_truth["mean_response"][test]
    return float(np.nanmean([np.corrcoef(predicted[:, i], truth[:, i])[0, 1] for i in range(truth.shape[1])]))


def test_the_encoding_level_alone_learns_the_noise_free_responses(small_data):
    run, _ = train_run(small_data, None, model_config=ENCODING_ONLY,
                       train_config=TrainConfig(epochs=12, batch_size=32, lr=1e-2, patience=100))
    assert run.model.levels == (ENCODING,)
    prepared = run.prepare(small_data)
    torch.manual_seed(1)
    untrained = DinaModel(run.model.config, run.model.n_neurons, run.model.image_shape).eval()
    trained, baseline = (_noise_free_correlation(m, small_data, prepared) for m in (run.model, untrained))
    assert trained > 0.08 and trained > baseline + 0.06, (trained, baseline)
    row = next(r for r in evaluate_run(run, small_data, per_level=False)
               if r["direction"] == "neural_to_image" and r["responses"] == "averaged")
    assert row["top1"] > 5 / row["n_candidates"], row  # chance is 1 / n_candidates


def test_the_encoding_level_is_explained_like_any_other():
    from dina_core.interpret.attribution import neuron_attribution, spatial_attribution

    model = _model()
    images, responses = torch.randn(2, 1, 12, 20), torch.randn(2, 30)
    for method in ("grad_cam", "integrated_gradients"):  # Grad-CAM weighs the stage the head reads
        assert spatial_attribution(model, images, responses, method, stage=ENCODING, n_steps=4).shape == (2, 12, 20)
    per_neuron = neuron_attribution(model, images, responses, stage=ENCODING, n_steps=4)
    assert per_neuron.shape == (2, 30) and np.abs(per_neuron).sum() > 0
