"""Saved runs: the cached loaders of run folders, their listing, and deleting one.

Runs are loaded through ``st.cache_resource``: one copy shared by every browser session, so a
run is never modified or trained (analyses use masks and copies). Every cache is keyed by a
``state.FileKey`` of the run's ``model.pt``: a run saved again gets a new key and is reloaded.
Listings read the scores each run's ``model.pt`` records (``dina_core.runs.summary``), again
only when its files change. A joint run (``dina_core.runs.joint``) is listed through its recordings' runs
(``J/recordings/NAME``, each an ordinary run), never as a run of its own. The folders themselves come from
``state`` (``DINA_RUNS_DIR``, ``DINA_DEMO_RUN``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from dina_core.errors import CheckpointError, DinaError
from dina_core.paths import inside
from dina_core.runs.folder import MEMBERS_DIR, MODEL_FILE, RECORDINGS_DIR
from dina_core.runs.summary import describe

from .state import FileKey, demo_run_dir, load_data, runs_dir

if TYPE_CHECKING:  # torch loads only when a page needs a model
    from dina_core.runs.prepare import PreparedData
    from dina_core.runs.run import Run


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


def list_runs() -> list[dict]:
    """Run folders under the runs folder (and the shipped demo run), newest first, broken ones included.

    Each: {path, name, kind, metadata, validation_fraction, fingerprint, data_name, best_val_top1, epochs,
    seconds, modified, shuffled, problem, disagreement}, the scores and metadata as the run's ``model.pt`` records
    them, never as its editable ``run.json`` does (``disagreement``: where that says otherwise, else None).
    ``problem`` is None for a usable run, else why it is broken (naming the file and field:
    ``dina_core.runs.summary``); a broken run is listed so it can be deleted, never used.
    A folder with a ``state.pt`` and no model yet is a training in progress or interrupted: not listed. A joint
    run's folder is not listed (its recordings' runs are) unless a recording's model is missing: then it is listed
    as broken, to be deleted. Which runs belong to a recording: ``active_run.compatible_runs``.
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
        joint, joint_problem = _joint_state(folder)
        if joint and joint_problem is None:
            continue
        name = str(folder.relative_to(root)) if folder.is_relative_to(root) else f"shipped demo ({folder.name})"
        entry = {"path": str(folder), "name": name, "modified": _modified(folder),
                 **_described(str(folder), _stamps(folder))}
        if joint:  # describe() would report the fields of a single run's run.json that a joint one lacks
            entry["problem"] = joint_problem
        found.append(entry)
    return sorted(found, key=lambda r: -r["modified"])


def joint_recordings(folder: str | os.PathLike) -> list[str] | None:
    """The recording names of the joint run in ``folder``, in its order, or None when it holds none; read again
    when its run.json changes.

    Raises:
        CheckpointError: its run.json is a joint run's whose recordings field is broken (naming file and field).
    """
    return _joint_names(str(folder), _stamps(Path(folder))[0])


@st.cache_data(max_entries=256, show_spinner=False)
def _joint_names(folder: str, stamp: tuple | None) -> list[str] | None:
    from dina_core.runs.joint import is_joint_run, read_joint_summary  # imports torch: only when a folder may be one
    if not is_joint_run(folder):
        return None
    return [r["name"] for r in read_joint_summary(folder)["recordings"]]


def _joint_state(folder: Path) -> tuple[bool, str | None]:
    """(whether ``folder`` is a joint run's, why it cannot be used or None)."""
    if not (folder / RECORDINGS_DIR).is_dir() or (folder / MODEL_FILE).exists():
        return False, None
    try:
        names = joint_recordings(folder)
    except CheckpointError as exc:
        return True, str(exc)
    if names is None:
        return False, None
    missing = [n for n in names if not (folder / RECORDINGS_DIR / n / MODEL_FILE).is_file()]
    return True, (f"{folder}: a joint run whose recordings {', '.join(missing)} have no {MODEL_FILE} in "
                  f"{RECORDINGS_DIR}/" if missing else None)


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
    """The run's folder name; 'J · NAME' for recording NAME's run in joint run J."""
    folder = Path(run_key[0]).parent
    if folder == demo_run_dir():
        return "shipped demo run"
    with contextlib.suppress(CheckpointError):
        if folder.parent.name == RECORDINGS_DIR and folder.name in (joint_recordings(folder.parent.parent) or []):
            return f"{folder.parent.parent.name} · {folder.name}"
    return folder.name


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
