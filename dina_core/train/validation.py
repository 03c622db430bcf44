"""The early-stopping score: single-trial neural -> image top-1 on the validation tier."""

from __future__ import annotations

import numpy as np

from ..evaluate.retrieval import target_ranks
from ..evaluate.tasks import tier_task
from ..model.inference import encode_images, encode_responses
from ..model.two_tower import TwoTowerModel
from ..runs.prepare import PreparedData


def validation_top1(model: TwoTowerModel, data: PreparedData, tier: str = "validation") -> float:
    """Fraction of ``tier`` trials whose own image ranks first among the tier's distinct images."""
    if len(data.tier_trials[tier]) == 0:
        return float("nan")
    task = tier_task(data, tier)
    queries, targets = task.queries("single_trial")
    z_img = encode_images(model, task.images)
    return float(np.mean(target_ranks(encode_responses(model, queries), z_img, targets) == 0))
