"""Hostile and careless use of run folders: two writers, killed trainings, wrong resumes, overwrites,
untrained models, orphaned temporary files, broken run folders in the app, run names that reach out.

Outcome classes: *refused* (a DinaError naming the folder and what is wrong, nothing changed),
*handled* (the right thing happens, e.g. a stale lock does not block), *listed as broken* (the app
names the file and field and keeps working). A corrupt or missing model.pt is in test_train.py;
a model.pt that would run code and one of someone else's format are here. Trainings are one or two
epochs of the linear model on the small simulated recording.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.errors import CheckpointError, DinaError
from dina_core.runs.config import TrainConfig
from dina_core.runs.lock import LOCK_FILE, RunBusyError, run_lock
from dina_core.runs.names import check_run_name
from dina_core.runs.run import MODEL_FILE, STATE_FILE, SUMMARY_FILE, load_run
from dina_core.train.run import NothingTrainedError, train_run
from hostile import snapshot, untouched

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TINY = dict(epochs=1, batch_size=64, patience=100, device="cpu")
CLI_TINY = ["--kind", "linear", "--epochs", "1", "--batch-size", "64", "--device", "cpu"]


def tiny(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, "patience": 100, **changes})


@pytest.fixture(scope="module")
def data_file(small_data, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small.h5"
    write_dataset(path, small_data)
    return path


@pytest.fixture(scope="module")
def finished(small_data, tmp_path_factory) -> Path:
    """A finished one-epoch linear run (model.pt, run.json, no state.pt); copy it, never modify it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train_run(small_data, out, kind="linear", train_config=tiny())
    return out


@pytest.fixture(scope="module")
def interrupted(small_data, tmp_path_factory) -> Path:
    """A two-epoch linear training stopped in its second epoch (state.pt and model.pt); copy it."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    epoch = {"now": 0}
    _, result = train_run(small_data, out, kind="linear", train_config=tiny(epochs=2),
                          on_step=lambda info: epoch.update(now=info.epoch), should_stop=lambda: epoch["now"] >= 1)
    assert result.interrupted and (out / STATE_FILE).is_file() and len(result.history) == 1
    return out


def copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(run, tmp_path / name))


def holder_process(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s writer lock (as a training would) until it is killed."""
    code = ("import sys, time; from dina_core.runs.lock import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


# --- One writer per run folder ------------------------------------------------------------------

def test_a_second_writer_in_the_same_process_is_refused(small_data, finished, tmp_path):
    """Two app sessions are two threads of one process: a flock still refuses the second."""
    run = copy(finished, tmp_path)
    with run_lock(run):
        with untouched(run), pytest.raises(RunBusyError, match=rf"{run}.*pid {os.getpid()} on host"):
            train_run(small_data, run, kind="linear", train_config=tiny(), overwrite=True)
    assert not (run / LOCK_FILE).exists()  # released and removed


def test_resuming_a_training_that_is_still_running_is_refused(small_data, interrupted, tmp_path):
    """Its folder looks interrupted (state.pt, no final model), but its writer is alive."""
    run = copy(interrupted, tmp_path)
    with run_lock(run), untouched(run), pytest.raises(RunBusyError, match="another training is writing"):
        train_run(small_data, run, kind="linear", train_config=tiny(epochs=2), resume=True)


def test_a_second_dina_train_while_another_process_trains_is_refused(data_file, finished, tmp_path, capsys):
    run = copy(finished, tmp_path)
    proc = holder_process(run)
    try:
        with untouched(run):
            assert main(["train", str(data_file), "--out", str(run), "--overwrite", *CLI_TINY]) == 2
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err
    assert str(run) in err and f"pid {proc.pid}" in err and "another training" in err


def test_a_lock_left_by_a_killed_training_does_not_block(small_data, finished, tmp_path):
    """Handled: kill -9 leaves the lock file behind, but the kernel released the flock."""
    run = copy(finished, tmp_path)
    proc = holder_process(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert f'"pid": {proc.pid}' in (run / LOCK_FILE).read_text()  # the stale lock is there
    train_run(small_data, run, kind="linear", train_config=tiny(seed=1), overwrite=True)
    assert load_run(run).train_config.seed == 1 and not (run / LOCK_FILE).exists()


def test_two_app_sessions_training_into_one_name_never_clobber(small_data, tmp_path):
    """Both forms passed before either folder existed: the queued second job is refused, the first run kept."""
    from dina_app import jobs

    out = tmp_path / "runs" / "shared-name"
    first = jobs.start_training("test:a", "a", small_data, out, tiny(), kind="linear")
    second = jobs.start_training("test:b", "b", small_data, out, tiny(seed=5), kind="linear")
    assert first.wait(timeout=600) and first.status == "finished", first.error
    kept = snapshot(out)
    assert second.wait(timeout=600) and second.status == "failed"
    assert str(out) in second.error and "already holds a finished run" in second.error
    assert snapshot(out) == kept and load_run(out).train_config.seed == 0


# --- Resume and overwrite -------------------------------------------------------------------------

def test_resume_of_a_finished_run_is_refused(data_file, finished, tmp_path, capsys):
    run = copy(finished, tmp_path)
    with untouched(tmp_path):
        assert main(["train", str(data_file), "--out", str(run), "--resume", *CLI_TINY]) == 2
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
def test_resume_with_other_data_kind_or_config_is_refused(small_data, interrupted, tmp_path, change, named):
    run = copy(interrupted, tmp_path)
    args = {"kind": "linear", "model_config": None, "train_config": tiny(epochs=2), **change}
    data = args.pop("data", lambda d: d)(small_data)
    with untouched(run), pytest.raises(CheckpointError, match=rf"{run / STATE_FILE}: cannot resume.*{named}"):
        train_run(data, run, resume=True, **args)


def test_resume_continues_on_another_device_name_and_cleans_orphans(small_data, interrupted, tmp_path):
    """Handled: 'auto' vs 'cpu' is where it runs, not what it computes; a killed save's temp files go."""
    run = copy(interrupted, tmp_path)
    orphans = [run / ".model.pt.tmp-999999-deadbeef", run / ".state.pt.tmp-1-x1y2"]
    for orphan in orphans:
        orphan.write_bytes(b"half a checkpoint")
    _, result = train_run(small_data, run, kind="linear", train_config=tiny(epochs=2, device="auto"), resume=True)
    assert [h["epoch"] for h in result.history] == [0, 1] and not result.interrupted
    assert sorted(p.name for p in run.iterdir()) == [MODEL_FILE, SUMMARY_FILE]


def test_malformed_training_state_is_refused(small_data, interrupted, tmp_path):
    run = copy(interrupted, tmp_path)
    torch.save({"epoch": 0, "history": "not a list"}, run / STATE_FILE)
    with untouched(run), pytest.raises(CheckpointError, match=rf"{run / STATE_FILE}: not a DINA training state"):
        train_run(small_data, run, kind="linear", train_config=tiny(epochs=2), resume=True)


def test_resume_into_a_new_folder_starts_afresh_and_says_so(data_file, tmp_path, capsys):
    run = tmp_path / "new"
    assert main(["train", str(data_file), "--out", str(run), "--resume", *CLI_TINY]) == 0
    assert "no interrupted training to resume; starting a fresh one" in capsys.readouterr().err
    assert (run / MODEL_FILE).is_file()


def test_train_over_a_finished_run_without_overwrite_is_refused(data_file, finished, tmp_path, capsys):
    run = copy(finished, tmp_path)
    with untouched(tmp_path):  # model.pt byte-identical, nothing added
        assert main(["train", str(data_file), "--out", str(run), *CLI_TINY]) == 2
    err = capsys.readouterr().err
    assert f"{run}: already holds a finished run" in err and "--overwrite" in err


def test_train_over_an_interrupted_run_without_resume_is_refused(data_file, interrupted, tmp_path, capsys):
    run = copy(interrupted, tmp_path)
    with untouched(tmp_path):
        assert main(["train", str(data_file), "--out", str(run), *CLI_TINY]) == 2
    assert "holds an interrupted training" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_train_into_a_folder_of_other_files_is_refused(data_file, tmp_path, capsys, flags):
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("years of work")
    with untouched(tmp_path):
        assert main(["train", str(data_file), "--out", str(tmp_path / "thesis"), *flags, *CLI_TINY]) == 2
    assert "is not empty and holds no DINA run (chapter1.tex)" in capsys.readouterr().err


@pytest.mark.parametrize("make", [lambda p: p.write_text("notes"), lambda p: p.symlink_to(p.parent / "gone")],
                         ids=["file", "dangling-link"])
def test_an_out_that_is_a_file_or_a_dangling_link_is_refused(data_file, tmp_path, capsys, make):
    make(tmp_path / "out")
    with untouched(tmp_path):
        assert main(["train", str(data_file), "--out", str(tmp_path / "out"), *CLI_TINY]) == 2
    # the CLI's preflight says it before the run-folder rules would (runs.folder.contents words it alike)
    assert re.search(rf"{tmp_path / 'out'}: is (a|an existing) (file|link to a missing folder)", capsys.readouterr().err)


def test_overwrite_keeps_the_old_model_until_the_new_one_has_trained(small_data, finished, tmp_path):
    run = copy(finished, tmp_path)
    with untouched(run), pytest.raises(NothingTrainedError, match="no model was saved"):
        train_run(small_data, run, kind="linear", train_config=tiny(), overwrite=True, should_stop=lambda: True)


# --- No untrained model saved as a run --------------------------------------------------------------

@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_below_one_are_refused_and_nothing_is_written(data_file, tmp_path, capsys, epochs):
    with untouched(tmp_path):
        assert main(["train", str(data_file), "--out", str(tmp_path / "run"), "--kind", "linear",
                     "--epochs", epochs]) == 2
    assert "--epochs " + epochs + ": expected an integer >= 1" in capsys.readouterr().err


def test_a_training_stopped_before_its_first_epoch_saves_nothing(small_data, tmp_path):
    with untouched(tmp_path), pytest.raises(NothingTrainedError, match=rf"{tmp_path / 'run'}: stopped before"):
        train_run(small_data, tmp_path / "run", kind="linear", train_config=tiny(), should_stop=lambda: True)


# --- Orphaned temporary files -----------------------------------------------------------------------

def test_a_killed_save_leaves_a_recognisable_temp_file(tmp_path):
    from dina_core.atomic import temp_files
    code = ("import os, sys; from dina_core.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'half'); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / MODEL_FILE)], env={**os.environ, "PYTHONPATH": str(ROOT)})
    (orphan,) = temp_files(tmp_path)
    assert orphan.name.startswith(".model.pt.tmp-") and not (tmp_path / MODEL_FILE).exists()


def test_loading_a_run_removes_orphans_unless_a_writer_holds_it(finished, tmp_path):
    run = copy(finished, tmp_path)
    orphan = run / ".run.json.tmp-424242-abcd"
    orphan.write_text("{")
    with run_lock(run), untouched(run):  # a live writer's temporary file may be its own: kept
        load_run(run)
    before = snapshot(run)
    load_run(run)
    assert set(before) - set(snapshot(run)) == {str(orphan)} and not orphan.exists()


class _Gadget:
    """Unpickling this runs a shell command: what a crafted model.pt from a collaborator could hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_model_pt_that_would_run_code_is_refused_and_runs_nothing(finished, tmp_path):
    run = copy(finished, tmp_path)
    marker = tmp_path / "pwned"
    payload = torch.load(run / MODEL_FILE, weights_only=True)
    torch.save({**payload, "metadata": {"note": _Gadget(marker)}}, run / MODEL_FILE)
    with untouched(tmp_path), pytest.raises(CheckpointError, match=rf"{run / MODEL_FILE}: not a readable"):
        load_run(run)
    assert not marker.exists()


# --- The app: broken run folders and run names ---------------------------------------------------------

@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """Where the app simulates its small demo recording: once for the module."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture()
def app_runs(tmp_path, monkeypatch, demo_dir) -> Path:
    """The app's runs folder (empty), with its data folder and the small demo recording."""
    for name, value in {"DINA_DATA_DIR": tmp_path / "data", "DINA_RUNS_DIR": tmp_path / "runs",
                        "DINA_DEMO_DIR": demo_dir, "DINA_DEMO_SIZE": "small",
                        "DINA_DEMO_RUN": tmp_path / "no_demo_run"}.items():
        monkeypatch.setenv(name, str(value))
    (tmp_path / "data").mkdir()
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


def _summary(finished: Path, **changes) -> str:
    return json.dumps({**json.loads((finished / SUMMARY_FILE).read_text()), **changes})


BROKEN = {  # name: (run.json text or None to leave it out, model.pt bytes or None to copy the good one, reason)
    "list": (lambda f: "[1, 2]", None, r"field '<top level>': expected an object, found a list"),
    "number": (lambda f: "3.5", None, r"expected an object, found float 3\.5"),
    "not-json": (lambda f: '{"kind": "dina",', None, r"not valid JSON"),
    "not-utf8": (lambda f: b"\xff\xfe{}", None, r"not UTF-8"),
    "history-dict": (lambda f: _summary(f, history={"epoch": 0}), None, r"field 'history': expected a list"),
    "history-rows": (lambda f: _summary(f, history=[{"val_top1": "high"}]), None, r"field 'history\[0\]'"),
    "no-kind": (lambda f: json.dumps({"history": [], "metadata": {}}), None, r"field 'kind' missing"),
    "no-fingerprint": (lambda f: _summary(f, metadata={"best_val_top1": 0.5}), None,
                       r"field 'metadata.data_fingerprint': expected a string"),
    "metadata-list": (lambda f: _summary(f, metadata=[]), None, r"field 'metadata': expected an object"),
    "no-run-json": (None, None, r"run\.json: missing"),
    "model-garbage": (lambda f: (f / SUMMARY_FILE).read_text(), lambda f: b"\0" * 64,
                      r"model\.pt: not a PyTorch checkpoint"),
    "model-truncated": (lambda f: (f / SUMMARY_FILE).read_text(),
                        lambda f: (f / MODEL_FILE).read_bytes()[:(f / MODEL_FILE).stat().st_size // 2],
                        r"model\.pt: not a PyTorch checkpoint.*truncated"),
}


def _broken_run(runs: Path, finished: Path, name: str) -> Path:
    summary, model, _ = BROKEN[name]
    folder = runs / name
    folder.mkdir()
    if summary is not None:
        text = summary(finished)
        (folder / SUMMARY_FILE).write_bytes(text if isinstance(text, bytes) else text.encode())
    (folder / MODEL_FILE).write_bytes(model(finished) if model is not None else (finished / MODEL_FILE).read_bytes())
    return folder


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_run_folder_is_listed_as_broken_with_the_reason(app_runs, finished, name):
    from dina_app import active_run, state

    folder = _broken_run(app_runs, finished, name)
    with untouched(app_runs):
        (listed,) = [r for r in state.list_runs() if r["path"] == str(folder)]  # listed: it can be deleted
        assert active_run.compatible_runs(state.active_data_key()) == []  # never offered for use
    assert listed["problem"] is not None and str(folder) in listed["problem"]
    assert re.search(BROKEN[name][2], listed["problem"]), listed["problem"]


def test_a_checkpoint_that_does_not_load_is_named_by_the_full_check(app_runs, finished):
    """A torch archive of something else passes the quick look; the weights-only load names it."""
    from dina_app import state

    folder = copy(finished, app_runs, "foreign")
    torch.save({"format": "someone-else"}, folder / MODEL_FILE)
    with untouched(app_runs):
        (listed,) = state.list_runs()
        problem = state.checkpoint_problem(state.file_key(folder / MODEL_FILE))
    assert listed["problem"] is None and "field 'format'" in problem and str(folder) in problem


def test_the_train_page_lists_broken_runs_without_breaking(app_runs, finished):
    """Every page's sidebar lists runs: broken folders of every kind, and the page still works."""
    copy(finished, app_runs, "good")
    for name in BROKEN:
        _broken_run(app_runs, finished, name)
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.switch_page("pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value
    problems = dict(zip(table["run"], table["problem"]))
    assert problems.pop("good") == "" and set(problems) == set(BROKEN) and all(problems.values())
    chooser = at.selectbox(key="train.chosen")
    chooser.select_index(chooser.options.index("list")).run()
    assert any("is broken and cannot be used" in w.value for w in at.warning)
    assert not any(b.label == "Use this model" and not b.disabled for b in at.button)  # never offered for use


def test_a_model_page_whose_run_does_not_load_shows_why(app_runs, finished):
    """The chosen run's model.pt is a torch file of something else: the page says so, no traceback."""
    from dina_app import keys

    folder = copy(finished, app_runs, "foreign")
    torch.save({"format": "someone-else"}, folder / MODEL_FILE)
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.session_state[keys.RUN] = str(folder)
        at.switch_page("pages/retrieval.py").run()
        assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be used" in e.value and "field 'format'" in e.value for e in at.error), at.error


def test_a_demo_model_that_cannot_resume_says_why_and_a_retry_starts_afresh(app_runs, interrupted):
    """A killed training of the demo's default model, of another model kind: resuming it is refused on the page; *Try again* replaces it."""
    from dina_app import jobs, keys, state

    fp = state.fingerprint(state.file_key(state.demo_path()))
    folder = copy(interrupted, app_runs, f"demo-default-{fp}")
    for name in (MODEL_FILE, SUMMARY_FILE):  # killed before its final save: only state.pt
        (folder / name).unlink()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page("pages/retrieval.py").run()
    assert jobs.get(keys.demo_job(fp)).wait(timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot resume" in e.value and "model kind: 'linear'" in e.value for e in at.error), at.error
    next(b for b in at.button if b.label == "Try again").click().run()
    retry = jobs.get(keys.demo_job(fp))
    while retry.live and (folder / STATE_FILE).exists():  # a fresh start removes the state it could not resume
        time.sleep(0.1)
    retry.stop()
    assert retry.wait(timeout=300) and retry.status == "stopped"
    assert not (folder / STATE_FILE).exists()


@pytest.mark.parametrize("name, reason", [
    ("x" * 300, "300 characters; at most 64"),
    ("a/b", r"characters '/' not allowed"),
    ("..", "starts with '.'"),
    (".hidden", "starts with '.'"),
    ("run\x1bname", r"characters '\\x1b' not allowed"),
    ("-rf", "starts with '-'"),
    ("Good", "a run folder 'good' exists already"),
    ("", "empty"),
], ids=["300-chars", "slash", "dotdot", "leading-dot", "control-char", "leading-dash", "collision", "empty"])
def test_run_names_that_reach_out_hide_or_collide_are_refused(name, reason):
    with pytest.raises(DinaError, match=reason):
        check_run_name(name, taken=["good"])


def test_the_train_form_refuses_a_300_character_name(app_runs):
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.switch_page("pages/train.py").run()
        at.text_input(key="train.name").set_value("r" * 300)
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert any("300 characters; at most 64" in e.value for e in at.error), [e.value for e in at.error]
