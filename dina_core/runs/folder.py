"""What a training may do to a run folder, and what a resume must match.

A run folder is, from a writer's point of view (``contents``):
    'missing' / 'empty'   a new run may start (only DINA's lock file or orphaned temporary files inside)
    'interrupted'         ``state.pt`` present (with or without a ``model.pt`` saved when it was stopped),
                          or a seed ensemble's ``members/`` folder, or a joint run's ``recordings/`` without its
                          ``run.json``: ``resume`` continues it
    'finished'            ``model.pt`` (or a joint run's ``recordings/`` and ``run.json``) without ``state.pt``:
                          a trained model, never written over silently
    'other'               files that are not a DINA run

The rules (``check_target``) are shared by ``dina train`` and DINA Studio's Train page through
``dina_core.train.run.train_run``; the CLI and the page also call it before loading any data,
so a refusal comes at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import temp_files
from ..errors import CheckpointError, DinaError
from .lock import LOCK_FILE, check_free

MODEL_FILE, STATE_FILE, SUMMARY_FILE = "model.pt", "state.pt", "run.json"
MEMBERS_DIR = "members"  # a seed ensemble's members while it trains (dina_core.train.ensemble)
RECORDINGS_DIR = "recordings"  # a joint run's per-recording runs (dina_core.runs.joint)
# Train-config fields a resume may change: where it runs does not change what it computes.
RESUMABLE_CHANGES = ("device",)
STATE_KEYS = ("epoch", "model", "optimizer", "best_model", "best_epoch", "best_val_top1", "bad_epochs", "history")


def contents(folder: str | os.PathLike) -> str:
    """'missing', 'empty', 'interrupted', 'finished' or 'other' (see the module docstring).

    Raises:
        DinaError: ``folder`` exists but is not a folder, or cannot be read.
    """
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        raise DinaError(f"{folder}: is a link to a missing folder ({os.readlink(folder)})")
    if not folder.exists():
        return "missing"
    if not folder.is_dir():
        raise DinaError(f"{folder}: is a file; expected a run folder (a new or empty folder)")
    try:
        names = {p.name for p in folder.iterdir()} - {LOCK_FILE, *(p.name for p in temp_files(folder))}
    except OSError as exc:
        raise DinaError(f"{folder}: cannot be read ({exc.strerror}); expected a run folder") from None
    if not names:
        return "empty"
    if STATE_FILE in names or MEMBERS_DIR in names or (RECORDINGS_DIR in names and SUMMARY_FILE not in names):
        return "interrupted"  # a joint run's run.json is written after its recordings' runs
    return "finished" if MODEL_FILE in names or RECORDINGS_DIR in names else "other"


def check_target(folder: str | os.PathLike, *, resume: bool = False, overwrite: bool = False,
                 locked: bool = False) -> str:
    """Refuse a training into ``folder`` that would lose a run or mix two; return its ``contents``.

    Args:
        folder: the run folder to write.
        resume: continue the interrupted training in ``folder`` (a fresh start when there is none).
        overwrite: start afresh even over a finished or interrupted run (its ``model.pt`` is replaced
            only once the new training has finished an epoch and saved).
        locked: the caller holds ``folder``'s writer lock (``runs.lock``): no other training can.

    Raises:
        RunBusyError: a training is writing the folder now.
        DinaError: the folder holds a finished run (and ``overwrite`` is not set, or ``resume`` is),
            an interrupted training without ``resume`` or ``overwrite``, or other files.
    """
    folder = Path(folder)
    if resume and overwrite:
        raise DinaError(f"{folder}: resume and overwrite exclude each other: resume continues the run, "
                        "overwrite replaces it")
    found = contents(folder)
    if found != "missing" and not locked:
        check_free(folder)  # a live training first: its folder would look interrupted or empty
    if found in ("missing", "empty") or (overwrite and found != "other"):
        return found
    if found == "finished":
        what = ("nothing to resume" if resume else
                "choose another run name or folder, delete it, or replace it with `dina train --overwrite`")
        held = f"{MODEL_FILE}" if (folder / MODEL_FILE).exists() else f"a joint run: {RECORDINGS_DIR}/, {SUMMARY_FILE}"
        raise DinaError(f"{folder}: already holds a finished run ({held}, no {STATE_FILE}); {what}")
    if found == "interrupted" and not resume:
        raise DinaError(f"{folder}: holds an interrupted training ({STATE_FILE}); continue it with "
                        "`dina train --resume`, or start afresh with `dina train --overwrite`")
    if found == "other":
        raise DinaError(f"{folder}: is not empty and holds no DINA run ({_names(folder)}); "
                        "choose a new or empty folder")
    return found


def _names(folder: Path, shown: int = 3) -> str:
    names = sorted(p.name for p in folder.iterdir() if p.name != LOCK_FILE)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def remove_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files left in ``folder`` by an interrupted atomic save; return them.

    Only the holder of ``folder``'s writer lock may call this: no other process writes there then.
    """
    removed = temp_files(folder)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def identity(kind: str, model_config: dict, train_config: dict, data_fingerprint: str,
             neuron_indices: list[int] | None) -> dict:
    """What a resumed training must share with the interrupted one for the result to be the same run."""
    return {"kind": kind, "model_config": dict(model_config),
            "train_config": {k: v for k, v in train_config.items() if k not in RESUMABLE_CHANGES},
            "data_fingerprint": data_fingerprint, "neuron_indices": neuron_indices}


def differences(saved: dict, wanted: dict) -> list[str]:
    """Readable 'field: X in the run folder, Y now' for each entry of ``wanted`` that ``saved`` records otherwise.

    Entries ``saved`` lacks (a state written by an older DINA) are not compared.
    """
    found = []
    for key, value in wanted.items():
        if key not in saved:
            continue
        old = saved[key]
        if isinstance(value, dict) and isinstance(old, dict):
            found += [f"{key}.{k}: {old.get(k)!r} in the run folder, {value.get(k)!r} now"
                      for k in sorted(set(value) | set(old)) if old.get(k) != value.get(k)]
        elif old != value:
            name = {"data_fingerprint": "data (fingerprint)", "kind": "model kind"}.get(key, key)
            found.append(f"{name}: {old!r} in the run folder, {value!r} now")
    return found


def check_resume_state(state: object, path: Path, wanted: dict) -> dict:
    """The loaded ``state.pt`` if it can continue the training described by ``wanted``.

    Raises:
        CheckpointError: naming ``path`` and what is missing, or every field that differs.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a DINA training state (a dict), found {type(state).__name__}")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing or not isinstance(state["history"], list):
        raise CheckpointError(f"{path}: not a DINA training state (fields {missing or ['history']} "
                              "missing or malformed)")
    saved = state.get("identity") or {"data_fingerprint": state.get("data_fingerprint")}
    diffs = differences(saved, wanted)
    if diffs:
        raise CheckpointError(f"{path}: cannot resume: the interrupted training differs from this one: "
                              + "; ".join(diffs) + ". Pass the data and options of the first training, "
                              "or choose another run folder")
    return state
