"""The early-stopping score: single-trial neural -> image top-1 on the validation tier."""

from __future__ import annotations

import numpy as np
import torch

from ..evaluate.queries import unique_targets
from ..evaluate.retrieval import target_ranks
from ..model.inference import encode_images, encode_responses
from ..model.two_tower import TwoTowerModel
from ..runs.prepare import PreparedData


def validation_top1(model: TwoTowerModel, data: PreparedData, tier: str = "validation") -> float:
    """Fraction of ``tier`` trials whose own image ranks first among the tier's distinct images."""
    trials = data.tier_trials[tier]
    if len(trials) == 0:
        return float("nan")
    image_index = data.image_index[torch.as_tensor(trials, device=data.image_index.device)].cpu().numpy()
    candidates, targets = unique_targets(image_index)
    z_img = encode_images(model, data.images[torch.as_tensor(candidates, device=data.images.device)])
    z_neu = encode_responses(model, data.responses[torch.as_tensor(trials, device=data.responses.device)])
    ranks = target_ranks(z_neu, z_img, targets)
    return float(np.mean(ranks == 0))
