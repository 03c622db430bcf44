"""analyze(): the documented keys, strict JSON, progress reporting, and consistency between parts."""

import json

import numpy as np
import pytest
import torch

from dina_core.interpret.analyze import AnalyzeConfig, analyze
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.model import build_model
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing
from dina_core.runs.run import Run
from test_progress_output import assert_follows_progress_contract

LIGHT = dict(random_draws=4, interaction_neurons=4, attribution_steps=4)  # the same code paths, less work


@pytest.fixture(scope="module")
def summary(small_run, small_data):
    calls = []
    out = analyze(small_run, small_data, config=AnalyzeConfig(manipulations=("contrast", "patch_shuffle"), **LIGHT),
                  progress=lambda done, total, stage: calls.append((done, total, stage)))
    return out, calls


def test_keys_json_and_progress(summary):
    out, calls = summary
    assert {"n_neurons", "n_test_images", "responses", "chance_top1", "full_top1", "structure_probes", "probe_info",
            "importance_tier", "pruning", "smallest_subset_90", "unavailable", "interactions", "alignment_regions",
            "ground_truth"} <= set(out)
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert_follows_progress_contract(calls)
    assert all(isinstance(stage, str) and stage for _, _, stage in calls)


def test_parts_are_consistent(summary, small_run, small_data):
    out, _ = summary
    assert out["full_top1"] == MaskedEvaluator(small_run, small_data).top1(np.ones(out["n_neurons"]))
    assert set(out["structure_probes"]) == {"contrast", "patch_shuffle"}
    for rows in out["structure_probes"].values():
        assert rows[0]["strength"] == 0.0 and rows[0]["top1"] == out["full_top1"]  # strength 0 is the identity
        assert all(set(r) == {"strength", "top1", "top5"} for r in rows)
    pruning = out["pruning"]
    assert {"importance", "importance_bottom", "response_strength", "random"} <= set(pruning)
    assert "reliability" in out["unavailable"]  # simulated like Sensorium: no repeats outside test
    assert set(out["smallest_subset_90"]) == set(pruning)
    for name, curve in pruning.items():
        assert curve[-1]["k"] == out["n_neurons"] and curve[-1]["top1"] == pytest.approx(out["full_top1"])
    assert all("top1_std" in row for row in pruning["random"])
    inter = out["interactions"]
    m = len(inter["neurons"])
    for key in ("synergy", "signal_correlation", "noise_correlation"):
        assert np.asarray(inter[key], dtype=float).shape == (m, m)
    assert inter["reconstruction"][-1]["r2"] == pytest.approx(1.0)
    assert set(out["alignment_regions"]) == set(small_run.model.config.aligned_stages)
    assert all(v >= 0 for v in out["alignment_regions"].values())
    gt = out["ground_truth"]
    assert 0.0 <= gt["strong_responder_auc"] <= 1.0
    assert gt["strong_responder_auc"] == gt["strong_responder_auc_by_ranking"]["importance"]
    for key in ("attribution_rf_hit_rate", "rf_hit_rate_random", "rf_hit_rate_mismatched"):
        assert 0.0 <= gt[key] <= 1.0


def test_linear_run_skips_map_based_parts(small_data):
    torch.manual_seed(0)
    model = build_model("linear", {}, small_data.n_neurons, small_data.image_shape).eval()
    run = Run(model, "linear", {}, TrainConfig(), Preprocessing.fit(small_data))
    out = analyze(run, small_data, config=AnalyzeConfig(manipulations=(), **LIGHT))
    assert {"reconstruction", "alignment_regions"} <= set(out["unavailable"])
    assert "alignment_regions" not in out and "reconstruction" not in out["interactions"]
    json.dumps(out, allow_nan=False)
