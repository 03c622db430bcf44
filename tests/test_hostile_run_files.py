"""Files a run folder may be left with: a killed save's temporary file, and a model.pt that would run code.

A killed save leaves a temporary file that is recognisably one; loading the run removes such orphans unless a
writer holds the folder; a model.pt whose unpickling would run a command is refused and runs nothing. (A
corrupt or missing model.pt is in test_train.py, one of someone else's format in test_hostile_app_runs.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dina_core.errors import CheckpointError
from dina_core.runs.lock import run_lock
from dina_core.runs.run import MODEL_FILE, load_run
from hostile import snapshot, untouched
from run_folders import ROOT, copy


def test_a_killed_save_leaves_a_recognisable_temp_file(tmp_path):
    from dina_core.atomic import temp_files
    code = ("import os, sys; from dina_core.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'half'); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / MODEL_FILE)], env={**os.environ, "PYTHONPATH": str(ROOT)})
    (orphan,) = temp_files(tmp_path)
    assert orphan.name.startswith(".model.pt.tmp-") and not (tmp_path / MODEL_FILE).exists()


def test_loading_a_run_removes_orphans_unless_a_writer_holds_it(finished_run, tmp_path):
    run = copy(finished_run, tmp_path)
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


def test_a_model_pt_that_would_run_code_is_refused_and_runs_nothing(finished_run, tmp_path):
    run = copy(finished_run, tmp_path)
    marker = tmp_path / "pwned"
    payload = torch.load(run / MODEL_FILE, weights_only=True)
    torch.save({**payload, "metadata": {"note": _Gadget(marker)}}, run / MODEL_FILE)
    with untouched(tmp_path), pytest.raises(CheckpointError, match=rf"{run / MODEL_FILE}: not a readable"):
        load_run(run)
    assert not marker.exists()
