"""Batched, gradient-free encoding, with the model's training mode always restored."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .two_tower import TwoTowerModel


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``model`` in eval mode inside the block and restore its previous mode after, even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def encode_images(model: TwoTowerModel, images: torch.Tensor, level: str | None = None,
                  batch_size: int = 1024) -> torch.Tensor:
    """(n, 1, H, W) normalised images -> (n, D) float32 embeddings on the model's device."""
    device = _device_of(model)
    with eval_mode(model):
        parts = [model.encode_image(images[i:i + batch_size].to(device), level=level).float()
                 for i in range(0, len(images), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, 0, device=device)


@torch.no_grad()
def encode_responses(model: TwoTowerModel, responses: torch.Tensor, level: str | None = None,
                     neuron_mask: torch.Tensor | None = None, batch_size: int = 4096) -> torch.Tensor:
    """(n, n_neurons) normalised responses -> (n, D) float32 embeddings on the model's device."""
    device = _device_of(model)
    mask = None if neuron_mask is None else neuron_mask.to(device)
    with eval_mode(model):
        parts = [model.encode_response(responses[i:i + batch_size].to(device), level=level, neuron_mask=mask).float()
                 for i in range(0, len(responses), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, 0, device=device)
