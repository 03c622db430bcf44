"""Normalisers (train tier only) and reliability estimates against naive references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_dataset_io import make_tiny_data

from dina_core.data.preprocess import ImageNormalizer, ResponseNormalizer, fit_normalizers
from dina_core.data.reliability import oracle_correlation, reliability_without_test
from dina_core.errors import DinaError


def random_recording(rng, n_images=15, n_neurons=9):
    """Random responses with 1-6 repeats per image; neuron 0 is constant."""
    image_index = np.repeat(np.arange(n_images), rng.integers(1, 7, n_images))
    rng.shuffle(image_index)
    responses = rng.gamma(1.0, 1.0, (image_index.size, n_neurons)).astype(np.float32)
    responses[:, 0] = 2.0
    return responses, image_index, rng.random(image_index.size) < 0.8


def naive_oracle(responses, image_index, mask):
    out = np.full(responses.shape[1], np.nan)
    trials = np.flatnonzero(mask)
    for n in range(responses.shape[1]):
        own, others = [], []
        for t in trials:
            rest = [u for u in trials if image_index[u] == image_index[t] and u != t]
            if rest:
                own.append(float(responses[t, n]))
                others.append(np.mean([float(responses[u, n]) for u in rest]))
        if len(own) > 1 and np.std(own) > 0 and np.std(others) > 0:
            out[n] = np.corrcoef(own, others)[0, 1]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_oracle_matches_naive_loop(seed):
    responses, image_index, mask = random_recording(np.random.default_rng(seed))
    fast = oracle_correlation(responses, image_index, mask)
    np.testing.assert_allclose(fast, naive_oracle(responses, image_index, mask), atol=1e-9)
    assert np.isnan(fast[0]) and np.isfinite(fast[1:]).all()


def test_not_computable_is_nan():
    responses = np.random.default_rng(0).random((5, 3))
    no_repeats = np.arange(5)
    assert np.isnan(oracle_correlation(responses, no_repeats, np.ones(5, bool))).all()


def test_known_signal_to_noise():
    """Neurons with more stimulus-driven variance are more reliable; pure noise is ~0."""
    rng = np.random.default_rng(0)
    n_images, repeats = 200, 10
    signal_sd = np.array([0.0, 0.0, 0.3, 0.6, 1.0, 2.0, 4.0])
    image_index = np.repeat(np.arange(n_images), repeats)
    signal = rng.normal(size=(n_images, signal_sd.size)) * signal_sd
    responses = signal[image_index] + rng.normal(size=(image_index.size, signal_sd.size))
    mask = np.ones(image_index.size, bool)
    oracle = oracle_correlation(responses, image_index, mask)
    assert np.all(np.diff(oracle[1:]) > 0)
    assert np.abs(oracle[:2]).max() < 0.1 and oracle[-1] > 0.95
    # theory: a trial against the mean of the k - 1 other repeats correlates s^2 / sqrt((s^2 + 1)(s^2 + 1/(k-1)))
    expected = signal_sd**2 / np.sqrt((signal_sd**2 + 1) * (signal_sd**2 + 1 / (repeats - 1)))
    np.testing.assert_allclose(oracle[2:], expected[2:], atol=0.1)


def test_reliability_without_test_ignores_test_trials():
    data = make_tiny_data()
    before = reliability_without_test(data)
    test = data.tier_mask("test")
    data.responses[test] = np.random.default_rng(5).normal(size=data.responses[test].shape)
    np.testing.assert_array_equal(reliability_without_test(data), before)
    expected = oracle_correlation(data.responses, data.image_index, ~test)
    np.testing.assert_array_equal(before, expected)


def test_reliability_without_test_explains_missing_repeats():
    data = make_tiny_data()
    keep = data.tier_mask("test") | np.isin(np.arange(data.n_trials), [0, 3])  # images 0, 1
    data.responses, data.image_index, data.tiers = (data.responses[keep],
                                                    data.image_index[keep], data.tiers[keep])
    with pytest.raises(DinaError, match="only test images repeat"):
        reliability_without_test(data)


def test_response_normalizer_z_scores_with_floor():
    rng = np.random.default_rng(0)
    train = rng.gamma(2.0, 3.0, (500, 6)).astype(np.float32)
    train[:, 5] = 0.0
    train[0, 5] = 0.1  # a nearly silent neuron with one small event: std 0.0045
    norm = ResponseNormalizer.fit(train)
    z = norm.transform(train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:, :5].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :5].std(0), 1, atol=1e-4)
    assert norm.std[5] == pytest.approx(0.01 * train.std(0).mean(), rel=1e-5)
    assert np.abs(z[:, 5]).max() < 5  # without the floor: 0.1 / 0.0045 = 22
    back = ResponseNormalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(back.mean, norm.mean)
    np.testing.assert_array_equal(back.std, norm.std)
    with pytest.raises(ValueError):
        norm.transform(train[:, :3])


def test_image_normalizer():
    images = np.random.default_rng(1).uniform(0, 255, (8, 6, 5)).astype(np.float32)
    norm = ImageNormalizer.fit(images)
    x = norm.transform(images)
    assert x.dtype == np.float32 and abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-5
    assert ImageNormalizer.from_dict(json.loads(json.dumps(norm.to_dict()))) == norm
    assert ImageNormalizer.fit(np.full((2, 3, 3), 128.0)).std > 0


def test_fit_normalizers_uses_train_only():
    data = make_tiny_data()
    resp, img = fit_normalizers(data)
    not_train = ~data.tier_mask("train")
    data.responses[not_train] += 1000.0
    data.images[np.unique(data.image_index[not_train])] = -1e4
    resp2, img2 = fit_normalizers(data)
    np.testing.assert_array_equal(resp.mean, resp2.mean)
    assert img == img2
    train_images = data.images[:6]  # images 0-5 are the train images, each counted once
    assert img.mean == pytest.approx(float(train_images.astype(np.float64).mean()))


def test_fit_normalizers_on_selected_neurons_floors_against_those_only():
    data = make_tiny_data()
    data.responses[:, 0] = 1.0  # a silent neuron: its std is floored
    data.responses[:, 1] *= 100.0  # a loud one raises the mean std of all 7
    selected = np.array([0, 2, 3])
    resp, img = fit_normalizers(data, selected)
    full, full_img = fit_normalizers(data)
    np.testing.assert_array_equal(resp.mean, full.mean[selected])
    assert img == full_img
    assert resp.std[0] < full.std[0]  # floored at 1 % of the selected neurons' mean std, not all neurons'
    train_std = data.responses[data.tier_mask("train")][:, selected].astype(np.float64).std(axis=0)
    assert resp.std[0] == pytest.approx(0.01 * train_std.mean(), rel=1e-5)
