"""A run folder's ``run.json``, checked field by field, and a quick check of its ``model.pt`` (no torch).

Listings (DINA Studio's sidebar and Train page) read every run folder on every page: a folder
broken by hand, by a crash or by a collaborator must be named as broken with the reason, never
break the listing. ``read_summary`` raises CheckpointError naming the file and the field; the
full weights-only load (``runs.run.load_run``) stays the final word on ``model.pt``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from ..errors import CheckpointError
from .folder import MODEL_FILE, SUMMARY_FILE

MAX_SUMMARY_BYTES = 16 * 2**20  # a run.json is a few kB to a few MB (one history row per epoch)


def _kind(value: object) -> str:
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else (
        "null" if value is None else f"{type(value).__name__} {value!r}"[:60])


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_summary(folder: str | os.PathLike) -> dict:
    """``folder/run.json`` as {kind, history, metadata, train_config}, every field checked.

    Raises:
        CheckpointError: the file is missing, too large, not JSON, not an object, or a field
            (kind, history, metadata, metadata.data_fingerprint, ...) is missing or of the wrong type.
    """
    file = Path(folder) / SUMMARY_FILE
    try:
        size = file.stat().st_size
        if size > MAX_SUMMARY_BYTES:
            raise CheckpointError(f"{file}: {size:,} bytes; a run summary is at most {MAX_SUMMARY_BYTES:,}")
        info = json.loads(file.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{file}: missing (the save was interrupted, or this is not a run folder)") from None
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{file}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise CheckpointError(f"{file}: JSON nested too deeply") from None

    def wrong(field: str, expected: str, found: object) -> CheckpointError:
        return CheckpointError(f"{file}: field '{field}': expected {expected}, found {_kind(found)}")

    if not isinstance(info, dict):
        raise wrong("<top level>", "an object", info)
    for field, cls, expected in (("kind", str, "a model kind ('dina', 'linear')"), ("history", list, "a list"),
                                 ("metadata", dict, "an object")):
        if field not in info:
            raise CheckpointError(f"{file}: field '{field}' missing")
        if not isinstance(info[field], cls):
            raise wrong(field, expected, info[field])
    train_config = info.get("train_config", {})
    if not isinstance(train_config, dict):
        raise wrong("train_config", "an object", train_config)
    for i, row in enumerate(info["history"]):
        if not isinstance(row, dict) or not _number(row.get("val_top1", 0.0)):
            raise wrong(f"history[{i}]", "an object with a numeric 'val_top1'", row)
    meta = info["metadata"]
    if not isinstance(meta.get("data_fingerprint"), str):
        raise wrong("metadata.data_fingerprint", "a string", meta.get("data_fingerprint"))
    for field in ("best_val_top1", "train_seconds"):
        if meta.get(field) is not None and not _number(meta[field]):
            raise wrong(f"metadata.{field}", "a number", meta[field])
    if not isinstance(meta.get("data_name", ""), str):
        raise wrong("metadata.data_name", "a string", meta["data_name"])
    return {"kind": info["kind"], "history": info["history"], "metadata": meta, "train_config": train_config}


def model_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder/model.pt`` is certainly not a checkpoint (missing, truncated, another file), else None.

    A quick look at the archive's directory; it does not unpickle anything (see ``load_run`` for that).
    """
    file = Path(folder) / MODEL_FILE
    if not file.is_file():
        return f"{file}: missing"
    try:
        with zipfile.ZipFile(file) as archive:
            if not any(n.endswith("/data.pkl") for n in archive.namelist()):
                return f"{file}: a zip archive without a PyTorch checkpoint inside"
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"{file}: not a PyTorch checkpoint ({exc}); truncated, or another kind of file"
    return None


def describe(folder: str | os.PathLike) -> dict:
    """A listing of a run folder: {kind, metadata, validation_fraction, fingerprint, data_name, best_val_top1,
    epochs, seconds, shuffled, problem}; ``problem`` is None, or why the folder is broken (then the other
    fields are placeholders)."""
    try:
        info = read_summary(folder)
    except CheckpointError as exc:
        return {"kind": "?", "metadata": {}, "validation_fraction": 0.1, "fingerprint": None, "data_name": "",
                "best_val_top1": None, "epochs": 0, "seconds": None, "shuffled": False, "problem": str(exc)}
    meta = info["metadata"]
    return {"kind": info["kind"], "metadata": meta,
            "validation_fraction": info["train_config"].get("validation_fraction", 0.1),
            "fingerprint": meta["data_fingerprint"], "data_name": meta.get("data_name", ""),
            "best_val_top1": meta.get("best_val_top1"), "epochs": len(info["history"]),
            "seconds": meta.get("train_seconds"), "shuffled": bool(info["train_config"].get("shuffle_pairs", False)),
            "problem": model_problem(folder)}
