"""Attributions against the simulator's ground truth: receptive-field hits, and the neurons that matter.

The science check: on the trained fixture, attribution peaks fall inside the receptive fields of
the neurons the image drives most far more often than a random pixel does, and strong responders
weigh more in the similarity than the rest. The hit-rate arithmetic is first checked on synthetic maps.
"""

import numpy as np
import pytest
import torch

from dina_core.interpret.alignment import averaged_pairs
from dina_core.interpret.attribution import mean_neuron_importance, spatial_attribution
from dina_core.interpret.ground_truth import (attribution_rf_hit_rate, mismatched_image_rate, peak_locations,
                                              random_location_rate, top_neuron_rf_union)


def test_rf_hit_rate_on_synthetic_maps():
    rf = np.zeros((3, 10, 10), dtype=np.float32)
    rf[0, 0:4, 0:4] = 1.0
    rf[1, 6:10, 6:10] = 1.0
    rf[2, 0:2, 8:10] = 0.4  # below the RF threshold: never part of an RF
    truth = {"rf_masks": rf, "mean_response": np.array([[5.0, 1.0, 9.0], [1.0, 5.0, 9.0]], dtype=np.float32)}
    rows = np.array([0, 1])
    union = top_neuron_rf_union(rows, truth, top_neurons=2)
    assert union[0, :4, :4].all() and union[0].sum() == 16 and union[1, 6:, 6:].all() and union[1].sum() == 16
    maps = np.zeros((2, 10, 10))
    maps[0, 1, 1], maps[1, 8, 8] = -3.0, 2.0  # |value| peaks, each in its own image's RF
    np.testing.assert_array_equal(peak_locations(maps), [[1, 1], [8, 8]])
    assert attribution_rf_hit_rate(maps, rows, truth, top_neurons=2) == 1.0
    assert mismatched_image_rate(maps, rows, truth, top_neurons=2) == 0.0
    assert attribution_rf_hit_rate(maps, rows[::-1], truth, top_neurons=2) == 0.0
    assert attribution_rf_hit_rate(np.zeros((2, 10, 10)), rows, truth, top_neurons=2) == 0.0
    assert random_location_rate(rows, truth, top_neurons=2) == pytest.approx(0.16)


@pytest.fixture(scope="module")
def held_out_pairs(small_run, small_data):
    """Test (repeat-averaged) and validation pairs: 90 images the model never trained on."""
    prepared = small_run.prepare(small_data)
    tiers = [averaged_pairs(prepared, tier) for tier in ("test", "validation")]
    return tuple(torch.cat([t[k] for t in tiers]) for k in (0, 1)) + (np.concatenate([t[2] for t in tiers]),)


@pytest.mark.parametrize("method,kwargs", [("saliency", {}), ("integrated_gradients", {"n_steps": 8})])
def test_attribution_peaks_land_in_the_driven_neurons_rfs(small_run, small_data, held_out_pairs, method, kwargs):
    """Gradient-based peaks find the RFs of the most driven neurons well above chance.

    LayerGradCam is not held to this bar: it averages the gradient over space into one
    weight per channel, discarding the location-specific signal of DINA's per-location
    alignment, and how often its coarse peaks hit depends on the layer (about chance at
    stage1 and stage2 of the fixture).
    """
    images, responses, rows = held_out_pairs
    attributions = spatial_attribution(small_run.model, images, responses, method, **kwargs)
    truth = small_data.ground_truth
    hit = attribution_rf_hit_rate(attributions, rows, truth)
    chance = random_location_rate(rows, truth)
    mismatched = mismatched_image_rate(attributions, rows, truth)
    print(f"{method}: hit {hit:.2f}, random location {chance:.2f}, other images' RFs {mismatched:.2f}")
    assert hit > 1.5 * chance


def test_strong_responders_matter_more_to_the_similarity(small_run, small_data):
    images, responses, _ = averaged_pairs(small_run.prepare(small_data))
    importance = mean_neuron_importance(small_run.model, images, responses)
    assert importance.shape == (small_run.model.n_neurons,) and np.all(importance >= 0)
    strong = small_data.ground_truth["strong_responder"]
    assert importance[strong].mean() > 1.3 * importance[~strong].mean()
