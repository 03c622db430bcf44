"""Neural tower: population response -> predicted image-tower feature maps."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import GLOBAL, LINEAR


class FactorizedMapHead(nn.Module):
    """Trunk (B, T) -> map (B, C, h, w) where each trunk unit paints one feature vector at one spatial profile.

    map[b, c, y, x] = sum_t trunk[b, t] * features[t, c] * spatial[t, y, x] + bias[c, y, x].
    Like the factorised readouts of neural system identification run in reverse, it has
    T * (C + h * w) weights instead of T * C * h * w, which generalises from a few thousand
    training images where a full linear head overfits.
    """

    def __init__(self, trunk_dim: int, channels: int, height: int, width: int):
        super().__init__()
        self.shape = (channels, height, width)
        self.features = nn.Parameter(torch.randn(trunk_dim, channels) / math.sqrt(trunk_dim))
        self.spatial = nn.Parameter(torch.randn(trunk_dim, height * width) / math.sqrt(height * width))
        self.bias = nn.Parameter(torch.zeros(channels, height * width))

    def forward(self, trunk: torch.Tensor) -> torch.Tensor:
        painted = (trunk[:, :, None] * self.features).transpose(1, 2)  # (B, C, T)
        return (painted @ self.spatial + self.bias).view(-1, *self.shape)


class NeuralTower(nn.Module):
    """A linear trunk over the population and one head per aligned level.

    On real data a linear trunk (plus neuron dropout and weight decay) generalised
    better than a wide MLP with a few thousand training images, so the trunk is a
    single linear map followed by LayerNorm. Each stage head predicts a feature
    map in the image tower's own channel space, (C_s, h_s, w_s), so the predicted
    maps can be compared channel by channel with the image tower's maps.
    ``linear_dim`` adds the linear level's head: a linear map of the (dropped-out) responses
    themselves, beside the trunk, as the linear two-tower's response side.
    """

    def __init__(self, n_neurons: int, trunk_dim: int, map_shapes: dict[str, tuple[int, int, int]],
                 global_dim: int | None, neuron_dropout: float, factorized: bool = True,
                 linear_dim: int | None = None):
        super().__init__()
        self.neuron_dropout = nn.Dropout(neuron_dropout)
        self.trunk = nn.Sequential(nn.Linear(n_neurons, trunk_dim), nn.LayerNorm(trunk_dim))
        self.map_shapes = dict(map_shapes)
        self.heads = nn.ModuleDict({
            stage: FactorizedMapHead(trunk_dim, c, h, w) if factorized else nn.Linear(trunk_dim, c * h * w)
            for stage, (c, h, w) in self.map_shapes.items()
        })
        self.global_head = nn.Linear(trunk_dim, global_dim) if global_dim else None
        self.linear_head = nn.Linear(n_neurons, linear_dim) if linear_dim else None

    def forward(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Predict feature maps from responses.

        Args:
            responses: (B, n_neurons) normalised responses (z-scored per neuron on train).
            neuron_mask: optional (n_neurons,) or (B, n_neurons) 0/1 weights; masked neurons
                are set to their train mean (0 after z-scoring), so pruning needs no weight copies.

        Returns:
            ({stage: (B, C_s, h_s, w_s)}, {vector level: (B, D)}: 'global' (B, global_dim) and 'linear'
            (B, linear_dim) when those heads exist).
        """
        if neuron_mask is not None:
            responses = responses * neuron_mask.to(responses.dtype)
        dropped = self.neuron_dropout(responses)
        trunk = self.trunk(dropped)
        maps = {stage: head(trunk).view(-1, *self.map_shapes[stage]) for stage, head in self.heads.items()}
        vectors = {}
        if self.global_head is not None:
            vectors[GLOBAL] = self.global_head(trunk)
        if self.linear_head is not None:
            vectors[LINEAR] = self.linear_head(dropped)
        return maps, vectors
