"""Two models on the same test trials: the paired difference of their single-trial top-1, with a bootstrap interval
over images (the honest comparison of two models of one recording: trial-level noise cancels)."""

from __future__ import annotations

import numpy as np

from ..data.format import DinaData
from ..runs.run import Run
from .model_eval import tier_embeddings
from .retrieval import bootstrap_ci


def single_trial_hits(run: Run, data: DinaData) -> tuple[np.ndarray, np.ndarray]:
    """(T,) 1.0 where a test trial retrieves its own image first (neural -> image), and (T,) its image column."""
    embeddings = tier_embeddings(run, run.prepare(data))
    ranks = embeddings.ranks("neural_to_image", "single_trial")
    return (ranks == 0).astype(np.float64), np.asarray(embeddings.groups("neural_to_image", "single_trial"))


def paired_difference(run: Run, reference: Run, data: DinaData, seed: int = 0) -> dict:
    """Single-trial neural -> image top-1 of ``run`` minus ``reference``'s on ``data``'s test trials.

    Returns:
        {'single_trial': the mean difference, 'ci95': [lo, hi] (bootstrap over test images)}.
    """
    (hits, groups), (ref, ref_groups) = single_trial_hits(run, data), single_trial_hits(reference, data)
    if hits.shape != ref.shape or not np.array_equal(groups, ref_groups):
        raise ValueError("paired difference of runs scored on other test trials")
    diff = hits - ref
    lo, hi = bootstrap_ci(diff, seed=seed, groups=groups)
    return {"single_trial": float(diff.mean()), "ci95": [float(lo), float(hi)]}
