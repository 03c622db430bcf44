"""Checkpoints: plain dicts of tensors and JSON-able values, written atomically, loaded weights-only.

A model checkpoint holds ``{format, version, kind, model_config, train_config, n_neurons,
image_shape, preprocessing, state_dict, history, metadata}``; the model is rebuilt through
its constructor (``build_model``), never unpickled, and its weights are checked before they are
loaded (``check_weights``): ``load_state_dict`` would cast integer weights silently.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from ..atomic import atomic_path, write_buffer
from ..errors import CheckpointError

CHECKPOINT_FORMAT = "dina-checkpoint"
CHECKPOINT_VERSION = 1


def atomic_save(obj: dict, path: str | os.PathLike) -> Path:
    """torch.save to memory, written to a temporary file in the same folder, then renamed over ``path``.

    Raises:
        DiskFullError: the disk filled up (torch's own writer would say only "file write failed", or
            "unexpected pos"): nothing was written, an earlier ``path`` is unchanged.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        write_buffer(tmp, buffer)
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


def check_weights(path: str | os.PathLike, field: str, state_dict: object, reference: dict[str, torch.Tensor]) -> None:
    """Refuse weights that would load as something else than what was trained.

    Args:
        path: the checkpoint, for messages.
        field: where ``state_dict`` sits in it ('state_dict', 'members[2]').
        state_dict: the checkpoint's weights by name.
        reference: the rebuilt model's ``state_dict()``: the dtype each tensor must have the kind of.

    Raises:
        CheckpointError: naming the tensor: not a tensor, integer (or complex) where the model's is floating
            (or the reverse), or holding NaN/Inf. Missing, unexpected and misshapen tensors are named by
            ``load_state_dict``.
    """
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: field '{field}': expected tensors by name, found {type(state_dict).__name__}")
    for name, tensor in state_dict.items():
        where, ref = f"{path}: field '{field}.{name}'", reference.get(name)
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{where}: expected a tensor, found {type(tensor).__name__}")
        if ref is None:
            continue
        if tensor.is_floating_point() != ref.is_floating_point() or tensor.is_complex():
            raise CheckpointError(f"{where}: expected {ref.dtype} values, as the model's, found {tensor.dtype} "
                                  "(loading would cast them silently)")
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise CheckpointError(f"{where}: expected finite weights, found {bad} NaN/Inf of {tensor.numel()}")
