"""What every DINA retrieval model shares: levels, temperatures, encoders (open_clip's shape).

A model aligns images and responses at one or more *levels* (feature-map stages or a
pooled "global" level). At each level both towers give a flat vector per sample;
after L2 normalisation their dot product is the pair's similarity at that level.
The retrieval score of a pair is the weighted sum of its per-level similarities,
which equals the dot product of the concatenated, sqrt(weight)-scaled embeddings
that ``encode_image``/``encode_response`` return with ``level=None``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's clamp: temperature never below 0.01


class TwoTowerModel(nn.Module):
    """Base class: subclasses implement ``image_levels`` and ``response_levels``."""

    def __init__(self, levels: tuple[str, ...], level_weights: tuple[float, ...], init_temperature: float):
        super().__init__()
        self.levels = tuple(levels)
        self.level_weights = dict(zip(self.levels, (float(w) for w in level_weights)))
        self.loss_weights = dict(self.level_weights)  # subclasses may score retrieval with other weights
        self.logit_scale = nn.ParameterDict({
            level: nn.Parameter(torch.tensor(math.log(1.0 / init_temperature))) for level in self.levels
        })

    def image_levels(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images (B, 1, H, W) -> {level: (B, D_level)} unnormalised."""
        raise NotImplementedError

    def response_levels(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                        ) -> dict[str, torch.Tensor]:
        """responses (B, n_neurons) -> {level: (B, D_level)} unnormalised."""
        raise NotImplementedError

    def _combine(self, per_level: dict[str, torch.Tensor], level: str | None, normalize: bool) -> torch.Tensor:
        if level is not None:
            z = per_level[level]
            return F.normalize(z, dim=-1) if normalize else z
        parts = [F.normalize(per_level[lv], dim=-1) * math.sqrt(self.level_weights[lv]) for lv in self.levels]
        return torch.cat(parts, dim=-1)

    def encode_image(self, images: torch.Tensor, level: str | None = None, normalize: bool = True) -> torch.Tensor:
        """(B, 1, H, W) -> (B, D). ``level=None``: the combined retrieval embedding."""
        return self._combine(self.image_levels(images), level, normalize)

    def encode_response(self, responses: torch.Tensor, level: str | None = None, normalize: bool = True,
                        neuron_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_neurons) -> (B, D). ``level=None``: the combined retrieval embedding."""
        return self._combine(self.response_levels(responses, neuron_mask), level, normalize)

    def forward(self, images: torch.Tensor, responses: torch.Tensor,
                neuron_mask: torch.Tensor | None = None) -> dict[str, dict[str, torch.Tensor]]:
        """Paired batch -> {'image': {level: (B, D)}, 'neural': {level: (B, D)}, 'logit_scale': {level: ()}}.

        Embeddings are L2-normalised; ``logit_scale`` is exp(log-scale), clamped at 100.
        """
        return self.outputs(self.image_levels(images), self.response_levels(responses, neuron_mask))

    def outputs(self, img: dict[str, torch.Tensor], neu: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
        """``forward``'s output from the two towers' unnormalised levels ({level: (B, D)} each; a level a
        training forward leaves out, because nothing trains it, is left out here too)."""
        levels = [lv for lv in self.levels if lv in img]
        return {
            "image": {lv: F.normalize(img[lv], dim=-1) for lv in levels},
            "neural": {lv: F.normalize(neu[lv], dim=-1) for lv in levels},
            "logit_scale": {lv: self.logit_scale[lv].clamp(max=MAX_LOGIT_SCALE).exp() for lv in levels},
        }
