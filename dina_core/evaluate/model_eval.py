"""Test-tier retrieval of a trained run, combined and per aligned level."""

from __future__ import annotations

import numpy as np
import torch

from ..data.format import DinaData
from ..model.inference import encode_images, encode_responses
from ..runs.prepare import PreparedData
from ..runs.run import Run, check_compatible
from .queries import evaluate_retrieval

COMBINED = "combined"


def test_tier(prepared: PreparedData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(responses (T, n) float32, images (n_images, 1, H, W) float32, image_index (T,)) of the test tier, on CPU."""
    test = torch.as_tensor(prepared.tier_trials["test"], device=prepared.responses.device)
    return (prepared.responses[test].cpu().numpy(), prepared.images.cpu().numpy(),
            prepared.image_index[test].cpu().numpy())


def evaluate_run(run: Run, data: DinaData, *, per_level: bool = True, seed: int = 0,
                 neuron_mask: torch.Tensor | None = None) -> list[dict]:
    """Retrieval rows (see ``evaluate_retrieval``) with a ``level`` key: 'combined' and each level.

    Args:
        run: a trained run.
        data: a recording compatible with the run (same neurons and image size).
        per_level: also score each aligned level alone (only when the model has several).
        seed: bootstrap and repeat-set seed.
        neuron_mask: optional (n_neurons,) 0/1 mask applied to every response.
    """
    check_compatible(run, data)
    responses, images, image_index = test_tier(run.prepare(data))
    device = next(run.model.parameters()).device
    levels = [None] + (list(run.model.levels) if per_level and len(run.model.levels) > 1 else [])
    rows = []
    for level in levels:
        def enc_r(r, level=level):
            return encode_responses(run.model, torch.as_tensor(r, device=device), level, neuron_mask)

        def enc_i(x, level=level):
            return encode_images(run.model, torch.as_tensor(x, device=device), level)

        for row in evaluate_retrieval(enc_r, enc_i, responses, images, image_index, seed=seed):
            rows.append({"level": level or COMBINED, **row})
    return rows
