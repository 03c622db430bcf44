"""Test-tier retrieval of a trained run, combined and per aligned level."""

from __future__ import annotations

import torch

from ..data.checked import check_recording
from ..data.format import DinaData
from ..model.inference import encode_images, encode_responses
from ..model.two_tower import TwoTowerModel
from ..runs.prepare import PreparedData
from ..runs.run import Run, check_compatible
from .tasks import TierEmbeddings, score_tasks, tier_task

COMBINED = "combined"


def tier_embeddings(run: Run, prepared: PreparedData, level: str | None = None,
                    neuron_mask: torch.Tensor | None = None, tier: str = "test") -> TierEmbeddings:
    """The run's embeddings of ``tier`` (default the test tier) at ``level`` (None: the combined retrieval score).

    Args:
        run: a trained run.
        prepared: ``run.prepare(data)``.
        level: an aligned level of ``run.model``, or None for the weighted combination.
        neuron_mask: optional (n_neurons,) 0/1 mask applied to every response.
        tier: the tier embedded ('test', or 'validation' to leave test untouched).
    """
    return model_tier_embeddings(run.model, prepared, level, neuron_mask, tier)


def model_tier_embeddings(model: TwoTowerModel, prepared: PreparedData, level: str | None = None,
                          neuron_mask: torch.Tensor | None = None, tier: str = "test") -> TierEmbeddings:
    """:func:`tier_embeddings` of a model with no run around it (a training's, before its run exists)."""
    device = next(model.parameters()).device

    def enc_r(r):
        return encode_responses(model, torch.as_tensor(r, device=device), level, neuron_mask)

    def enc_i(x):
        return encode_images(model, torch.as_tensor(x, device=device), level)

    return tier_task(prepared, tier).embed(enc_r, enc_i)


def evaluate_run(run: Run, data: DinaData, *, per_level: bool = True, seed: int = 0,
                 neuron_mask: torch.Tensor | None = None, tier: str = "test") -> list[dict]:
    """Retrieval rows (see ``tasks.score_tasks``) with a ``level`` key: 'combined' and each level.

    Args:
        run: a trained run.
        data: a recording compatible with the run (same neurons and image size).
        per_level: also score each aligned level alone (only when the model has several).
        seed: bootstrap and repeat-set seed.
        neuron_mask: optional (n_neurons,) 0/1 mask applied to every response.
        tier: the tier scored: 'test' (the model's score) or 'validation' (for choosing settings).
    """
    check_recording(data)
    check_compatible(run, data)
    prepared = run.prepare(data)
    levels = [None] + (list(run.model.levels) if per_level and len(run.model.levels) > 1 else [])
    return [{"level": level or COMBINED, **row} for level in levels
            for row in score_tasks(tier_embeddings(run, prepared, level, neuron_mask, tier), seed=seed)]
