"""Wrong resumes and overwrites of a run folder, and trainings that would save an untrained model.

A resume must continue the same training (data, model kind, configs) or be refused naming what differs; a
finished run, an interrupted one or a folder of other files is never trained over without the right flag;
an overwrite keeps the old model until the new one has trained; nothing untrained is saved as a run.

Outcome classes: *refused* (a DinaError naming the folder and what is wrong, nothing changed) and
*handled* (the right thing happens, e.g. a resume on another device name continues). Trainings are one or
two epochs of the linear model on the small simulated recording.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from dina_core.cli import main
from dina_core.errors import CheckpointError
from dina_core.runs.run import MODEL_FILE, STATE_FILE, SUMMARY_FILE
from dina_core.train.run import NothingTrainedError, train_run
from hostile import untouched
from run_folders import CLI_TINY, copy, tiny


def test_resume_of_a_finished_run_is_refused(small_data_file, finished_run, tmp_path, capsys):
    run = copy(finished_run, tmp_path)
    with untouched(tmp_path):
        assert main(["train", str(small_data_file), "--out", str(run), "--resume", *CLI_TINY]) == 2
    assert "already holds a finished run" in capsys.readouterr().err


def _other_data(data):
    return dataclasses.replace(data, responses=data.responses * 1.5)


@pytest.mark.parametrize("change, named", [
    (dict(data=_other_data), r"data \(fingerprint\)"),
    (dict(kind="dina"), r"model kind: 'linear' in the run folder, 'dina' now"),
    (dict(model_config={"embed_dim": 32}), r"model_config\.embed_dim: 128 in the run folder, 32 now"),
    (dict(train_config=tiny(epochs=3)), r"train_config\.epochs: 2 in the run folder, 3 now"),
    (dict(train_config=tiny(epochs=2, lr=1e-3)), r"train_config\.lr: 0\.002 in the run folder, 0\.001 now"),
], ids=["data", "kind", "model_config", "epochs", "lr"])
def test_resume_with_other_data_kind_or_config_is_refused(small_data, interrupted_run, tmp_path, change, named):
    run = copy(interrupted_run, tmp_path)
    args = {"kind": "linear", "model_config": None, "train_config": tiny(epochs=2), **change}
    data = args.pop("data", lambda d: d)(small_data)
    with untouched(run), pytest.raises(CheckpointError, match=rf"{run / STATE_FILE}: cannot resume.*{named}"):
        train_run(data, run, resume=True, **args)


def test_resume_continues_on_another_device_name_and_cleans_orphans(small_data, interrupted_run, tmp_path):
    """Handled: 'auto' vs 'cpu' is where it runs, not what it computes; a killed save's temp files go."""
    run = copy(interrupted_run, tmp_path)
    orphans = [run / ".model.pt.tmp-999999-deadbeef", run / ".state.pt.tmp-1-x1y2"]
    for orphan in orphans:
        orphan.write_bytes(b"half a checkpoint")
    _, result = train_run(small_data, run, kind="linear", train_config=tiny(epochs=2, device="auto"), resume=True)
    assert [h["epoch"] for h in result.history] == [0, 1] and not result.interrupted
    assert sorted(p.name for p in run.iterdir()) == [MODEL_FILE, SUMMARY_FILE]


def test_malformed_training_state_is_refused(small_data, interrupted_run, tmp_path):
    run = copy(interrupted_run, tmp_path)
    torch.save({"epoch": 0, "history": "not a list"}, run / STATE_FILE)
    with untouched(run), pytest.raises(CheckpointError, match=rf"{run / STATE_FILE}: not a DINA training state"):
        train_run(small_data, run, kind="linear", train_config=tiny(epochs=2), resume=True)


def test_resume_into_a_new_folder_starts_afresh_and_says_so(small_data_file, tmp_path, capsys):
    run = tmp_path / "new"
    assert main(["train", str(small_data_file), "--out", str(run), "--resume", *CLI_TINY]) == 0
    assert "no interrupted training to resume; starting a fresh one" in capsys.readouterr().err
    assert (run / MODEL_FILE).is_file()


def test_train_over_a_finished_run_without_overwrite_is_refused(small_data_file, finished_run, tmp_path, capsys):
    run = copy(finished_run, tmp_path)
    with untouched(tmp_path):  # model.pt byte-identical, nothing added
        assert main(["train", str(small_data_file), "--out", str(run), *CLI_TINY]) == 2
    err = capsys.readouterr().err
    assert f"{run}: already holds a finished run" in err and "--overwrite" in err


def test_train_over_an_interrupted_run_without_resume_is_refused(small_data_file, interrupted_run, tmp_path, capsys):
    run = copy(interrupted_run, tmp_path)
    with untouched(tmp_path):
        assert main(["train", str(small_data_file), "--out", str(run), *CLI_TINY]) == 2
    assert "holds an interrupted training" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_train_into_a_folder_of_other_files_is_refused(small_data_file, tmp_path, capsys, flags):
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("years of work")
    with untouched(tmp_path):
        assert main(["train", str(small_data_file), "--out", str(tmp_path / "thesis"), *flags, *CLI_TINY]) == 2
    assert "is not empty and holds no DINA run (chapter1.tex)" in capsys.readouterr().err


@pytest.mark.parametrize("make", [lambda p: p.write_text("notes"), lambda p: p.symlink_to(p.parent / "gone")],
                         ids=["file", "dangling-link"])
def test_an_out_that_is_a_file_or_a_dangling_link_is_refused(small_data_file, tmp_path, capsys, make):
    make(tmp_path / "out")
    with untouched(tmp_path):
        assert main(["train", str(small_data_file), "--out", str(tmp_path / "out"), *CLI_TINY]) == 2
    # the CLI's preflight says it before the run-folder rules would (runs.folder.contents words it alike)
    assert re.search(rf"{tmp_path / 'out'}: is (a|an existing) (file|link to a missing folder)", capsys.readouterr().err)


def test_overwrite_keeps_the_old_model_until_the_new_one_has_trained(small_data, finished_run, tmp_path):
    run = copy(finished_run, tmp_path)
    with untouched(run), pytest.raises(NothingTrainedError, match="no model was saved"):
        train_run(small_data, run, kind="linear", train_config=tiny(), overwrite=True, should_stop=lambda: True)


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_below_one_are_refused_and_nothing_is_written(small_data_file, tmp_path, capsys, epochs):
    with untouched(tmp_path):
        assert main(["train", str(small_data_file), "--out", str(tmp_path / "run"), "--kind", "linear",
                     "--epochs", epochs]) == 2
    assert "--epochs " + epochs + ": expected an integer >= 1" in capsys.readouterr().err


def test_a_training_stopped_before_its_first_epoch_saves_nothing(small_data, tmp_path):
    with untouched(tmp_path), pytest.raises(NothingTrainedError, match=rf"{tmp_path / 'run'}: stopped before"):
        train_run(small_data, tmp_path / "run", kind="linear", train_config=tiny(), should_stop=lambda: True)
