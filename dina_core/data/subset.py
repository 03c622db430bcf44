"""A recording cut to some of its trials: the few-shot curve's smaller training budgets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .format import DinaData


def keep_trials(data: DinaData, keep: np.ndarray) -> DinaData:
    """``data`` with only the trials where ``keep`` (n_trials,) bool is True; images and neurons unchanged.

    Every per-trial array is cut alike (responses, image index, tiers, behaviour, extra arrays); the simulator's
    ground truth is dropped (some of it is per trial), so the subset is scored, never checked against truth.
    """
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (data.n_trials,):
        raise ValueError(f"keep: expected ({data.n_trials},) booleans, got shape {keep.shape}")
    return replace(data, responses=data.responses[keep], image_index=data.image_index[keep], tiers=data.tiers[keep],
                   behavior=None if data.behavior is None else data.behavior[keep],
                   extra={k: np.asarray(v)[keep] for k, v in data.extra.items()}, ground_truth=None)


def with_tiers(data: DinaData, tiers: dict[str, np.ndarray]) -> DinaData:
    """``data`` with its trials' tiers set from ``tiers`` ({tier: trial indices}, e.g. a run's split that carved a
    validation tier out of train), so every subset of its train trials keeps the same validation trials."""
    labels = np.asarray(data.tiers, dtype=object).copy()
    for tier, trials in tiers.items():
        labels[np.asarray(trials, dtype=np.int64)] = tier
    return replace(data, tiers=labels)
