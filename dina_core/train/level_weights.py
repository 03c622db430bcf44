"""Retrieval weights of a model's levels, chosen on validation retrieval after training.

Levels see different things (on real data the CNN's maps and a linear pixel read-out each
decode what the other misses: summing their similarity matrices beat either alone), and a
level's cosine similarities spread more or less widely, so equal weights are rarely best.
After training, each level's validation similarity matrix is computed once; every weight
vector of a small grid (each level in ``GRID``, scaled so the largest is 1) scores
single-trial neural -> image top-1 on them, and the best is kept if it beats the model's current
retrieval weights (those it trained with) by more than one paired standard error (of the per-trial
differences in being correct): a small validation tier (tens of images) cannot tell the 61 candidates
of three levels (369 of four) apart, and then the current weights stay. Ties go to the weights
closest to the current weights.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..evaluate.tasks import tier_task
from ..model.inference import encode_images, encode_responses
from ..model.two_tower import TwoTowerModel
from ..runs.prepare import PreparedData

GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
MAX_QUERIES = 4096  # validation trials scored (a fixed subset beyond): bounds the (levels, T, N) similarities


def _candidates(n_levels: int) -> list[tuple[float, ...]]:
    """Distinct weight vectors of ``GRID``^n, each scaled to max 1 (all-zero left out)."""
    seen = {}
    for combo in itertools.product(GRID, repeat=n_levels):
        top = max(combo)
        if top > 0:
            key = tuple(round(w / top, 6) for w in combo)
            seen.setdefault(key, None)
    return list(seen)


def level_similarities(model: TwoTowerModel, data: PreparedData, tier: str = "validation"
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-level single-trial similarity of a tier: ((n_levels, T, N) float32, (T,) int64 targets)."""
    task = tier_task(data, tier)
    queries, targets = task.queries("single_trial")
    if len(targets) > MAX_QUERIES:
        keep = np.random.default_rng(0).choice(len(targets), MAX_QUERIES, replace=False)
        queries, targets = queries[torch.as_tensor(keep, device=queries.device)], targets[keep]
    sims = [encode_responses(model, queries, level=lv) @ encode_images(model, task.images, level=lv).T
            for lv in model.levels]
    return torch.stack(sims), torch.as_tensor(targets, device=sims[0].device)


def correct_of(similarities: torch.Tensor, targets: torch.Tensor, weights: tuple[float, ...]) -> torch.Tensor:
    """(T,) float 1 where the weighted sum of per-level similarities ranks the target first (ties count against)."""
    w = torch.as_tensor(weights, dtype=similarities.dtype, device=similarities.device)
    score = torch.einsum("l,ltn->tn", w, similarities.float())
    own = score.gather(1, targets[:, None])
    slack = torch.finfo(torch.float32).eps * 4 * float(w.sum())
    return ((score >= own - slack).sum(dim=1) == 1).float()


def choose_level_weights(model: TwoTowerModel, data: PreparedData, tier: str = "validation"
                         ) -> tuple[tuple[float, ...], list[dict]]:
    """Best retrieval weights on ``tier`` (see the module doc) and the table of every candidate tried.

    Returns:
        (weights in ``model.levels`` order, [{'weights': [...], 'top1': float, 'gain_se': paired standard
        error of its difference from the current weights}] best first).
    """
    current = np.array([model.level_weights[lv] for lv in model.levels])
    current = tuple(round(float(w), 6) for w in current / current.max())
    sims, targets = level_similarities(model, data, tier)
    base = correct_of(sims, targets, current)
    table = []
    candidates = _candidates(len(model.levels))
    for w in candidates + ([current] if current not in candidates else []):
        diff = correct_of(sims, targets, w) - base
        table.append({"weights": list(w), "top1": float(base.mean() + diff.mean()),
                      "gain_se": float(diff.std() / np.sqrt(len(diff))) if len(diff) > 1 else 0.0})
    table.sort(key=lambda row: (-row["top1"], float(np.abs(np.array(row["weights"]) - current).sum())))
    best = table[0]
    if best["top1"] - float(base.mean()) <= best["gain_se"]:
        best = next(row for row in table if tuple(row["weights"]) == current)
    return tuple(best["weights"]), table


def set_level_weights(model: TwoTowerModel, data: PreparedData) -> dict:
    """Choose ``model``'s retrieval weights on validation (``choose_level_weights``) and set them.

    The model's ``level_weights`` (and, for DINA and an ensemble's members, ``config.retrieval_weights``,
    so a saved run keeps them) take the chosen weights.

    Returns:
        What a run's metadata records: {'chosen', 'before' (the weights it had), 'validation_top1', 'tried'}.
    """
    before = [model.level_weights[lv] for lv in model.levels]
    weights, table = choose_level_weights(model, data)
    for m in (model, *getattr(model, "members", ())):
        m.level_weights = dict(zip(model.levels, weights))
        if hasattr(m, "config") and hasattr(m.config, "retrieval_weights"):
            m.config.retrieval_weights = weights
    return {"chosen": list(weights), "before": before, "tried": len(table),
            "validation_top1": next(row["top1"] for row in table if tuple(row["weights"]) == weights)}
