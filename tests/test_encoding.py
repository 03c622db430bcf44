"""The encoding-model baseline: it learns the simulator's noise-free responses, identifies images, and its
likelihood ranking, FEVE and readout match references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

from dina_core.config import ConfigError
from dina_core.evaluate.encoding import fit_encoding
from dina_core.evaluate.encoding_data import prepare_encoding
from dina_core.evaluate.encoding_predict import image_rates, trial_gains
from dina_core.evaluate.encoding_scores import (evaluate_encoding, fev, likelihood_image_rows, response_rows,
                                                tier_embeddings)
from dina_core.evaluate.retrieval import target_ranks
from dina_core.model.encoding import EncodingConfig, EncodingModel, GaussianReadout

# A few seconds on the small recording (340 training trials): 10 epochs of 10 steps.
TINY = EncodingConfig(epochs=10, batch_size=32, lr=1e-2, patience=10)


@pytest.fixture(scope="module")
def fitted(small_data):
    return fit_encoding(small_data, TINY, seed=0, device="cpu")


def _noise_free_correlation(model, data, prepared) -> float:
    """Mean over neurons of the correlation between predicted and noise-free responses to the test images."""
    test = np.unique(data.image_index[data.tier_mask("test")])
    predicted = image_rates(model, prepared.images[test]).numpy()
    truth = data.ground_truth["mean_response"][test]
    return float(np.nanmean([np.corrcoef(predicted[:, i], truth[:, i])[0, 1] for i in range(truth.shape[1])]))


def test_fitted_model_predicts_the_noise_free_responses(fitted, small_data):
    trained = _noise_free_correlation(fitted.model, small_data, fitted.data)
    torch.manual_seed(0)
    untrained = EncodingModel(TINY, small_data.n_neurons, fitted.data.behavior.shape[1]).eval()
    untrained.init_rates(fitted.data.responses.mean(0))
    baseline = _noise_free_correlation(untrained, small_data, fitted.data)
    assert trained > 0.2 and trained > baseline + 0.15, (trained, baseline)
    assert fitted.history[fitted.best_epoch]["val_correlation"] == fitted.best_val_correlation > 0.05


def test_identification_beats_chance_by_a_wide_margin(fitted):
    result = evaluate_encoding(fitted, seed=0)
    chance = 1 / result["rows"][0]["n_candidates"]
    assert result["scores"]["chosen"] in ("correlation", "log_likelihood")
    assert result["rows"] == result["scores"][result["scores"]["chosen"]]
    rows = {(r["direction"], r["responses"]): r for r in result["rows"]}
    assert rows["neural_to_image", "averaged"]["top1"] > 5 * chance
    assert rows["neural_to_image", "single_trial"]["ci95_top1"][0] > 2 * chance
    metrics = result["metrics"]
    assert 0.1 < metrics["correlation_to_average"] < 1 and 0.05 < metrics["single_trial_correlation"] < 1
    assert metrics["correlation_to_average"] > metrics["single_trial_correlation"]  # averaging removes noise


def test_log_likelihood_rows_equal_scipy_poisson():
    rng = np.random.default_rng(0)
    rates = rng.uniform(0.2, 3.0, (6, 5))
    gains = rng.uniform(0.5, 2.0, (8, 5))
    responses = rng.poisson(2.0, (8, 5)).astype(np.float64)
    scores = (response_rows(torch.tensor(responses), torch.tensor(gains))
              @ likelihood_image_rows(torch.tensor(rates)).T).numpy()
    for t in range(8):
        for j in range(6):
            expected = scipy.stats.poisson.logpmf(responses[t], gains[t] * rates[j]).sum()
            assert scores[t, j] == pytest.approx(expected, rel=1e-5, abs=1e-4)
    # the rule's score: the log posterior over the candidates (uniform prior), the likelihood normalised per response
    posterior = (response_rows(torch.tensor(responses), torch.tensor(gains), torch.tensor(rates))
                 @ likelihood_image_rows(torch.tensor(rates)).T).numpy()
    np.testing.assert_allclose(posterior, scores - scipy.special.logsumexp(scores, axis=1, keepdims=True), atol=1e-4)


def test_log_likelihood_ranks_agree_with_a_naive_loop(fitted):
    """Single-trial neural -> image ranks of the fitted model against explicit per-neuron sums."""
    embeddings = tier_embeddings(fitted, "test", "log_likelihood")
    ranks = embeddings.ranks("neural_to_image", "single_trial")
    data = fitted.data
    trials = data.tier_trials["test"][:5]
    candidates = embeddings.candidates
    rates = image_rates(fitted.model, data.images[candidates]).double().numpy()
    gains = trial_gains(fitted.model, data.behavior[trials]).double().numpy()
    assert not np.allclose(gains, 1.0)  # the behaviour gain takes part
    for k, trial in enumerate(trials):
        r, g = data.responses[trial].double().numpy(), gains[k]
        loglik = [sum(r[i] * math.log(g[i] * lam[i]) - g[i] * lam[i] - math.lgamma(r[i] + 1) for i in range(len(r)))
                  for lam in rates]
        target = int(np.flatnonzero(candidates == int(data.image_index[trial]))[0])
        naive = sum(1 for j, v in enumerate(loglik) if j != target and v >= loglik[target] - 1e-3)
        assert ranks[k] == naive


def test_feve_of_a_hand_computed_example():
    """Two images, two repeats, one neuron: total variance 20/3 (ddof 1), noise variance 2 (each image's)."""
    responses, image_index = np.array([[1.0], [3.0], [5.0], [7.0]]), np.array([0, 0, 1, 1])
    explainable, explained = fev(responses, np.array([[2.0], [2.0], [6.0], [6.0]]), image_index)
    assert explainable[0] == pytest.approx((20 / 3 - 2) / (20 / 3))
    assert explained[0] == pytest.approx(1 - (1 - 2) / (20 / 3 - 2))  # MSE 1 below the noise: above 1
    _, constant = fev(responses, np.full((4, 1), 4.0), image_index)
    assert constant[0] == pytest.approx(1 - (5 - 2) / (20 / 3 - 2))


def test_feve_recovers_the_known_fraction_on_synthetic_repeats():
    """Signal variance 1, noise variance 1: the truth explains everything; a prediction with error variance
    0.25 explains 1 - 0.25 / 1 of the explainable variance; images shown once are left out."""
    rng = np.random.default_rng(1)
    n_images, repeats, n = 400, 10, 3
    signal = rng.standard_normal((n_images, n))
    image_index = np.repeat(np.arange(n_images), repeats)
    responses = signal[image_index] + rng.standard_normal((len(image_index), n))
    explainable, explained = fev(responses, signal[image_index], image_index)
    np.testing.assert_allclose(explainable, 0.5, atol=0.05)
    np.testing.assert_allclose(explained, 1.0, atol=0.05)
    noisy = signal + 0.5 * rng.standard_normal(signal.shape)
    _, partly = fev(np.vstack([responses, [[9.0] * n]]), np.vstack([noisy[image_index], [[0.0] * n]]),
                    np.append(image_index, n_images))
    np.testing.assert_allclose(partly, 0.75, atol=0.06)


def test_readout_gradient_reaches_its_positions_and_jitter_only_while_training():
    torch.manual_seed(0)
    readout = GaussianReadout(7, 4, init_mu_range=0.3, init_sigma=0.1)
    maps = torch.randn(3, 4, 9, 16)
    readout.train()
    readout(maps).square().sum().backward()
    assert readout.mu.grad.abs().min() > 0 and torch.isfinite(readout.mu.grad).all()
    assert readout.sigma.grad.abs().sum() > 0  # the jitter's size is learned
    readout.eval()
    assert torch.equal(readout(maps), readout(maps))  # no jitter at evaluation
    # the read-out at mu equals bilinear interpolation of the maps at that position (align_corners)
    y, x = (readout.mu[0, 1].item() + 1) / 2 * 8, (readout.mu[0, 0].item() + 1) / 2 * 15
    y0, x0 = int(y), int(x)
    wy, wx = y - y0, x - x0
    values = ((1 - wy) * (1 - wx) * maps[:, :, y0, x0] + (1 - wy) * wx * maps[:, :, y0, x0 + 1]
              + wy * (1 - wx) * maps[:, :, y0 + 1, x0] + wy * wx * maps[:, :, y0 + 1, x0 + 1])
    expected = values @ readout.features[:, 0] + readout.bias[0]
    torch.testing.assert_close(readout(maps)[:, 0], expected.detach(), atol=1e-5, rtol=1e-5)


def test_prepared_responses_are_scaled_raw_and_non_negative(small_data):
    prepared = prepare_encoding(small_data)
    train = small_data.tier_mask("train")
    np.testing.assert_allclose(prepared.scale, small_data.responses[train].std(0), rtol=1e-4)
    np.testing.assert_allclose(prepared.responses.numpy(), np.clip(small_data.responses / prepared.scale, 0, None),
                               rtol=1e-6)
    assert prepared.behavior.shape == (small_data.n_trials, small_data.behavior.shape[1])
    np.testing.assert_allclose(prepared.behavior.numpy()[train].mean(0), 0, atol=1e-5)


def test_config_checks_and_round_trip():
    config = EncodingConfig(core_channels=8, identification="log_likelihood")
    assert EncodingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="identification"):
        EncodingConfig(identification="cosine")
    with pytest.raises(ConfigError, match="input_stride"):
        EncodingConfig(input_stride=0)


def test_likelihood_ranks_rank_the_true_rates_first():
    """Responses drawn from a candidate's rates are most likely under that candidate's rates."""
    rng = np.random.default_rng(2)
    rates = rng.gamma(2.0, 1.0, (20, 300))
    responses = rng.poisson(rates).astype(np.float64)
    rows = response_rows(torch.tensor(responses), torch.ones(20, 300))
    ranks = target_ranks(rows, likelihood_image_rows(torch.tensor(rates)), np.arange(20))
    assert (ranks == 0).all()
