"""Folders, the session's active recording and run, and the cached loaders of recordings and runs.

Per-user choices (active recording, active run, presentation mode) live in
``st.session_state`` under the names declared in ``keys``. Recordings and runs are loaded
through ``st.cache_resource``: one copy shared by every browser session, so they are
never modified (analyses use masks and copies). Every cache is keyed by a ``FileKey``
``(path, mtime_ns, size)``: a file rewritten on disk gets a new key and is reloaded.

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
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from dina_core.data.fingerprint import recording_identity
from dina_core.data.format import DinaData, write_dataset
from dina_core.data.io import dataset_summary, read_dataset
from dina_core.demo import DEMO_FILE, ensure_demo_dataset
from dina_core.errors import DatasetError, DinaError
from dina_core.paths import inside
from dina_core.runs.folder import MEMBERS_DIR
from dina_core.runs.summary import describe

from . import keys

if TYPE_CHECKING:  # torch loads only when a page needs a model: the Data page opens without it
    import numpy as np

    from dina_core.runs.prepare import PreparedData
    from dina_core.runs.run import Run

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


@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def load_run(key: FileKey) -> "Run":
    """A trained run on the CPU, in eval mode (shared: never modify or train it)."""
    from dina_core.runs.run import load_run as _load_run
    return _load_run(Path(key[0]).parent, device="cpu")


@st.cache_resource(max_entries=6, show_spinner=False)
def load_interpreted_run(key: FileKey) -> "Run":
    """The network the interpretation pages look inside: the run itself, or a seed ensemble's first member."""
    from dina_core.runs.ensemble import first_member
    return first_member(load_run(key))


@st.cache_resource(max_entries=4, show_spinner="Normalising the recording for the model…")
def prepared(run_key: FileKey, data_key: FileKey) -> "PreparedData":
    """``run.prepare(data)`` after checking they fit (shared, read-only tensors)."""
    from dina_core.runs.run import check_compatible
    run, data = load_run(run_key), load_data(data_key)
    check_compatible(run, data, source=Path(data_key[0]).name)
    return run.prepare(data)


def active_data_key() -> FileKey:
    return file_key(st.session_state.get(keys.DATA) or demo_path())


def set_active_data(path: str | os.PathLike) -> None:
    st.session_state[keys.DATA] = str(Path(path).resolve())
    st.session_state.pop(keys.RUN, None)


def list_runs() -> list[dict]:
    """Run folders under the runs folder (and the shipped demo run), newest first, broken ones included.

    Each: {path, name, kind, metadata, validation_fraction, fingerprint, data_name, best_val_top1, epochs,
    seconds, modified, shuffled, problem, disagreement}, the scores and metadata as the run's ``model.pt`` records
    them, never as its editable ``run.json`` does (``disagreement``: where that says otherwise, else None).
    ``problem`` is None for a usable run, else why it is broken (naming the file and field:
    ``dina_core.runs.summary``); a broken run is listed so it can be deleted, never used.
    A folder with a ``state.pt`` and no model yet is a training in progress or interrupted: not listed. Which
    runs belong to a recording: ``active_run.compatible_runs``.
    """
    root = runs_dir()
    folders = {f.parent for pattern in ("*/run.json", "*/model.pt", "*/*/*/run.json", "*/*/*/model.pt")
               for f in (root.glob(pattern) if root.is_dir() else [])}
    if (demo_run_dir() / "run.json").is_file():
        folders.add(demo_run_dir())
    found = []
    for folder in folders:
        if folder.parent.name == MEMBERS_DIR or (not (folder / "model.pt").exists() and (folder / "state.pt").exists()):
            continue  # a seed ensemble's member while it trains, or a training in progress or interrupted
        name = str(folder.relative_to(root)) if folder.is_relative_to(root) else f"shipped demo ({folder.name})"
        found.append({"path": str(folder), "name": name, "modified": _modified(folder),
                      **_described(str(folder), _stamps(folder))})
    return sorted(found, key=lambda r: -r["modified"])


@st.cache_data(max_entries=1024, show_spinner=False)
def _described(folder: str, stamps: tuple) -> dict:
    """``runs.summary.describe`` of ``folder``, read again when its run.json or model.pt changes (``stamps``)."""
    return describe(folder)


def _stamps(folder: Path) -> tuple:
    """(mtime_ns, size) of the folder's run.json and model.pt (None for one that is missing): what ``_described`` is
    keyed by."""
    stamps = []
    for file in (folder / "run.json", folder / "model.pt"):
        try:
            stat = file.stat()
            stamps.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def _modified(folder: Path) -> float:
    """When the run was last saved (0 when both files have gone meanwhile)."""
    times = []
    for file in (folder / "run.json", folder / "model.pt"):
        with contextlib.suppress(OSError):
            times.append(file.stat().st_mtime)
    return max(times, default=0.0)


def run_folder_names() -> list[str]:
    """Every name in the runs folder (runs, broken runs, trainings in progress): a new run needs another."""
    root = runs_dir()
    return [p.name for p in root.iterdir()] if root.is_dir() else []


@st.cache_data(max_entries=64, show_spinner="Checking the checkpoint…")
def checkpoint_problem(key: FileKey) -> str | None:
    """Why the ``model.pt`` of ``key`` does not load as a DINA run (weights-only), else None."""
    from dina_core.runs.run import load_run as _load_run
    try:
        _load_run(Path(key[0]).parent, device="cpu")
    except DinaError as exc:
        return str(exc)
    return None


def run_label(run_key: FileKey) -> str:
    folder = Path(run_key[0]).parent
    return folder.name if folder != demo_run_dir() else "shipped demo run"


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete a run folder under the runs folder, and never what a link there points to.

    Raises:
        DinaError: the folder is reached through a symbolic link, resolves outside the runs
            folder (or is the runs folder itself), or holds neither ``run.json`` nor ``model.pt``.
    """
    root, chosen = runs_dir(), Path(run_dir).absolute()
    target = inside(root, chosen)
    if target != chosen:  # the listed name is a link: deleting would remove whatever it points to
        raise DinaError(f"{chosen}: is reached through a symbolic link (to {target}); not deleted")
    if target == root or not any((target / f).is_file() for f in ("run.json", "model.pt")):
        raise DinaError(f"{chosen}: not a run folder under {root} (no run.json, no model.pt); not deleted")
    shutil.rmtree(target)  # rmtree removes links inside the run, never what they point to
