"""The built-in demo: a simulated recording at the documented demo size, made once and reused."""

from __future__ import annotations

import os
from pathlib import Path

from .data.format import write_dataset

DEFAULT_DEMO_DIR = Path(os.environ.get("DINA_DEMO_DIR", "demo"))
DEMO_FILE = "demo.h5"


def ensure_demo_dataset(folder: str | os.PathLike = DEFAULT_DEMO_DIR) -> Path:
    """Path of the demo recording in ``folder``, simulating it (a few seconds) when missing."""
    from .simulate import DEMO_CONFIG, simulate_recording
    path = Path(folder) / DEMO_FILE
    if not path.exists():
        write_dataset(path, simulate_recording(DEMO_CONFIG))
    return path
