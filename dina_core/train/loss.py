"""Symmetric InfoNCE, per level and summed over levels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(z_neural: torch.Tensor, z_image: torch.Tensor, logit_scale: torch.Tensor,
             image_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE of a paired batch (CLIP's loss).

    Args:
        z_neural: (B, D) L2-normalised response embeddings.
        z_image: (B, D) L2-normalised image embeddings; row i pairs with z_neural[i].
        logit_scale: scalar, 1 / temperature.
        image_ids: optional (B,) id of the image in each pair. Two trials of the same
            image are not negatives of each other (a repeated image in a batch would
            otherwise be pushed away from its own responses), so those entries are masked.

    Returns:
        Scalar: mean of the response->image and image->response cross-entropies.
    """
    logits = logit_scale * z_neural @ z_image.T
    labels = torch.arange(logits.shape[0], device=logits.device)
    if image_ids is not None:
        same = image_ids[:, None] == image_ids[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def multilevel_info_nce(outputs: dict[str, dict[str, torch.Tensor]], level_weights: dict[str, float],
                        image_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum over levels of ``info_nce``.

    Args:
        outputs: a model's forward output: {'image': {level: (B, D)}, 'neural': {...}, 'logit_scale': {...}}.
        level_weights: {level: weight}.
        image_ids: see ``info_nce``.

    Returns:
        (total loss, {level: that level's loss, a detached scalar on the loss's device} for the levels of
        non-zero weight). Left on the device: reading a loss back waits for the device (see ``loop.LOG_EVERY``).
    """
    total = 0.0
    per_level = {}
    for level, weight in level_weights.items():
        if weight == 0:  # a level not trained (e.g. DINA's frozen linear level): nothing to compute
            continue
        loss = info_nce(outputs["neural"][level].float(), outputs["image"][level].float(),
                        outputs["logit_scale"][level].float(), image_ids)
        per_level[level] = loss.detach()
        total = total + weight * loss
    return total, per_level
