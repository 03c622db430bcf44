"""Model validation against ground truth, and its plumbing on a torchvision ResNet-18 with random weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dina_core.errors import DinaError
from dina_core.model_validation import parse_spec, validate_models
from dina_core.model_validation.alignment import fit_alignment, load_level, paired_difference, save_level
from dina_core.model_validation.features import FeatureCache, reduce_channels
from dina_core.model_validation.networks import open_network
from dina_core.model_validation.views import alignment_map, load_result
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing, prepare
from dina_core.simulate import SimConfig, simulate_recording

sys.path.insert(0, str(Path(__file__).parent))  # truth_networks, for python:truth_networks:FACTORY

RESNET = parse_spec("torchvision:resnet18")


@pytest.fixture(scope="module")
def small():
    return simulate_recording(SimConfig.small())


@pytest.fixture(scope="module")
def resnet_validation(small, tmp_path_factory):
    out, cache = tmp_path_factory.mktemp("validation"), tmp_path_factory.mktemp("cache")
    result = validate_models(small, [RESNET], out, layers="layer1,layer2", grid=(9, 16),
                             train_config=TrainConfig(epochs=2), cache_dir=cache)
    return out, cache, result


@pytest.mark.slow
def test_the_simulators_own_filters_align_best_at_their_own_layer(tmp_path):
    """Section 3's truth: the filter bank's first layer beats its shuffled twin and its own deeper layer by more than
    the paired CI, and a network of luminance, which the simulated neurons are blind to, peaks far lower."""
    data = simulate_recording(SimConfig.small(n_neurons=300, n_train_images=1200, n_validation_images=100,
                                              n_test_images=60, n_test_repeats=5))
    bank = parse_spec("python:truth_networks:filter_bank_network")
    luminance = parse_spec("python:truth_networks:luminance_network")
    result = validate_models(data, [bank, luminance], tmp_path, layers={bank: "v1,pooled", luminance: "local,coarse"},
                             train_config=TrainConfig(epochs=30), joint=False)
    rows = {(r["model"], r["layer"]): r for r in result["rows"]}
    v1, pooled = rows[(bank.label, "v1")], rows[(bank.label, "pooled")]
    assert result["best"][bank.label] == "v1"
    assert v1["minus_control"]["ci95"][0] > 0, v1["minus_control"]  # the learned structure, not the architecture
    payloads = {r["layer"]: load_level(tmp_path / r["file"])[1] for r in (v1, pooled)}
    assert paired_difference(payloads["v1"], payloads["pooled"])["ci95"][0] > 0  # its best layer, by more than CI
    peak_luminance = max((r for r in result["rows"] if r["model"] == luminance.label), key=lambda r: r["single_trial"])
    assert peak_luminance["single_trial"] < v1["ci95_single_trial"][0]
    assert "no_control" in next(n for n in result["networks"] if n["model"] == luminance.label)
    assert v1["single_trial"] > 5 / 60  # far above chance (1/60)


def test_resnet18_stage_layers_are_its_blocks(small):
    network = open_network(RESNET, small)
    assert [layer.name for layer in network.layers if layer.stage] == ["relu", "layer1", "layer2", "layer3", "layer4"]
    shapes = {layer.name: layer.shape for layer in network.layers}
    assert shapes["layer1"] == (64, 28, 50) and shapes["layer4"] == (512, 4, 7)  # 36 x 64 fed at 112 x 199


def test_validation_writes_rows_references_and_a_profile(resnet_validation):
    out, _, result = resnet_validation
    on_disk = load_result(out)
    assert json.loads((out / "validation.json").read_text()) == on_disk
    for name in ("validation.md", "layer_profile.html"):
        assert (out / name).stat().st_size > 0
    assert [r["layer"] for r in result["rows"]] == ["layer1", "layer2", "joint"]
    assert [r["layer"] for r in result["control"]] == ["layer1", "layer2", "joint"]
    for row in result["rows"] + result["control"] + [result["pixel"]]:
        assert {"model", "layer", "single_trial", "averaged", "fraction_of_ceiling"} <= row.keys()
        assert 0 <= row["single_trial"] <= 1 and row["ci95_single_trial"][0] <= row["single_trial"]
        assert row["fraction_of_ceiling"] == pytest.approx(row["single_trial"] / result["ceiling"]["single_trial"])
    assert "random weights" in result["rows"][0]["model"] and "random weights" in (out / "validation.md").read_text()
    assert result["grid"] == [9, 16] and result["best"][RESNET.label] in ("layer1", "layer2")


def test_the_default_grid_is_the_networks_coarsest_stage(small):
    from dina_core.model_validation.flow import Progress, _open_all
    for layers in ("layer1", "relu,layer2"):
        _, grid = _open_all([RESNET], small, layers, None, None, None, Progress())
        assert grid == (4, 7)  # layer4 at 112 x 199 input, whichever layers are chosen


def test_the_cache_serves_other_stage_layers_of_the_same_network(small, resnet_validation, tmp_path):
    _, cache, _ = resnet_validation
    again = validate_models(small, [RESNET], tmp_path, layers="relu,layer1", grid=(9, 16), joint=False,
                            train_config=TrainConfig(epochs=1), cache_dir=cache)
    assert again["networks"][0]["cache_hits"] == ["relu", "layer1"]  # relu: a stage computed beside layer1, layer2
    assert again["networks"][1]["cache_hits"] == ["relu", "layer1"]  # and the control's


def test_a_damaged_cache_file_is_recomputed_not_trusted(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.save("key", {"layer1": np.ones((3, 2, 1, 1), np.float32)}, {})
    file = next(tmp_path.glob("key/*.npy"))
    assert cache.load("key", "layer1", (3, 2, 1, 1)) is not None
    assert cache.load("key", "layer1", (4, 2, 1, 1)) is None  # another recording's shape
    np.save(file, np.full((3, 2, 1, 1), 7, np.float32))  # right shape, other values: not the bytes written
    assert cache.load("key", "layer1", (3, 2, 1, 1)) is None
    file.write_bytes(b"not numpy")
    assert cache.load("key", "layer1", (3, 2, 1, 1)) is None


def test_the_alignment_map_sums_to_the_pairs_similarity(small, resnet_validation):
    out, _, result = resnet_validation
    row = result["rows"][0]
    model, payload = load_level(out / row["file"])
    image = int(payload["test_images"][0])
    values = alignment_map(result, out, row, small, image)
    assert values.shape == (9, 16)
    pre = Preprocessing.from_dict(result["preprocessing"])
    trials = np.flatnonzero((small.image_index == image) & small.tier_mask("test"))
    response = torch.from_numpy(pre.responses(small.responses[trials]).mean(axis=0, keepdims=True))
    with torch.no_grad():
        similarity = model.encode_image(payload["test_features"][:1]) @ model.encode_response(response).T
    assert values.sum() == pytest.approx(float(similarity), abs=1e-5)
    with pytest.raises(DinaError, match="not a test image"):
        alignment_map(result, out, row, small, 0)


def test_a_saved_level_round_trips(small, tmp_path):
    pre = Preprocessing.fit(small)
    base = prepare(small, pre)
    maps = {"layer": np.random.default_rng(0).normal(size=(small.n_images, 4, 3, 5)).astype(np.float32)}
    level = fit_alignment(base, maps, TrainConfig(epochs=1))
    save_level(tmp_path / "level.pt", level, base)
    model, payload = load_level(tmp_path / "level.pt")
    responses = base.responses[:7]
    with torch.no_grad():
        assert torch.equal(model.encode_response(responses), level.model.encode_response(responses))
        assert torch.equal(model.encode_image(payload["test_features"]),
                           level.model.encode_image(level.features[payload["test_images"]]))


def test_channels_are_reduced_on_train_images_only():
    rng = np.random.default_rng(0)
    pooled = rng.normal(size=(50, 12, 2, 3)).astype(np.float32)
    train = np.arange(40)
    reduced = reduce_channels(pooled, train, 4)
    changed = pooled.copy()
    changed[40:] *= 100  # test images do not move the fitted reduction
    again = reduce_channels(changed, train, 4)
    assert reduced.shape == (50, 4, 2, 3)
    np.testing.assert_allclose(reduced[:40], again[:40], rtol=1e-5)
    flat = reduced[:40].transpose(0, 2, 3, 1).reshape(-1, 4)
    assert flat.var(axis=0).mean() == pytest.approx(1.0, rel=1e-3)
    assert np.all(np.diff(flat.var(axis=0)) <= 1e-6)  # components in order of variance


def test_a_dina_runs_own_tower_is_fed_as_it_was_trained(small):
    """``dina:RUN``: the shipped demo run's image tower, validated on another recording; its levels are the stages."""
    from dina_core.runs.run import load_run
    network = open_network(parse_spec("dina:assets/demo_run"), small)
    run = load_run("assets/demo_run")
    assert [layer.name for layer in network.layers if layer.stage] == list(run.model.config.aligned_stages)
    fed = network.input.batch(small.images[:3])
    torch.testing.assert_close(fed, torch.from_numpy(run.preprocessing.images(small.images[:3])), rtol=1e-5, atol=1e-5)


def test_the_python_api_validates_a_network(small, tmp_path):
    import dina_core
    result = dina_core.validate_model(small, [("torchvision:resnet18", None)], tmp_path, layers="layer1",
                                      settings={"epochs": 1}, joint=False, input_size="native")
    assert [r["layer"] for r in result["rows"]] == ["layer1"] and (tmp_path / "validation.md").exists()
    with pytest.raises(DinaError, match="settings"):
        dina_core.validate_model(small, "torchvision:resnet18", tmp_path, settings={"epoch": 1})
