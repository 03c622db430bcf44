"""The next animal: a new recording's model started from a trained one (frozen or fine-tuned image side), the
few-shot curve's budgets, and the command line of both with a joint run as the source."""

import json

import numpy as np
import pytest
import torch

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.errors import DinaError
from dina_core.fewshot import budget_recording, fewshot
from dina_core.model.image_side import image_side
from dina_core.runs.config import TrainConfig
from dina_core.runs.run import load_run
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals
from dina_core.train.run import train_run
from dina_core.train.transfer import train_from

QUICK = dict(epochs=2, batch_size=64, patience=100)


@pytest.fixture(scope="module")
def animals():
    return simulate_animals(3, config=SimConfig.small(n_neurons=60, n_train_images=160, n_validation_images=30,
                                                      n_test_images=12, n_test_repeats=3))


@pytest.fixture(scope="module")
def source_dir(animals, tmp_path_factory):
    out = tmp_path_factory.mktemp("source") / "run"
    train_run(animals[0], out, train_config=TrainConfig(**QUICK))
    return out


def _side(model) -> dict:
    return {f"{n}.{k}": v.clone() for n, m in image_side(model).items() for k, v in m.state_dict().items()}


def test_a_frozen_image_side_stays_the_source_and_the_neural_side_learns(animals, source_dir, tmp_path):
    source = load_run(source_dir).model
    run, result = train_from(animals[1], tmp_path / "frozen", source_dir, image_tower="frozen",
                             train_config=TrainConfig(**QUICK))
    after = _side(run.model)
    assert all(torch.equal(after[k], v) for k, v in _side(source).items())  # weights and batch-norm statistics
    assert run.metadata["transfer"]["image_tower"] == "frozen" and len(run.metadata["transfer"]["image_side_sha256"]) == 64
    assert run.model.n_neurons == animals[1].n_neurons and result.history
    assert load_run(tmp_path / "frozen").metadata["transfer"]["from"].endswith("run")


def test_fine_tuning_moves_the_image_side_and_auto_keeps_the_better(animals, source_dir, tmp_path):
    source = _side(load_run(source_dir).model)
    tuned, _ = train_from(animals[1], None, source_dir, image_tower="fine-tune", train_config=TrainConfig(**QUICK))
    assert any(not torch.equal(_side(tuned.model)[k], v) for k, v in source.items())
    auto, _ = train_from(animals[1], tmp_path / "auto", source_dir, train_config=TrainConfig(**QUICK))
    scores = auto.metadata["transfer"]["validation_top1"]
    assert set(scores) == {"frozen", "fine-tuned"}
    assert auto.metadata["best_val_top1"] == max(scores.values())
    assert auto.metadata["transfer"]["image_tower"] == max(scores, key=lambda m: (scores[m], m == "frozen"))
    with pytest.raises(DinaError, match="already holds"):
        train_from(animals[1], tmp_path / "auto", source_dir, train_config=TrainConfig(**QUICK))


def test_sources_that_cannot_start_the_new_model_are_refused(animals, source_dir, tmp_path):
    other = simulate_animals(2, config=SimConfig.small(image_shape=(24, 40)))[0]
    with pytest.raises(DinaError, match="--from .*image"):
        train_from(other, None, source_dir, image_tower="frozen", train_config=TrainConfig(**QUICK))
    linear = tmp_path / "linear"
    train_run(animals[0], linear, kind="linear", train_config=TrainConfig(**QUICK))
    with pytest.raises(DinaError, match="no image tower"):
        train_from(animals[1], None, linear, train_config=TrainConfig(**QUICK))
    with pytest.raises(DinaError, match="resume"):
        train_from(animals[1], tmp_path / "x", source_dir, resume=True)


def test_budgets_nest_and_keep_validation_and_test(animals):
    data = animals[2]
    config = TrainConfig()
    cut = {n: budget_recording(data, n, config) for n in (20, 50)}
    for n, subset in cut.items():
        assert (subset.tiers == "train").sum() == n
        for tier in ("validation", "test"):
            assert (subset.tiers == tier).sum() == (budget_recording(data, 2, config).tiers == tier).sum()
    key = [{(int(i), r.tobytes()) for i, r in zip(s.image_index[s.tiers == "train"], s.responses[s.tiers == "train"])}
           for s in (cut[20], cut[50])]
    assert key[0] <= key[1]  # the smaller budget's trials are inside the larger one's
    with pytest.raises(DinaError, match="out of range"):
        fewshot(data, "unused", [1, 10**6], None)


def test_cli_joint_source_then_fewshot_curve(animals, tmp_path, capsys):
    files = []
    for i, data in enumerate(animals):
        files.append(str(tmp_path / f"m{i + 1}.h5"))
        write_dataset(files[-1], data)
    quick = ["--epochs", "2", "--batch-size", "64", "--progress", "none"]
    assert main(["train", files[0], files[1], "--out", str(tmp_path / "joint"), *quick]) == 0
    assert main(["evaluate", str(tmp_path / "joint"), "--json", str(tmp_path / "eval.json")]) == 0
    scores = json.loads((tmp_path / "eval.json").read_text())
    assert set(scores["recordings"]) == {"m1", "m2"} and scores["mean"]
    assert main(["fewshot", files[2], "--from", str(tmp_path / "joint"), "--trials", "40,80", "--out",
                 str(tmp_path / "fs"), "--freeze-image-tower", *quick]) == 0
    curve = json.loads((tmp_path / "fs" / "fewshot.json").read_text())
    assert [r["trials"] for r in curve["rows"]] == [40, 80]
    for row in curve["rows"]:
        for arm in ("transfer", "scratch"):
            assert 0.0 <= row[arm]["single_trial"] <= 1.0 and np.isfinite(row[arm]["averaged"])
        assert row["transfer"]["image_tower"] == "frozen"
    assert (tmp_path / "fs" / "fewshot.html").stat().st_size > 1000 and "| 80 |" in capsys.readouterr().out
    assert main(["fewshot", files[2], "--from", str(tmp_path / "joint"), "--trials", "40", "--out",
                 str(tmp_path / "fs"), *quick]) == 2  # an earlier curve is not replaced unasked
    assert main(["train", files[2], "--out", str(tmp_path / "t"), "--freeze-image-tower", *quick]) == 2
