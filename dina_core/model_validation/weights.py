"""A weights file for a torchvision architecture: read weights-only, matched to the architecture's keys.

Checkpoints of trained networks rarely hold exactly ``model.state_dict()``: training scripts wrap it
(``{"state_dict": ...}``, ``{"model": ...}``), DataParallel prefixes ``module.``, self-supervised trainings keep the
network under ``backbone.``, ``encoder.`` or ``module.encoder_q.`` and replace its classifier by a projection head.
So: the wrapper is unwrapped, the one prefix whose removal names the architecture's own keys is removed, and keys
of the classifier head (top-level modules named in ``HEADS``, whose outputs are never maps) may be missing, extra or
of another shape, which is said in a note. Any other difference is refused, naming the keys.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from torch import nn

from ..errors import DinaError

HEADS = ("fc", "classifier", "head", "heads")  # torchvision's classifier modules: vectors, never maps


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state dict from ``path``, loaded with ``weights_only=True`` (a pickled full model is refused, unopened);
    a bare one or one under 'state_dict' / 'model' (training checkpoints)."""
    if not Path(path).is_file():
        raise DinaError(f"--weights {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on a file that is not a weights-only torch file
        raise DinaError(f"--weights {path}: not a state dict that loads with weights_only=True (a pickled full "
                        f"model, or not a torch file); it was not unpickled. Save model.state_dict() instead "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DinaError(f"--weights {path}: expected a state dict (parameter name -> tensor), found "
                        f"{type(state).__name__}")
    return {str(k): v for k, v in state.items()}


def strip_prefix(state: dict[str, torch.Tensor], own: set[str]) -> tuple[dict[str, torch.Tensor], str]:
    """``state`` with the one key prefix removed that makes most of its keys the architecture's ``own`` ('' when
    the keys already are); keys without that prefix are dropped (a checkpoint's other networks)."""
    if sum(k in own for k in state) * 2 >= len(own):
        return state, ""
    prefixes = Counter(key[:len(key) - len(name)] for key in state for name in own
                       if key.endswith("." + name))
    if not prefixes:
        return state, ""
    prefix = prefixes.most_common(1)[0][0]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, prefix


def _is_head(key: str) -> bool:
    return key.split(".", 1)[0] in HEADS


def load_weights(network: nn.Module, path: str, label: str) -> list[str]:
    """Load ``path`` into ``network``; returns notes of what was left aside (a prefix, the classifier head).

    Raises:
        DinaError: a state dict of another architecture, naming its missing, unexpected and reshaped keys.
    """
    own = network.state_dict()
    state, prefix = strip_prefix(read_state_dict(path), set(own))
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    problems = [k for k in missing + unexpected + wrong if not _is_head(k)]
    if problems:
        def few(keys):
            return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        shapes = [f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})" for k in wrong if not _is_head(k)]
        parts = [f"{len(m)} missing keys ({few(m)})" if (m := [k for k in missing if not _is_head(k)]) else "",
                 f"{len(u)} unexpected keys ({few(u)})" if (u := [k for k in unexpected if not _is_head(k)]) else "",
                 f"{len(shapes)} of another shape ({few(shapes)})" if shapes else ""]
        raise DinaError(f"--weights {path}: not a state dict of {label}: " + "; ".join(p for p in parts if p))
    network.load_state_dict({k: v for k, v in state.items() if k in own and k not in wrong}, strict=False)
    notes = [f"weights under the prefix {prefix!r} in {Path(path).name}"] if prefix else []
    head = sorted({k.split(".", 1)[0] for k in missing + unexpected + wrong})
    if head:
        notes.append(f"the classifier head ({', '.join(head)}) is not the file's: left at its initialisation "
                     "(its outputs are vectors, never maps)")
    return notes
