"""Scores of a joint run: one evaluation table per recording (``table.evaluation_table``) and their mean."""

from __future__ import annotations

import numpy as np

from ..data.format import DinaData
from ..runs.joint import JointRun
from .table import evaluation_table

_KEY = ("level", "direction", "responses")  # what identifies a row across recordings


def joint_evaluation(joint: JointRun, recordings: dict[str, DinaData], tier: str = "test", *, seed: int = 0) -> dict:
    """Each recording's table, scored by its own model on its own candidates, and the mean over recordings.

    Args:
        joint: the joint run.
        recordings: {name: recording} for every recording of ``joint`` (each its own, checked by the caller).

    Returns:
        {'recordings': {name: evaluation_table(...)}, 'mean': [{'level', 'direction', 'responses', 'top1', 'top5',
        'fraction_of_ceiling' (None unless every recording has one), 'n_candidates': [N per recording]}]}: a
        'mean' row for each row every recording has. The recordings' chance levels differ with their N.
    """
    tables = {name: evaluation_table(run, recordings[name], tier, seed=seed) for name, run in joint.runs.items()}
    keyed = [{tuple(r[k] for k in _KEY): r for r in t["rows"]} for t in tables.values()]
    mean = []
    for key in keyed[0]:
        rows = [k[key] for k in keyed if key in k]
        if len(rows) < len(keyed):
            continue
        fractions = [r.get("fraction_of_ceiling") for r in rows]
        mean.append({**dict(zip(_KEY, key)), "top1": float(np.mean([r["top1"] for r in rows])),
                     "top5": float(np.mean([r["top5"] for r in rows])),
                     "fraction_of_ceiling": None if None in fractions else float(np.mean(fractions)),
                     "n_candidates": [r["n_candidates"] for r in rows]})
    return {"tier": tier, "recordings": tables, "mean": mean}
