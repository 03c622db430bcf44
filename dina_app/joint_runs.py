"""Joint runs for the Across animals page: which can be compared, and the cached maps of "Where the animals agree".

A joint run J (``dina_core.runs.joint``) is listed by ``saved_runs.list_runs`` through its recordings' runs
(``J/recordings/NAME``); here it is one choice standing for all of them. Its model is rebuilt by ``load_joint_run``
(which refuses recordings whose image sides differ) through ``st.cache_resource`` keyed by the ``state.FileKey``s of
its ``run.json`` and every recording's ``model.pt``; the recordings come through ``state.load_data``. The stimuli
they share and the maps of one stimulus are ``st.cache_data`` keyed by those keys, so a rerun recomputes nothing
and a run or recording saved again is read afresh.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from dina_core.data.fingerprint import recording_matches
from dina_core.errors import CheckpointError, DinaError
from dina_core.runs.folder import MODEL_FILE, RECORDINGS_DIR, SUMMARY_FILE

from . import saved_runs, state
from .state import FileKey

if TYPE_CHECKING:  # torch loads only when the page draws a joint run's maps
    from dina_core.runs.joint import JointRun

DataKeys = tuple[tuple[str, FileKey], ...]  # (recording name, its file's key), in the joint run's order


def list_joint_runs() -> list[dict]:
    """Joint runs in the runs folder, newest first: {path, name, recordings: [names], runs: [each recording's run
    folder, in that order]}. One whose ``run.json`` is broken is left out: ``saved_runs.list_runs`` names it."""
    root, found = state.runs_dir(), []
    for summary in (root.glob(f"*/{SUMMARY_FILE}") if root.is_dir() else []):
        folder = summary.parent
        if not (folder / RECORDINGS_DIR).is_dir():  # a single run: its run.json need not be read
            continue
        with contextlib.suppress(CheckpointError, OSError):
            names = saved_runs.joint_recordings(folder)
            if names:
                found.append({"path": str(folder), "name": folder.name, "recordings": names,
                              "runs": [str(folder / RECORDINGS_DIR / n) for n in names],
                              "modified": summary.stat().st_mtime})
    return sorted(found, key=lambda j: -j["modified"])


def comparable(usable: list[dict]) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """The joint runs whose recordings' runs are all in ``usable`` (``across_animals.candidates``).

    Returns:
        ({joint run path: its ``list_joint_runs`` entry plus 'members', the usable entries in its order},
        [(joint run name, why it cannot be picked)]).
    """
    by_path = {r["path"]: r for r in usable}
    offered, refused = {}, []
    for joint in list_joint_runs():
        missing = [n for n, path in zip(joint["recordings"], joint["runs"]) if path not in by_path]
        if missing:
            refused.append((joint["name"], f"a joint run; the runs of its recordings {', '.join(missing)} cannot be "
                                           "compared"))
        else:
            offered[joint["path"]] = {**joint, "members": [by_path[p] for p in joint["runs"]]}
    return offered, refused


def run_keys(joint: dict) -> tuple[FileKey, ...]:
    """The keys of the joint run's ``run.json`` and of each recording's ``model.pt``: what its caches are keyed by."""
    return (state.file_key(Path(joint["path"]) / SUMMARY_FILE),
            *(state.file_key(Path(p) / MODEL_FILE) for p in joint["runs"]))


def recording_keys(joint: dict) -> DataKeys:
    """(name, key) of each recording's file (the ``data_path`` its run records), in the joint run's order.

    Raises:
        DinaError: a file is no longer the recording its run was trained on.
    """
    keys = []
    for name, member in zip(joint["recordings"], joint["members"]):
        key = state.file_key(member["data_path"])
        if not recording_matches(member["metadata"], state.identity(key)):
            raise DinaError(f"{member['data_path']}: not the recording that {joint['name']}'s {name} was trained on "
                            "(the file has changed since)")
        keys.append((name, key))
    return tuple(keys)


@st.cache_resource(max_entries=2, show_spinner="Loading the joint model…")
def load_joint(keys: tuple[FileKey, ...]) -> "JointRun":
    """The joint run of ``run_keys`` on the CPU, its image side shared (shared: never modify or train it)."""
    from dina_core.runs.joint import load_joint_run
    return load_joint_run(Path(keys[0][0]).parent, device="cpu")


def stages(keys: tuple[FileKey, ...]) -> list[str]:
    """The aligned stages of the joint run's models (all alike)."""
    return list(next(iter(load_joint(keys).runs.values())).model.map_shapes)


@st.cache_data(max_entries=8, show_spinner="Matching the stimuli the recordings share…")
def shared_stimuli(data_keys: DataKeys) -> dict[str, np.ndarray]:
    """{name: (n,) image rows} of the stimuli every recording saw, matched by content, in the first recording's
    order (``common_images``), kept only where every recording shows it on a trial (n may be 0)."""
    from dina_core.interpret.cross_animal import common_images
    recordings = {name: state.load_data(key) for name, key in data_keys}
    rows = common_images(recordings)
    shown = np.logical_and.reduce([np.isin(rows[n], recordings[n].image_index) for n in rows])
    return {n: r[shown] for n, r in rows.items()}


@st.cache_data(max_entries=32, show_spinner="Computing the maps…")
def agreement_maps(keys: tuple[FileKey, ...], data_keys: DataKeys, position: int, stage: str) -> dict:
    """``cross_animal_maps`` of the ``position``-th shared stimulus at ``stage``: {'stage', 'image' (H, W),
    'alignment': {name: (h, w)}, 'agreement': {'A|B': (h, w) cosine}, 'similarity': {name: float}}."""
    from dina_core.interpret.cross_animal import cross_animal_maps
    joint, rows = load_joint(keys), shared_stimuli(data_keys)
    recordings = {name: state.load_data(key) for name, key in data_keys}
    # no lock: the joint models are this module's own, loaded in eval mode, and only run forward without hooks
    return cross_animal_maps(joint.runs, recordings, {n: int(r[position]) for n, r in rows.items()}, stage)
