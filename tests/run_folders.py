"""Run folders of the hostile run tests (tests/test_hostile_run_*.py, test_hostile_app_runs.py).

One or two epochs of the linear model on the small simulated recording; the shared finished and
interrupted runs are the ``finished_run`` and ``interrupted_run`` fixtures of conftest.py, which a case
copies (``copy``) and never modifies.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dina_core.runs.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TINY = dict(epochs=1, batch_size=64, patience=100, device="cpu")
CLI_TINY = ["--kind", "linear", "--epochs", "1", "--batch-size", "64", "--device", "cpu"]


def tiny(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, "patience": 100, **changes})


def copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(run, tmp_path / name))
