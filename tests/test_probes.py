"""Visual-structure probes: each manipulation's defining property, and coarse structure on a trained run."""

import numpy as np
import pytest

from dina_core.evaluate.model_eval import evaluate_run
from dina_core.interpret.probes import (MANIPULATIONS, SHAPE_SEGMENTS, high_pass, low_pass, patch_shuffle,
                                        phase_scramble, reduce_contrast, shape_only, structure_probe)


@pytest.fixture(scope="module")
def images(small_data):
    """Six test stimuli, 0..255 grey levels, (6, 36, 64) float32."""
    return small_data.images[:6]


@pytest.mark.parametrize("name", sorted(MANIPULATIONS))
def test_shape_dtype_and_identity(name, images):
    manip = MANIPULATIONS[name]
    for x in (images, images.astype(np.float64)):
        out = manip.apply(x, manip.strengths[-1], np.random.default_rng(0))
        assert out.shape == x.shape and out.dtype == x.dtype
        assert np.isfinite(out).all()
    assert manip.apply(images.astype(np.uint8), manip.strengths[-1], np.random.default_rng(0)).dtype == np.float32
    again = manip.apply(images, manip.strengths[-1], np.random.default_rng(0))
    np.testing.assert_array_equal(again, manip.apply(images, manip.strengths[-1], np.random.default_rng(0)))
    if manip.identity is not None:
        same = manip.apply(images, manip.identity, np.random.default_rng(0))
        np.testing.assert_allclose(same, images, atol=1e-3)
    assert list(manip.strengths) == sorted(manip.strengths) and manip.description and manip.unit


def test_phase_scramble_keeps_amplitude_spectrum_and_changes_image(images):
    x = images.astype(np.float64)
    out = phase_scramble(x, 1.0, np.random.default_rng(1))
    amp_in, amp_out = np.abs(np.fft.fft2(x)), np.abs(np.fft.fft2(out))
    amp_in[:, 0, 0] = amp_out[:, 0, 0] = 0.0  # DC excluded (it is kept too: see the mean below)
    np.testing.assert_allclose(amp_out, amp_in, rtol=1e-9, atol=1e-6 * amp_in.max())
    np.testing.assert_allclose(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-9)
    assert np.abs(out - x).mean() > 0.2 * x.std()
    half = phase_scramble(x, 0.5, np.random.default_rng(1))
    assert np.abs(half - x).mean() < np.abs(out - x).mean()  # strength grows the change


@pytest.mark.parametrize("sigma", [0.5, 2.0, 8.0])
def test_low_and_high_pass_are_complementary(images, sigma):
    x = images.astype(np.float64)
    low, high = low_pass(x, sigma), high_pass(x, sigma)
    np.testing.assert_allclose(low + high - x.mean(axis=(1, 2), keepdims=True), x, atol=1e-9)
    assert low.std(axis=(1, 2)).mean() < x.std(axis=(1, 2)).mean()  # blur removes variance
    np.testing.assert_allclose(high.mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-3)


def test_patch_shuffle_keeps_histogram_and_moves_patches(images):
    out = patch_shuffle(images, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(out.reshape(len(out), -1)), np.sort(images.reshape(len(images), -1)))
    def moved(a: np.ndarray) -> float:
        """Share of the centred 6 x 10 grid of 6-px patches that differ from the original."""
        new, old = (x[:, :36, 2:62].reshape(len(x), 6, 6, 10, 6) for x in (a, images))
        return float((~np.isclose(new, old).all(axis=(2, 4))).mean())

    assert moved(out) > 0.9  # every patch moves (a rare one may hold the same pixels as another)
    assert 0.3 < moved(patch_shuffle(images, 0.5, np.random.default_rng(0))) < 0.6


def test_shape_only_flattens_texture_and_keeps_mean(images):
    out = shape_only(images.astype(np.float64), 1.0)
    assert all(len(np.unique(im)) <= 2 * SHAPE_SEGMENTS for im in out)  # piecewise constant
    np.testing.assert_allclose(out.mean(axis=(1, 2)), images.mean(axis=(1, 2)), rtol=1e-6)
    assert np.abs(np.diff(out, axis=2)).mean() < np.abs(np.diff(images, axis=2)).mean()  # less fine texture


def test_contrast_reduction(images):
    x = images.astype(np.float64)
    np.testing.assert_allclose(reduce_contrast(x, 0.75).std(axis=(1, 2)), 0.25 * x.std(axis=(1, 2)), rtol=1e-9)
    flat = reduce_contrast(x, 1.0)
    np.testing.assert_allclose(flat, np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape))


def test_probe_rows_and_identity_matches_unmanipulated(small_run, small_data):
    rows = structure_probe(small_run, small_data, "contrast", (0.0, 1.0))
    assert [r["strength"] for r in rows] == [0.0, 1.0]
    assert all(0.0 <= r["top1"] <= r["top5"] <= 1.0 for r in rows)
    ident = structure_probe(small_run, small_data, lambda x, s, rng: x, (0.0,))
    assert ident[0]["top1"] == rows[0]["top1"]
    with pytest.raises(ValueError):
        structure_probe(small_run, small_data, "no_such_manipulation")


def test_low_pass_keeps_more_accuracy_than_high_pass(small_run, small_data):
    """Decoding rests on coarse structure: at sigma = 2 px (the smallest simulated RF sd), the
    blurred candidates are matched better than their complementary fine detail. Scored on the
    120 single-trial queries (finer steps than 30 averaged ones) at top-5 and top-1.

    Only meaningful for a run that decodes: skipped (with the reason) when the shared run's
    averaged top-1 is not significantly above chance.
    """
    row = next(r for r in evaluate_run(small_run, small_data, per_level=False)
               if (r["direction"], r["responses"]) == ("neural_to_image", "averaged"))
    if row["ci95_top1"][0] <= 1.0 / row["n_candidates"]:
        pytest.skip(f"the shared run does not decode (averaged top-1 {row['top1']:.3f}, 95% CI "
                    f"{row['ci95_top1'][0]:.3f}-{row['ci95_top1'][1]:.3f}, chance {1 / row['n_candidates']:.3f})")
    low = structure_probe(small_run, small_data, "low_pass", (2.0,), responses="single_trial")[0]
    high = structure_probe(small_run, small_data, "high_pass", (2.0,), responses="single_trial")[0]
    assert low["top5"] > high["top5"]
    assert low["top1"] >= high["top1"]
