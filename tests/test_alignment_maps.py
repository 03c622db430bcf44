"""Alignment maps, alignability and region counts: exact identities, then the trained fixture.

Alignability contrasts a pair's per-channel/per-location contributions with those of the
same image and mismatched responses; the science check is that the trained model's true
pairs are alignable (positive contrast) where an untrained model's are not.
"""

import copy

import numpy as np
import pytest
import torch

from dina_core.evaluate.repeats import average_by_image
from dina_core.interpret.alignment import (alignment_maps, averaged_pairs, channel_alignability, pair_alignability,
                                           upsample_maps)
from dina_core.interpret.regions import count_regions, label_regions, mean_abs_map, mean_regions
from dina_core.model import DinaModel, ModelConfig, build_model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = ModelConfig(stage_channels=(4, 8), aligned_stages=("stage1", "stage2"), latent_channels=4, trunk_dim=16)
    model = DinaModel(config, n_neurons=10, image_shape=(12, 16)).eval()
    return model, torch.randn(5, 1, 12, 16), torch.randn(5, 10)


def _similarities(model, images, responses, stage):
    with torch.no_grad():
        return (model.encode_image(images, stage) @ model.encode_response(responses, stage).T).numpy()


@pytest.mark.parametrize("stage,coarse", [("stage1", (6, 8)), ("stage2", (3, 4))])
def test_alignment_maps_sum_to_the_similarity_at_any_resolution(tiny, stage, coarse):
    model, images, responses = tiny
    maps = alignment_maps(model, images, responses, stage, batch_size=2)
    assert maps.shape == (5, *coarse)
    similarity = np.diagonal(_similarities(model, images, responses, stage))
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), similarity, atol=1e-5)
    fine = upsample_maps(maps, (12, 16))
    assert fine.shape == (5, 12, 16)
    np.testing.assert_allclose(fine.sum(axis=(1, 2)), similarity, atol=1e-5)  # integer scale factors


def test_upsampling_a_constant_map_spreads_it_evenly():
    fine = upsample_maps(np.full((1, 3, 4), 2.0), (12, 16))
    np.testing.assert_allclose(fine, 2.0 * 12 / 192)


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_alignability_sums_to_the_true_pairs_margin_over_mismatched(tiny, stage):
    model, images, responses = tiny
    contrast = pair_alignability(model, images, responses, stage, batch_size=2)
    assert contrast.shape == (5, 4, *model.map_shapes[stage][1:])
    s = _similarities(model, images, responses, stage)
    margin = np.diagonal(s) - (s.sum(axis=1) - np.diagonal(s)) / 4
    np.testing.assert_allclose(contrast.sum(axis=(1, 2, 3)), margin, atol=1e-5)
    channels = channel_alignability(model, images, responses, stage)
    assert channels.shape == (4,)
    assert channels.sum() == pytest.approx(margin.mean(), abs=1e-5)


def test_tower_channel_alignability_decomposes_the_projection_exactly(tiny):
    model, images, responses = tiny
    no_bias = copy.deepcopy(model)
    with torch.no_grad():
        no_bias.image_proj["stage1"].bias.zero_()
    tower = pair_alignability(no_bias, images, responses, "stage1", space="tower")
    assert tower.shape == (5, 4, 6, 8)  # C_s = 4 image-tower channels at stage1
    latent = pair_alignability(no_bias, images, responses, "stage1")
    np.testing.assert_allclose(tower.sum(axis=1), latent.sum(axis=1), atol=1e-6)
    with pytest.raises(ValueError, match="space"):
        pair_alignability(model, images, responses, "stage1", space="pixels")


def test_averaged_pairs_average_the_repeats(small_run, small_data):
    prepared = small_run.prepare(small_data)
    images, responses, rows = averaged_pairs(prepared)
    trials = prepared.tier_trials["test"]
    shown = prepared.image_index[trials].cpu().numpy()
    assert len(rows) == len(np.unique(shown)) == len(images) == len(responses)
    expected = average_by_image(prepared.responses[trials].cpu().numpy(), shown)
    np.testing.assert_allclose(responses.cpu().numpy(), expected, atol=1e-6)
    assert torch.equal(images, prepared.images[torch.as_tensor(rows)])


def _margins(model, images, responses):
    """(N,) each pair's retrieval-weighted alignability summed over the aligned stages."""
    return sum(model.level_weights[stage] * pair_alignability(model, images, responses, stage).sum(axis=(1, 2, 3))
               for stage in model.config.aligned_stages)


def test_trained_pairs_are_alignable_and_untrained_are_not(small_run, small_data):
    prepared = small_run.prepare(small_data)
    tiers = [averaged_pairs(prepared, tier) for tier in ("test", "validation")]  # 90 held-out images
    images, responses = (torch.cat([t[k] for t in tiers]) for k in (0, 1))
    model = small_run.model
    torch.manual_seed(1)
    untrained = build_model("dina", small_run.model_config, model.n_neurons, model.image_shape).eval()
    trained, null = _margins(model, images, responses), _margins(untrained, images, responses)
    sem = trained.std(ddof=1) / np.sqrt(len(trained))
    print(f"alignability: trained {trained.mean():.4f} +- {sem:.4f} (positive in {np.mean(trained > 0):.0%}), "
          f"untrained {null.mean():.5f} +- {null.std(ddof=1) / np.sqrt(len(null)):.5f}")
    assert trained.mean() > 3 * sem  # true pairs beat mismatched ones beyond sampling noise
    assert trained.mean() - null.mean() > 3 * np.hypot(sem, null.std(ddof=1) / np.sqrt(len(null)))
    for stage in model.config.aligned_stages:
        channels = channel_alignability(model, images, responses, stage, space="tower")
        assert channels.shape == (model.map_shapes[stage][0],) and np.isfinite(channels).all()


# --- regions ---------------------------------------------------------------------------------

def _blob(shape, center, radius, height=1.0):
    rows, cols = np.indices(shape)
    return height * ((rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius ** 2)


def test_count_regions_finds_the_separate_blobs():
    field = _blob((30, 40), (8, 8), 3) + _blob((30, 40), (20, 30), 4, 0.8) + _blob((30, 40), (5, 33), 2, 0.3)
    assert count_regions(field, threshold=0.5) == 2  # the 0.3 blob is below half the peak
    assert count_regions(field, threshold=0.2) == 3
    field[15, 15] = 0.9  # a lone pixel is noise, not a region
    assert count_regions(field, threshold=0.5, min_size=4) == 2
    assert count_regions(field, threshold=0.5, min_size=1) == 3
    labels, n = label_regions(field, threshold=0.5)
    assert n == 2 and labels.max() == 2 and labels[8, 8] != labels[20, 30] and labels[0, 0] == 0


def test_regions_ignore_negative_values_and_empty_maps():
    assert count_regions(-_blob((10, 10), (5, 5), 2)) == 0
    assert count_regions(np.zeros((10, 10))) == 0
    assert count_regions(np.abs(-_blob((10, 10), (5, 5), 2))) == 1
    with pytest.raises(ValueError):
        count_regions(np.zeros((10, 10)), threshold=0.0)


def test_mean_regions_and_mean_abs_map_over_a_stack():
    stack = np.stack([_blob((20, 20), (5, 5), 2), _blob((20, 20), (5, 5), 2) + _blob((20, 20), (15, 15), 2)])
    assert mean_regions(stack) == 1.5
    signed = stack * np.array([1.0, -1.0])[:, None, None]
    mean_abs = mean_abs_map(signed)
    assert mean_abs.shape == (20, 20) and mean_abs[5, 5] == 1.0 and mean_abs[15, 15] == 0.5
    assert count_regions(mean_abs) == 2
