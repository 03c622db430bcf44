"""Seed ensembles: the mean of the members' similarities, one model to evaluate, save and load."""

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.model import DinaModel, ModelConfig
from dina_core.model.inference import encode_images, encode_responses
from dina_core.runs.ensemble import EnsembleModel, first_member
from dina_core.runs.run import load_run


def _similarity(model, images, responses, level=None):
    """(n, n) similarities of every response with every image: a plain matrix product of the embeddings."""
    return (encode_responses(model, responses, level) @ encode_images(model, images, level).T).double()


@pytest.fixture(scope="module")
def pairs(small_run, small_data):
    prepared = small_run.prepare(small_data)
    trials = torch.as_tensor(prepared.tier_trials["test"][:40])
    return prepared.images[prepared.image_index[trials]], prepared.responses[trials]


def test_ensemble_similarity_is_the_mean_of_its_members_similarities(small_run, pairs):
    torch.manual_seed(1)
    other = DinaModel(ModelConfig.from_dict(small_run.model_config), small_run.model.n_neurons,
                      small_run.model.image_shape).eval()
    members = [small_run.model, other]
    ensemble = EnsembleModel(members, [0, 1])
    images, responses = pairs
    for level in (None, *small_run.model.levels):
        naive = sum(_similarity(m, images, responses, level) for m in members) / len(members)
        torch.testing.assert_close(_similarity(ensemble, images, responses, level), naive, atol=1e-5, rtol=0)


def test_ensemble_of_identical_members_scores_like_one_member(small_run, small_data):
    twin = EnsembleModel([small_run.model, copy.deepcopy(small_run.model)], [0, 0])
    single = evaluate_run(small_run, small_data)
    doubled = evaluate_run(replace(small_run, model=twin), small_data)
    assert [(r["level"], r["direction"], r["responses"], r["top1"], r["top5"]) for r in doubled] == \
        [(r["level"], r["direction"], r["responses"], r["top1"], r["top5"]) for r in single]
    twin.train()  # e.g. an eval_state restoring a fresh module's flag: members (one is shared) stay in eval mode
    assert not twin.training and not small_run.model.training


def test_members_must_agree():
    a = DinaModel(ModelConfig(), 20, (36, 64))
    b = DinaModel(ModelConfig(aligned_stages=("stage3",), stage_weights=(1.0,)), 20, (36, 64))
    with pytest.raises(ValueError, match="must share"):
        EnsembleModel([a, b], [0, 1])


def test_cli_trains_saves_loads_and_evaluates_an_ensemble(small_data, pairs, tmp_path):
    data_file, run_dir = tmp_path / "small.h5", tmp_path / "ens"
    write_dataset(data_file, small_data)
    assert main(["train", str(data_file), "--out", str(run_dir), "--epochs", "1", "--batch-size", "64",
                 "--ensemble", "2", "--seed", "3", "--device", "cpu"]) == 0
    assert not (run_dir / "members").exists()  # the members live in model.pt
    run = load_run(run_dir)
    assert isinstance(run.model, EnsembleModel) and run.model.seeds == [3, 4]
    a, b = run.model.members
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # seeds differ
    images, responses = pairs
    naive = (_similarity(a, images, responses) + _similarity(b, images, responses)) / 2
    torch.testing.assert_close(_similarity(run.model, images, responses), naive, atol=1e-5, rtol=0)
    summary = json.loads((run_dir / "run.json").read_text())
    assert summary["seeds"] == [3, 4] and summary["metadata"]["ensemble"]["k"] == 2
    assert 0.0 <= summary["metadata"]["best_val_top1"] <= 1.0
    assert first_member(run).model is a
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run_dir), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert all(np.isfinite(r["top1"]) for r in rows) and {r["level"] for r in rows} >= {"combined"}


def test_benchmark_scores_an_ensemble_as_its_dina_row(small_data, tmp_path):
    from dina_core.benchmark import run_benchmark
    from dina_core.runs.config import TrainConfig

    metrics = run_benchmark(small_data, tmp_path, train_config=TrainConfig(epochs=1, batch_size=64),
                            models=("dina",), ensemble=2)
    run = load_run(tmp_path / "dina")
    assert isinstance(run.model, EnsembleModel) and metrics["dina_ensemble"] == 2
    expected = evaluate_run(run, small_data, per_level=False)
    rows = [r for r in metrics["rows"] if r["model"] == "dina"]
    assert [(r["direction"], r["responses"], r["top1"]) for r in rows] == \
        [(r["direction"], r["responses"], r["top1"]) for r in expected]


def test_an_interrupted_ensemble_resumes_to_the_uninterrupted_one(small_data, pairs, tmp_path):
    from dina_core.runs.config import TrainConfig
    from dina_core.train.ensemble import train_ensemble
    from dina_core.train.run import NothingTrainedError

    config = TrainConfig(epochs=2, batch_size=64, device="cpu")
    whole, _ = train_ensemble(small_data, tmp_path / "whole", 2, train_config=config)
    steps = []

    def stop_in_the_second_member(member, info):
        steps.append(member)

    # stopped in the second member's first epoch: that member has nothing to save, the first stays for the resume
    with pytest.raises(NothingTrainedError):
        train_ensemble(small_data, tmp_path / "cut", 2, train_config=config,
                       on_step=stop_in_the_second_member, should_stop=lambda: steps.count(1) >= 3)
    assert not (tmp_path / "cut" / "model.pt").exists()
    train_ensemble(small_data, tmp_path / "cut", 2, train_config=config, resume=True)
    images, responses = pairs
    torch.testing.assert_close(_similarity(load_run(tmp_path / "cut").model, images, responses),
                               _similarity(whole.model, images, responses), atol=0, rtol=0)
    assert isinstance(load_run(tmp_path / "cut").model, EnsembleModel)
