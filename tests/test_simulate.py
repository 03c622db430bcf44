"""The simulator: its contract with DinaData, and the science its ground truth promises."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import numpy as np
import pytest
from skimage.transform import resize

from dina_core.data.format import TIERS, write_dataset
from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_population, simulate_recording
from dina_core.simulate.filters import plane_waves
from dina_core.simulate.images import PHOTOS, _blurred, _sample, load_photo

CONFIG = SimConfig.small(seed=7)


@pytest.fixture(scope="module")
def data():
    return simulate_recording(CONFIG)


def _test_repeats(data) -> tuple[np.ndarray, np.ndarray]:
    """(n_test_images,) image rows and (n_test_images, n_repeats, n_neurons) responses."""
    mask = data.tier_mask("test")
    index, responses = data.image_index[mask], data.responses[mask]
    rows = np.unique(index)
    return rows, np.stack([responses[index == row] for row in rows])


def _column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) Pearson correlation of matching columns of two (m, n) arrays (nan if constant)."""
    a, b = a - a.mean(0), b - b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def test_bundled_photos_load_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    load_photo.cache_clear()
    for name, licence in PHOTOS.items():
        photo = load_photo(name)
        assert photo.ndim == 2 and photo.dtype == np.float32 and min(photo.shape) >= 256, name
        assert 0.0 <= photo.min() < photo.max() <= 255.0, name
        assert licence


def test_crops_are_skimage_antialiased_resize():
    photo, shape, (h, w), (top, left) = load_photo("camera"), (36, 64), (144, 256), (50, 100)
    scale = (h / shape[0], w / shape[1])
    ours = _sample(_blurred(photo, scale), np.array([[top, left]]), scale, shape)[0]
    reference = resize(photo[top:top + h, left:left + w], shape, anti_aliasing=True,
                       preserve_range=True)
    # The border differs only because we blur the whole photo, not the crop alone.
    np.testing.assert_allclose(ours[3:-3, 3:-3], reference[3:-3, 3:-3], atol=1e-3)


def test_same_seed_same_recording_other_seed_differs(data):
    again = simulate_recording(CONFIG)
    for name in ("images", "responses", "image_index", "tiers", "behavior"):
        np.testing.assert_array_equal(getattr(again, name), getattr(data, name), err_msg=name)
    for name, values in data.ground_truth.items():
        np.testing.assert_array_equal(again.ground_truth[name], values, err_msg=name)
    other = simulate_recording(replace(CONFIG, seed=8))
    assert not np.array_equal(other.images, data.images)
    assert not np.array_equal(other.responses, data.responses)
    assert not np.array_equal(other.ground_truth["rf_centers"], data.ground_truth["rf_centers"])


def test_matches_the_dina_data_contract(data):
    c = CONFIG
    n_images = c.n_train_images + c.n_validation_images + c.n_test_images
    n_trials = c.n_train_images + c.n_validation_images + c.n_test_images * c.n_test_repeats
    assert data.images.shape == (n_images, *c.image_shape) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 255.0
    assert data.responses.shape == (n_trials, c.n_neurons) and data.responses.dtype == np.float32
    assert data.responses.min() >= 0.0 and np.isfinite(data.responses).all()
    assert set(data.tiers) == set(TIERS)
    assert data.behavior.shape == (n_trials, 3)
    assert data.behavior_columns == ["pupil", "dpupil", "running"]
    assert len(data.image_source) == n_images
    assert all(s.startswith("skimage.data.") for s in data.image_source)
    assert data.neurons["positions_um"].shape == (c.n_neurons, 3) and set(data.neurons["area"]) == {"V1"}
    assert SimConfig.from_dict(data.attrs["simulator_config"]) == c
    assert f"seed {c.seed}" in data.attrs["source"]
    gt = data.ground_truth
    assert gt["rf_masks"].shape == (c.n_neurons, *c.image_shape)
    assert gt["mean_response"].shape == (n_images, c.n_neurons)
    assert gt["trial_gain"].shape == (n_trials,)
    assert set(gt["cell_type"]) == {"simple", "complex"}
    assert gt["strong_responder"].sum() == round(c.strong_fraction * c.n_neurons)


def test_round_trips_through_the_validating_reader(data, tmp_path):
    # Imported here so that a problem in the reader fails this test only.
    from dina_core.data.io import read_dataset, validate_dataset

    path = write_dataset(tmp_path / "sim.h5", data)
    validate_dataset(path)
    back = read_dataset(path)
    np.testing.assert_array_equal(back.responses, data.responses)
    for name, values in data.ground_truth.items():
        np.testing.assert_array_equal(back.ground_truth[name], values, err_msg=name)
    assert SimConfig.from_dict(back.attrs["simulator_config"]) == CONFIG


def test_test_images_are_held_out_and_repeated(data):
    test_rows = set(data.image_index[data.tier_mask("test")])
    seen_in_training = data.image_index[~data.tier_mask("test")]
    assert test_rows.isdisjoint(seen_in_training)
    assert len(np.unique(seen_in_training)) == len(seen_in_training)  # shown once each
    _, counts = np.unique(data.image_index[data.tier_mask("test")], return_counts=True)
    assert len(counts) == CONFIG.n_test_images and (counts == CONFIG.n_test_repeats).all()
    flat = data.images.reshape(data.n_images, -1)
    test, train = flat[sorted(test_rows)], flat[np.unique(seen_in_training)]
    nearest = np.abs(test[:, None, :] - train[None, :, :]).mean(-1).min(1)
    assert nearest.min() > 1.0  # no test image duplicates a training image
    position = np.flatnonzero(data.tier_mask("test"))
    assert position[0] < data.n_trials / 4 and position[-1] > 3 * data.n_trials / 4  # interleaved


def test_response_depends_only_on_pixels_inside_the_rf(data):
    population = simulate_population(CONFIG)
    images = data.images[:8].copy()
    base = population.expected_responses(images)
    # float32 BLAS sums in another order for another batch size
    np.testing.assert_allclose(base, data.ground_truth["mean_response"][:8], rtol=1e-3, atol=1e-6)
    rng = np.random.default_rng(0)
    for neuron in rng.choice(CONFIG.n_neurons, 10, replace=False):
        outside = population.rf_masks[neuron] < 1e-3
        scrambled = images.copy()
        scrambled[:, outside] = rng.uniform(0.0, 255.0, (len(images), outside.sum()))
        np.testing.assert_allclose(population.expected_responses(scrambled)[:, neuron],
                                   base[:, neuron], rtol=1e-6, atol=1e-7)
        preferred = images + 60.0 * population.filters[neuron].reshape(CONFIG.image_shape) \
            / np.abs(population.filters[neuron]).max()
        assert not np.allclose(population.expected_responses(preferred)[:, neuron], base[:, neuron])


def test_ground_truth_orientation_is_the_preferred_orientation():
    population = simulate_population(CONFIG)
    alone = population.interaction_group < 0  # group members also see the group's grating
    centers, theta = population.rf_centers[alone], population.orientation[alone]
    freq, phase = population.spatial_frequency[alone], population.phase[alone]

    def drive_to(orientation):
        gratings = 128.0 + 100.0 * plane_waves(centers, orientation, freq, phase, CONFIG.image_shape)
        return population.normalised_drive(gratings)[np.arange(len(theta)), np.flatnonzero(alone)]

    preferred, orthogonal = drive_to(theta), drive_to(theta + np.pi / 2)
    assert np.median(preferred) > 0.6  # high contrast saturates near 1 (c50 = 0.08)
    assert (preferred > orthogonal).mean() > 0.95


def test_strong_responders_are_stronger_and_more_reliable(data):
    strong = data.ground_truth["strong_responder"]
    mean = data.responses.mean(0)
    assert mean[strong].mean() > 2.0 * mean[~strong].mean()
    _, reps = _test_repeats(data)
    half = reps.shape[1] // 2
    split_half = _column_corr(reps[:, :half].mean(1), reps[:, half:].mean(1))
    assert np.nanmedian(split_half[strong]) > 0.45  # 30 images x 2+2 repeats: a noisy estimate
    assert np.nanmedian(split_half[strong]) > np.nanmedian(split_half[~strong]) + 0.3


def test_interaction_groups_have_higher_signal_correlation(data):
    group = data.ground_truth["interaction_group"]
    signal = np.corrcoef(data.ground_truth["mean_response"].T)
    i, j = np.triu_indices(len(group), 1)
    same = (group[i] == group[j]) & (group[i] >= 0)
    assert same.sum() >= CONFIG.n_interaction_groups
    assert np.nanmean(signal[i[same], j[same]]) > np.nanmean(signal[i, j]) + 0.2


def test_trial_averages_track_the_noise_free_response(data):
    rows, reps = _test_repeats(data)
    corr = _column_corr(reps.mean(1), data.ground_truth["mean_response"][rows])
    strong = data.ground_truth["strong_responder"]
    assert np.nanmedian(corr[strong]) > 0.85
    assert np.nanmedian(corr[~strong]) > 0.3


def test_shared_gain_follows_behaviour_and_rfs_follow_retinotopy(data):
    log_gain = np.log(data.ground_truth["trial_gain"])
    pupil, _, running = data.behavior.T
    assert np.corrcoef(log_gain, running)[0, 1] > 0.2
    assert np.corrcoef(log_gain, pupil)[0, 1] > 0.2
    centers, cortex = data.ground_truth["rf_centers"], data.neurons["positions_um"]
    assert np.corrcoef(centers[:, 1], cortex[:, 0])[0, 1] > 0.8  # azimuth -> cortical x
    assert np.corrcoef(centers[:, 0], cortex[:, 1])[0, 1] > 0.8  # elevation -> cortical y


@pytest.mark.slow
def test_demo_simulates_in_seconds():
    start = time.perf_counter()
    demo = simulate_recording(DEMO_CONFIG)
    seconds = time.perf_counter() - start
    print(f"DEMO_CONFIG simulated in {seconds:.1f} s "
          f"({demo.n_trials} trials x {demo.n_neurons} neurons)")
    assert demo.n_trials == 3750 and demo.n_neurons == 1000
    assert seconds < 15.0
