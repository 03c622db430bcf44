"""A neural tower aligned with a frozen network's feature maps: model validation's two-tower model.

The image side is not a network that runs: it is the frozen network's maps at the chosen layers, computed once
per recording (``model_validation.features``), pooled to one grid and reduced to a few channels, and packed into
one flat vector per image, (B, sum over levels of K_l * gh * gw). Training and evaluation feed those vectors
where DINA's model takes images, so the training loop, validation, retrieval and the noise ceiling are DINA's own.
Each level is then aligned exactly as a DINA stage is (``dina.DinaModel``): the neural tower predicts the level's
map (B, K_l, gh, gw), both maps pass a 1x1 projection into a shared latent space (B, L, gh, gw), and a pair's
similarity is the cosine of the flattened latents.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .neural_tower import NeuralTower
from .two_tower import TwoTowerModel

LATENT_CHANNELS = 16  # DINA's latent_channels default: the same yardstick for every layer
TRUNK_DIM = 256  # DINA's trunk_dim default
NEURON_DROPOUT = 0.5  # DINA's neuron_dropout default
INIT_TEMPERATURE = 0.07


class FeatureAlignmentModel(TwoTowerModel):
    """Neural tower (responses -> predicted maps) aligned with fixed feature maps at one or more levels.

    Args:
        n_neurons: responses per trial.
        map_shapes: {level: (K, gh, gw)} of the packed image-side maps, in packing order.
    """

    def __init__(self, n_neurons: int, map_shapes: dict[str, tuple[int, int, int]]):
        super().__init__(tuple(map_shapes), (1.0,) * len(map_shapes), INIT_TEMPERATURE)
        self.n_neurons = int(n_neurons)
        self.map_shapes = {k: tuple(int(v) for v in s) for k, s in map_shapes.items()}
        self.neural_tower = NeuralTower(n_neurons, TRUNK_DIM, self.map_shapes, None, NEURON_DROPOUT, False, None)
        self.image_proj = nn.ModuleDict({k: nn.Conv2d(s[0], LATENT_CHANNELS, 1) for k, s in self.map_shapes.items()})
        self.neural_proj = nn.ModuleDict({k: nn.Conv2d(s[0], LATENT_CHANNELS, 1) for k, s in self.map_shapes.items()})

    @property
    def feature_size(self) -> int:
        """Length of one packed image-side vector."""
        return sum(math.prod(s) for s in self.map_shapes.values())

    def unpack(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, feature_size) packed maps -> {level: (B, K, gh, gw)}."""
        if features.ndim != 2 or features.shape[1] != self.feature_size:
            raise ValueError(f"packed features of shape (B, {self.feature_size}) expected, got {tuple(features.shape)}")
        sizes = [math.prod(s) for s in self.map_shapes.values()]
        parts = torch.split(features, sizes, dim=1)
        return {k: p.reshape(-1, *s) for (k, s), p in zip(self.map_shapes.items(), parts)}

    def image_latent_maps(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, feature_size) -> {level: (B, L, gh, gw)}."""
        return {k: self.image_proj[k](m) for k, m in self.unpack(features).items()}

    def response_latent_maps(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                             ) -> dict[str, torch.Tensor]:
        """(B, n_neurons) z-scored responses -> {level: (B, L, gh, gw)}."""
        predicted, _ = self.neural_tower(responses, neuron_mask)
        return {k: self.neural_proj[k](m) for k, m in predicted.items()}

    def image_levels(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: z.flatten(1) for k, z in self.image_latent_maps(images).items()}

    def response_levels(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                        ) -> dict[str, torch.Tensor]:
        return {k: z.flatten(1) for k, z in self.response_latent_maps(responses, neuron_mask).items()}

    def alignment_map(self, features: torch.Tensor, responses: torch.Tensor, level: str) -> torch.Tensor:
        """Per-location similarity terms (B, gh, gw) of paired images and responses at ``level``; summed over the
        grid they give the pair's similarity at the level (as ``DinaModel.alignment_map``)."""
        img = self.image_latent_maps(features)[level]
        neu = self.response_latent_maps(responses)[level]
        b = img.shape[0]
        zi = F.normalize(img.reshape(b, -1), dim=-1).view_as(img)
        zn = F.normalize(neu.reshape(b, -1), dim=-1).view_as(neu)
        return (zi * zn).sum(dim=1)
