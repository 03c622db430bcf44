"""A run folder's ``run.json``, checked field by field, and what its ``model.pt`` records, read without torch.

Listings (DINA Studio's sidebar and Train page) read every run folder on every page: a folder
broken by hand, by a crash or by a collaborator must be named as broken with the reason, never
break the listing. ``read_summary`` raises CheckpointError naming the file and the field; the
full weights-only load (``runs.run.load_run``) stays the final word on ``model.pt``.

What a listing ranks and gates runs by (kind, validation scores, recording, shuffled pairing) is taken
from ``model.pt``, the file that travels with the weights, never from ``run.json``, which is for humans and
scripts and which anyone may edit: ``read_saved`` reads the checkpoint's pickle with an unpickler that
resolves no global beyond ``collections.OrderedDict`` and leaves every tensor unread, in about 2 ms for the
demo run's 12 MB file, so the Data page still opens without torch. Where ``run.json`` says otherwise the
listing says so (``disagreement``).
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import pickle
import zipfile
from pathlib import Path

from ..errors import CheckpointError
from .folder import MODEL_FILE, SUMMARY_FILE

MAX_SUMMARY_BYTES = 16 * 2**20  # a run.json is a few kB to a few MB (one history row per epoch); so is model.pt's pickle
CHECKPOINT_FORMAT = "dina-checkpoint"  # checkpoint.CHECKPOINT_FORMAT, named here without importing torch
# what a listing decides by: the same in run.json and model.pt unless one was edited
_COMPARED = (("kind",), ("metadata", "unselected_val_top1"), ("metadata", "best_val_top1"),
             ("metadata", "data_fingerprint"), ("metadata", "data_provenance"),
             ("train_config", "shuffle_pairs"), ("train_config", "validation_fraction"))


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
    return _checked(info, wrong, file)


def _checked(info: dict, wrong, file: Path) -> dict:
    """{kind, history, metadata, train_config} of a run.json or checkpoint payload, every field checked."""
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
    for field in ("best_val_top1", "unselected_val_top1", "train_seconds"):
        if meta.get(field) is not None and not _number(meta[field]):
            raise wrong(f"metadata.{field}", "a number", meta[field])
    if not isinstance(meta.get("data_name", ""), str):
        raise wrong("metadata.data_name", "a string", meta["data_name"])
    return {"kind": info["kind"], "history": info["history"], "metadata": meta, "train_config": train_config}


class _Unread:
    """Stands for a tensor or storage of the checkpoint: nothing is read, called or imported."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _ListingUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module.split(".")[0] == "torch":  # tensor rebuilders and storage types: stand-ins that do nothing
            return _Unread
        raise pickle.UnpicklingError(f"a checkpoint names {module}.{name}; DINA checkpoints name only torch's "
                                     "tensor rebuilders")

    def persistent_load(self, pid):  # a tensor's storage, in its own file of the archive: never read
        return _Unread()


def read_saved(folder: str | os.PathLike) -> dict:
    """What ``folder/model.pt`` records beside its weights: {kind, history, metadata, train_config}, checked as
    ``run.json`` is (see ``read_summary``), without reading a tensor or importing torch.

    Raises:
        CheckpointError: naming ``model.pt`` (and the field): not a checkpoint, or a field missing or of the
            wrong type.
    """
    file = Path(folder) / MODEL_FILE
    problem = model_problem(folder)
    if problem is not None:
        raise CheckpointError(problem)
    try:
        with zipfile.ZipFile(file) as archive:
            entry = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            with archive.open(entry) as fp:
                raw = fp.read(MAX_SUMMARY_BYTES + 1)
        if len(raw) > MAX_SUMMARY_BYTES:
            raise CheckpointError(f"{file}: a pickle of more than {MAX_SUMMARY_BYTES:,} bytes beside the weights")
        payload = _ListingUnpickler(io.BytesIO(raw)).load()
    except CheckpointError:
        raise
    except Exception as exc:  # a damaged archive or pickle raises many types
        raise CheckpointError(f"{file}: not a readable DINA checkpoint ({type(exc).__name__}: {exc})") from None

    def wrong(field: str, expected: str, found: object) -> CheckpointError:
        return CheckpointError(f"{file}: field '{field}': expected {expected}, found {_kind(found)}")

    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise wrong("format", f"'{CHECKPOINT_FORMAT}'", payload.get("format") if isinstance(payload, dict) else payload)
    return _checked(payload, wrong, file)


def _disagreement(summary: dict, saved: dict) -> str | None:
    """Where ``run.json`` says otherwise than ``model.pt`` on what a listing decides by, as one sentence."""
    def value(info: dict, path: tuple):
        return info.get(path[0]) if len(path) == 1 else info.get(path[0], {}).get(path[1])

    def same(a, b) -> bool:
        return a == b or (_number(a) and _number(b) and math.isnan(a) and math.isnan(b))

    differ = [f"{'.'.join(p)} {value(summary, p)!r} there, {value(saved, p)!r} here" for p in _COMPARED
              if not same(value(summary, p), value(saved, p))]
    return (f"{SUMMARY_FILE} disagrees with {MODEL_FILE} ({'; '.join(differ)}): edited after training? "
            f"Listed as {MODEL_FILE} records it") if differ else None


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
    epochs, seconds, shuffled, problem, disagreement}, every value as ``model.pt`` records it (``read_saved``).

    ``problem`` is None, or why the folder is broken (``run.json`` or ``model.pt``; then the other fields are
    placeholders); ``disagreement`` is None, or where ``run.json`` says otherwise (``_COMPARED``).
    """
    try:
        summary = read_summary(folder)
        info = read_saved(folder)
    except CheckpointError as exc:
        return {"kind": "?", "metadata": {}, "validation_fraction": 0.1, "fingerprint": None, "data_name": "",
                "best_val_top1": None, "epochs": 0, "seconds": None, "shuffled": False, "problem": str(exc),
                "disagreement": None}
    meta = info["metadata"]
    return {"kind": info["kind"], "metadata": meta,
            "validation_fraction": info["train_config"].get("validation_fraction", 0.1),
            "fingerprint": meta["data_fingerprint"], "data_name": meta.get("data_name", ""),
            "best_val_top1": meta.get("best_val_top1"), "epochs": len(info["history"]),
            "seconds": meta.get("train_seconds"), "shuffled": bool(info["train_config"].get("shuffle_pairs", False)),
            "problem": None, "disagreement": _disagreement(summary, info)}
