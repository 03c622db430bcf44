"""One writer per run folder: a second training into a folder that another thread or process is writing
is refused, naming the holder; a lock left by a killed training does not block.

Outcome classes: *refused* (a DinaError naming the folder and what is wrong, nothing changed) and
*handled* (the right thing happens, e.g. a stale lock does not block). Trainings are one or two epochs of
the linear model on the small simulated recording (``finished_run`` and ``interrupted_run`` in
conftest.py, copied for each case).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dina_core.cli import main
from dina_core.errors import DinaError
from dina_core.runs.lock import LOCK_FILE, RunBusyError, run_lock
from dina_core.runs.run import load_run
from dina_core.train.run import train_run
from hostile import untouched
from run_folders import CLI_TINY, ROOT, copy, tiny


def holder_process(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s writer lock (as a training would) until it is killed."""
    code = ("import sys, time; from dina_core.runs.lock import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_in_the_same_process_is_refused(small_data, finished_run, tmp_path):
    """Two app sessions are two threads of one process: a flock still refuses the second."""
    run = copy(finished_run, tmp_path)
    with run_lock(run):
        with untouched(run), pytest.raises(RunBusyError, match=rf"{run}.*pid {os.getpid()} on host"):
            train_run(small_data, run, kind="linear", train_config=tiny(), overwrite=True)
    assert not (run / LOCK_FILE).exists()  # released and removed


def test_resuming_a_training_that_is_still_running_is_refused(small_data, interrupted_run, tmp_path):
    """Its folder looks interrupted (state.pt, no final model), but its writer is alive."""
    run = copy(interrupted_run, tmp_path)
    with run_lock(run), untouched(run), pytest.raises(RunBusyError, match="another training is writing"):
        train_run(small_data, run, kind="linear", train_config=tiny(epochs=2), resume=True)


def test_a_second_dina_train_while_another_process_trains_is_refused(small_data_file, finished_run, tmp_path, capsys):
    run = copy(finished_run, tmp_path)
    proc = holder_process(run)
    try:
        with untouched(run):
            assert main(["train", str(small_data_file), "--out", str(run), "--overwrite", *CLI_TINY]) == 2
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err
    assert str(run) in err and f"pid {proc.pid}" in err and "another training" in err


def test_a_lock_left_by_a_killed_training_does_not_block(small_data, finished_run, tmp_path):
    """Handled: kill -9 leaves the lock file behind, but the kernel released the flock."""
    run = copy(finished_run, tmp_path)
    proc = holder_process(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert f'"pid": {proc.pid}' in (run / LOCK_FILE).read_text()  # the stale lock is there
    train_run(small_data, run, kind="linear", train_config=tiny(seed=1), overwrite=True)
    assert load_run(run).train_config.seed == 1 and not (run / LOCK_FILE).exists()


def test_two_app_sessions_training_into_one_name_never_clobber(small_data, tmp_path):
    """Both forms passed before either folder existed: the second job is refused at submit (the first is queued
    or running, with no folder yet), the first run kept."""
    from dina_app import jobs

    out = tmp_path / "runs" / "shared-name"
    first = jobs.start_training("test:a", "a", small_data, out, tiny(), kind="linear")
    with pytest.raises(DinaError, match="run name 'shared-name': the (queued|running) job 'a' will write that folder"):
        jobs.start_training("test:b", "b", small_data, out, tiny(seed=5), kind="linear")
    assert jobs.get("test:b") is None
    assert first.wait(timeout=600) and first.status == "finished", first.error
    assert load_run(out).train_config.seed == 0
