"""Checkpoints: plain dicts of tensors and JSON-able values, written atomically, loaded weights-only.

A model checkpoint holds ``{format, version, kind, model_config, train_config, n_neurons,
image_shape, preprocessing, state_dict, history, metadata}``; the model is rebuilt through
its constructor (``build_model``), never unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..errors import CheckpointError

CHECKPOINT_FORMAT = "dina-checkpoint"
CHECKPOINT_VERSION = 1


def atomic_save(obj: dict, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, expect_format: bool = True) -> dict:
    """Load with ``weights_only=True`` onto the CPU; raise CheckpointError with the file named."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"{path}: not a readable DINA checkpoint ({type(exc).__name__}: {exc})") from exc
    if expect_format:
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: field 'format': expected '{CHECKPOINT_FORMAT}', "
                                  f"found {payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r}")
        if int(payload.get("version", -1)) > CHECKPOINT_VERSION:
            raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is newer than this "
                                  f"DINA understands ({CHECKPOINT_VERSION}); upgrade DINA")
    return payload
