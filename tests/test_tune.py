"""`dina tune`: tries several configs, chooses on validation only, respects its budget, writes a usable config."""

import json
from dataclasses import replace

import numpy as np
import pytest

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.errors import DinaError
from dina_core.runs.config import TrainConfig
from dina_core.tune import Knob, parse_budget, proposals, trials_in_budget, tune

# Two knobs, one option each: three trials of one quick epoch on the small recording.
SPACE = (Knob("neuron_dropout", "test", ({"model": {"neuron_dropout": 0.2}},)),
         Knob("weight_decay", "test", ({"train": {"weight_decay": 0.01}},)))
QUICK = TrainConfig(epochs=2, batch_size=64, lr=3e-3, patience=100)


def _poisoned(data):
    """The same recording with its test tier destroyed: noise responses (finite: NaN is refused on
    reading) and noise images."""
    test = data.tiers == "test"
    rng = np.random.default_rng(0)
    responses = data.responses.copy()
    responses[test] = rng.normal(0, 1e3, responses[test].shape).astype(responses.dtype)
    images = data.images.copy()
    test_images = np.unique(data.image_index[test])
    images[test_images] = rng.uniform(0, 255, images[test_images].shape)
    return replace(data, responses=responses, images=images)


def _choices(summary):
    return [(t["change"], t["val_top1_single_trial"], t["val_top1_averaged"], t["epochs"], t["adopted"])
            for t in summary["trials"]], summary["chosen"], summary["best_config"]


@pytest.fixture(scope="module")
def tuned(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tune")
    return out, tune(small_data, out, budget_s=600, train_config=QUICK, space=SPACE)


def test_tune_tries_every_option_and_writes_its_files(tuned):
    out, summary = tuned
    assert [t["change"] for t in summary["trials"]] == ["", "neuron_dropout=0.2", "weight_decay=0.01"]
    assert summary["stopped"] == "search complete"
    best = max(summary["trials"], key=lambda t: t["val_top1_single_trial"])
    assert summary["trials"][summary["chosen"]]["val_top1_single_trial"] == best["val_top1_single_trial"]
    assert json.loads((out / "tune.json").read_text())["chosen"] == summary["chosen"]
    assert "| 0 | starting config |" in (out / "tune.md").read_text()
    assert (out / "best_run" / "model.pt").is_file()


def test_the_choice_never_looks_at_the_test_tier(small_data, tuned, tmp_path):
    poisoned = tune(_poisoned(small_data), tmp_path, budget_s=600, train_config=QUICK, space=SPACE)
    assert _choices(poisoned) == _choices(tuned[1])


def test_best_config_is_accepted_by_dina_train(small_data, tuned, tmp_path):
    out, summary = tuned
    data = tmp_path / "small.h5"
    write_dataset(data, small_data)
    assert main(["train", str(data), "--config", str(out / "best_config.json"), "--out", str(tmp_path / "run"),
                 "--epochs", "1"]) == 0
    saved = json.loads((tmp_path / "run" / "run.json").read_text())["model_config"]
    chosen = json.loads((out / "best_config.json").read_text())["model"]
    saved.pop("retrieval_weights")  # each training chooses its levels' retrieval weights on validation itself
    assert chosen.pop("retrieval_weights") == [] and saved == chosen


def test_no_trial_is_launched_that_would_overrun_the_budget(small_data, tmp_path):
    summary = tune(small_data, tmp_path, budget_s=1e-3, train_config=QUICK, space=SPACE)
    assert len(summary["trials"]) == 1 and summary["stopped"].startswith("budget")  # the start always runs


def test_the_trials_estimated_to_fit_follow_the_launch_rule():
    assert trials_in_budget([], 0.0, 60.0) is None  # the first trial always runs, of unknown length
    assert trials_in_budget([10.0, 20.0], 30.0, 60.0) == 4  # two more of the mean 15 s fit in the 30 s left
    assert trials_in_budget([10.0, 20.0], 50.0, 60.0) == 2  # the next would overrun: none more
    assert trials_in_budget([10.0], 90.0, 60.0) == 1


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("1.5h", 5400), ("600", 600)])
def test_budgets_parse(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "-5m", "0", "10 minutes"])
def test_bad_budgets_are_clear_errors(text):
    with pytest.raises(DinaError, match="--budget"):
        parse_budget(text)


def test_cli_tune_within_a_tiny_budget_and_its_clear_errors(small_data, tmp_path, capsys):
    data = tmp_path / "small.h5"
    write_dataset(data, small_data)
    assert main(["tune", str(data), "--budget", "0.01s", "--out", str(tmp_path / "t"), "--epochs", "1"]) == 0
    assert len(json.loads((tmp_path / "t" / "tune.json").read_text())["trials"]) == 1
    lines = capsys.readouterr().out.splitlines()  # not a terminal: plain progress lines
    assert lines[0].startswith(f"trial 0 (1 of at most {len(proposals())}): starting config")
    assert any(line.startswith("trial 0 (maps): epoch 1, step ") for line in lines)
    assert "best_config.json" in lines[-1]
    assert main(["tune", str(data), "--budget", "fast", "--out", str(tmp_path / "u")]) == 2
    assert "--budget" in capsys.readouterr().err and not (tmp_path / "u").exists()
