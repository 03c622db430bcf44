"""A seed ensemble: K trained models of one configuration, scored as one model.

The ensemble's similarity of a pair at a level is the mean of its members' similarities there
(and its retrieval score the mean of their retrieval scores). Each member's normalised level
embedding is scaled by 1/sqrt(K) and the K are concatenated: the dot product of two such vectors
is exactly that mean, and the vector keeps unit norm. So an ensemble *is* a ``TwoTowerModel``
(same ``encode_image`` / ``encode_response``) and every retrieval, evaluation and app path that
ranks dot products takes it unchanged.

Interpretation (feature maps, attributions, neuron pruning) works on one network's internals:
:func:`first_member` gives the run of the first member for it, and callers say so.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..model.two_tower import TwoTowerModel

# A runs.run.Run, not imported: run.py imports this module, and the dependency stays one-way.
RunT = TypeVar("RunT")


class EnsembleModel(TwoTowerModel):
    """K members with the same levels and weights; scores are the members' mean.

    Attributes:
        members: the K member models (``nn.ModuleList``), all of one kind and configuration.
        seeds: (K,) training seed of each member.
    """

    def __init__(self, members: list[TwoTowerModel], seeds: list[int]):
        # No temperatures of its own: an ensemble is never trained as one, only its members are.
        nn.Module.__init__(self)
        if not members or len(members) != len(seeds):
            raise ValueError(f"an ensemble needs one seed per member; got {len(members)} members, {len(seeds)} seeds")
        first = members[0]
        for m in members[1:]:
            if (type(m), m.levels, m.level_weights, m.n_neurons, m.image_shape) != (
                    type(first), first.levels, first.level_weights, first.n_neurons, first.image_shape):
                raise ValueError("ensemble members must share kind, levels, level weights, neurons and image size")
        self.members = nn.ModuleList(members)
        self.seeds = [int(s) for s in seeds]
        self.levels, self.level_weights = first.levels, dict(first.level_weights)
        self.loss_weights = dict(first.loss_weights)  # what its members trained with (train.level_weights)
        self.n_neurons, self.image_shape, self.config = first.n_neurons, first.image_shape, first.config
        self.eval()

    def train(self, mode: bool = True) -> "EnsembleModel":
        """Always eval mode: an ensemble only scores (``eval_state`` restoring a 'training' flag must never switch
        its members' dropout on, nor that of a model shared with the caller)."""
        return super().train(False)

    def _stack(self, per_member: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        scale = 1.0 / math.sqrt(len(per_member))
        return {lv: torch.cat([F.normalize(z[lv], dim=-1) * scale for z in per_member], dim=-1) for lv in self.levels}

    def image_levels(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images (B, 1, H, W) -> {level: (B, K * D_level)}, already unit-norm (see the module docstring)."""
        return self._stack([m.image_levels(images) for m in self.members])

    def response_levels(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                        ) -> dict[str, torch.Tensor]:
        """responses (B, n_neurons) -> {level: (B, K * D_level)}, already unit-norm."""
        return self._stack([m.response_levels(responses, neuron_mask) for m in self.members])

    def forward(self, images: torch.Tensor, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None):
        raise TypeError("an ensemble is not trained as one model: train its members (train.ensemble)")


def first_member(run: RunT) -> RunT:
    """The run of the ensemble's first member (the run itself when it is not an ensemble).

    ``run`` is a :class:`dina_core.runs.run.Run` (any dataclass with a ``model`` field); the copy
    shares everything but the model with it.
    """
    if not isinstance(run.model, EnsembleModel):
        return run
    return replace(run, model=run.model.members[0])
