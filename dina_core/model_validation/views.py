"""Reading a validation folder back: its results, and a row's alignment map over one test stimulus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..data.format import DinaData
from ..errors import DinaError
from ..runs.prepare import Preprocessing
from .alignment import load_level
from .outputs import JSON

REQUIRED = ("recording", "rows", "control", "pixel", "ceiling", "grid", "preprocessing", "networks")


def load_result(folder: str | os.PathLike) -> dict:
    """``folder/validation.json`` as written by ``validate_models``.

    Raises:
        DinaError: no such file, not JSON, or without the fields a validation writes (naming the first missing).
    """
    path = Path(folder) / JSON
    if not path.is_file():
        raise DinaError(f"{path}: no such file; expected the validation.json of dina validate-model")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DinaError(f"{path}: not a validation.json ({type(exc).__name__}: {exc})"[:300]) from None
    if not isinstance(result, dict):
        raise DinaError(f"{path}: expected a JSON object, found {type(result).__name__}")
    missing = [key for key in REQUIRED if key not in result]
    if missing:
        raise DinaError(f"{path}: field '{missing[0]}' missing; expected the validation.json of dina validate-model")
    return result


def test_images(folder: str | os.PathLike, row: dict) -> np.ndarray:
    """(N,) stimulus rows of the test tier a row's level was scored on (the images its map can be drawn over)."""
    _, payload = _level(folder, row)
    return payload["test_images"].numpy()


def _level(folder, row: dict):
    file = row.get("file")
    if not isinstance(file, str) or not file.startswith("levels/") or "/" in file[len("levels/"):]:
        raise DinaError(f"row {row.get('model')} / {row.get('layer')}: field 'file' {file!r}: expected "
                        "levels/<name>.pt inside the validation folder")
    path = Path(folder) / file
    if not path.is_file():
        raise DinaError(f"{path}: no such file (the row's saved level)")
    try:
        return load_level(path)
    except Exception as exc:  # a damaged or foreign file: said, never unpickled beyond tensors
        raise DinaError(f"{path}: not a saved level of dina validate-model ({type(exc).__name__})") from None


def alignment_map(result: dict, folder: str | os.PathLike, row: dict, data: DinaData, image: int) -> np.ndarray:
    """(gh, gw) per-location similarity of test stimulus ``image`` (a row of ``data.images``) with the averaged
    response to it, at the row's level; summed over the grid it is the pair's similarity.

    Raises:
        DinaError: the image is not one of the test images the level was scored on, or ``data`` is not the
            recording the validation ran on (another number of neurons).
    """
    model, payload = _level(folder, row)
    rows = payload["test_images"].numpy()
    where = np.flatnonzero(rows == int(image))
    if where.size == 0:
        raise DinaError(f"stimulus {image}: not a test image of this validation (it has {len(rows)})")
    trials = np.flatnonzero((data.image_index == int(image)) & data.tier_mask("test"))
    if data.n_neurons != model.n_neurons or trials.size == 0:
        raise DinaError(f"the recording has {data.n_neurons} neurons and {trials.size} test trials of stimulus "
                        f"{image}; the validation was run on {model.n_neurons} neurons")
    pre = Preprocessing.from_dict(result["preprocessing"], model.n_neurons, "validation.json")
    behavior = None if data.behavior is None else data.behavior[trials]
    response = pre.responses(data.responses[trials], behavior).mean(axis=0, keepdims=True)
    level = next(iter(model.map_shapes)) if row["layer"] not in model.map_shapes else row["layer"]
    with torch.no_grad():
        values = model.alignment_map(payload["test_features"][where], torch.from_numpy(response), level)
    return values[0].numpy()
