"""Folders, the session, the active recording, and the cached loaders of recordings.

Per-user choices (active recording, active run, presentation mode) live in
``st.session_state`` under the names declared in ``keys``. Recordings are loaded
through ``st.cache_resource``: one copy shared by every browser session, so they are
never modified (analyses use masks and copies). Every cache is keyed by a ``FileKey``
``(path, mtime_ns, size)``: a file rewritten on disk gets a new key and is reloaded.
Runs are loaded, listed and deleted by ``saved_runs``, keyed the same way.

Folders come from the environment, read at call time:
    DINA_DATA_DIR   recordings the app may open (default ./data); nothing outside it
    DINA_RUNS_DIR   run folders written and listed by the app (default ./runs)
    DINA_DEMO_DIR   where the built-in demo recording is simulated (default ./demo)
    DINA_DEMO_SIZE  'demo' (default, 1000 neurons) or 'small' (200 neurons: tests)
    DINA_DEMO_RUN   the shipped demo run (default assets/demo_run next to app.py)
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from dina_core.data.fingerprint import recording_identity
from dina_core.data.format import DinaData, write_dataset
from dina_core.data.io import dataset_summary, read_dataset
from dina_core.demo import DEMO_FILE, ensure_demo_dataset
from dina_core.errors import DatasetError

from . import keys

if TYPE_CHECKING:
    import numpy as np

FileKey = tuple[str, int, int]  # (resolved path, mtime_ns, size): what every cache is keyed by
APP_ROOT = Path(__file__).resolve().parents[1]
_DEMO_LOCK = threading.Lock()  # two sessions opening the app at once simulate the demo once


def data_dir() -> Path:
    return Path(os.environ.get("DINA_DATA_DIR", "data")).resolve()


def runs_dir() -> Path:
    return Path(os.environ.get("DINA_RUNS_DIR", "runs")).resolve()


def demo_dir() -> Path:
    return Path(os.environ.get("DINA_DEMO_DIR", "demo")).resolve()


def demo_run_dir() -> Path:
    return Path(os.environ.get("DINA_DEMO_RUN", APP_ROOT / "assets" / "demo_run")).resolve()


def session_id() -> str:
    return st.session_state.setdefault(keys.SESSION, uuid.uuid4().hex[:12])


def training_job_key() -> str:
    """The key of this session's training job in ``jobs``."""
    return keys.training_job(session_id())


def presenting() -> bool:
    return bool(st.session_state.get(keys.PRESENT, False))


def file_key(path: str | os.PathLike) -> FileKey:
    """The cache key of a file; DatasetError when it has gone."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        raise DatasetError(path, "<file>", "an existing file", "no such file") from None
    return str(path), stat.st_mtime_ns, stat.st_size


def demo_path() -> Path:
    """The built-in demo recording, simulated on first use (size from DINA_DEMO_SIZE)."""
    folder = demo_dir()
    small = os.environ.get("DINA_DEMO_SIZE", "demo") == "small"
    path = folder / ("demo_small.h5" if small else DEMO_FILE)
    busy = (st.spinner("Simulating the demo recording (first launch only, about 10 s)…", show_time=True)
            if not path.exists() else contextlib.nullcontext())
    with _DEMO_LOCK, busy:
        if not small:
            return ensure_demo_dataset(folder)
        if not path.exists():
            from dina_core.simulate import SimConfig, simulate_recording
            write_dataset(path, simulate_recording(SimConfig.small()))
        return path


def is_demo(key: FileKey) -> bool:
    return Path(key[0]).parent == demo_dir() and Path(key[0]).name in (DEMO_FILE, "demo_small.h5")


@st.cache_resource(max_entries=3, show_spinner="Loading the recording…")
def load_data(key: FileKey) -> DinaData:
    """The whole recording (shared: never modify it)."""
    return read_dataset(key[0])


@st.cache_data(max_entries=16, show_spinner=False)
def summary(key: FileKey) -> dict:
    return dataset_summary(key[0])


@st.cache_data(max_entries=8, show_spinner=False)
def reliability(key: FileKey) -> "np.ndarray | None":
    """(n_neurons,) oracle correlation over test repeats, for description (see analysis.reliability_on_test)."""
    from .analysis import reliability_on_test
    return reliability_on_test(load_data(key))


@st.cache_data(max_entries=16, show_spinner=False)
def identity(key: FileKey) -> dict[str, str]:
    """The recording's ``recording_identity`` (content fingerprint, simulator provenance): hashed once per file."""
    return recording_identity(load_data(key))


def fingerprint(key: FileKey) -> str:
    return identity(key)["data_fingerprint"]


def active_data_key() -> FileKey:
    return file_key(st.session_state.get(keys.DATA) or demo_path())


def set_active_data(path: str | os.PathLike) -> None:
    st.session_state[keys.DATA] = str(Path(path).resolve())
    st.session_state.pop(keys.RUN, None)
