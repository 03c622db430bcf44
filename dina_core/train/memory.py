"""Whether a model fits before it is built: its size fields within their maxima, its training within free memory.

The model is built once on PyTorch's ``meta`` device, which allocates nothing, so the count of its
weights is exact for any architecture and any number of neurons (``limits`` explains the two checks).
"""

from __future__ import annotations

import torch

from ..errors import DinaError
from ..limits import MODEL_MAXIMA, check_memory
from ..model import MODEL_KINDS, build_model

# float32 copies of every weight a training holds: the weights, their gradients, AdamW's two moments and the
# best weights kept for early stopping
WEIGHT_COPIES = 5


def training_bytes(kind: str, model_config: dict, n_neurons: int, image_shape: tuple[int, int]) -> tuple[int, int]:
    """(number of weights, bytes a training holds for them and the model's buffers), without allocating either."""
    with torch.device("meta"):
        model = build_model(kind, model_config, n_neurons, image_shape)
    weights = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return weights, 4 * WEIGHT_COPIES * weights + buffers


def check_training_fits(kind: str, model_config: dict | None, n_neurons: int | list[int],
                        image_shape: tuple[int, int], device: str) -> None:
    """Refuse a model whose size fields exceed ``limits.MODEL_MAXIMA``, or whose training needs more memory
    than ``device`` has free now.

    ``n_neurons``: a list for a joint model over several recordings (one model per recording: their needs add up,
    the shared image side counted once per recording, an over-estimate by its few weights).

    Raises:
        SizeError: a size field above its maximum (a ConfigError naming the field).
        DinaError: the weights would not fit, with the model's sizes named.
    """
    if kind not in MODEL_KINDS:
        raise DinaError(f"unknown model kind {kind!r}; expected one of {', '.join(sorted(MODEL_KINDS))}")
    config = MODEL_KINDS[kind][1].from_dict(dict(model_config or {}))  # sizes checked by the config
    counts = [n_neurons] if isinstance(n_neurons, int) else list(n_neurons)
    needs = [training_bytes(kind, config.to_dict(), n, image_shape) for n in counts]
    weights, need = sum(w for w, _ in needs), sum(b for _, b in needs)
    sizes = ", ".join(f"{name} {getattr(config, name)}" for name in MODEL_MAXIMA[type(config).__name__]
                      if ":" not in name)
    neurons = " + ".join(f"{n:,}" for n in counts)
    check_memory(need, f"{kind} model of {weights:,} weights for {neurons} neurons ({sizes})",
                 "smaller sizes or fewer neurons", device)
