"""The linear two-tower baseline: pixels and responses each mapped linearly to one embedding.

Simple and strong on real data: on a Sensorium recording it is the model to beat (its score there:
``bench/results/design_notes_cpu.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import DictConfig, check_float, check_int, why
from ..limits import check_sizes
from .two_tower import TwoTowerModel


@dataclass
class LinearConfig(DictConfig):
    """Size and regularisation of the linear two-tower baseline."""

    embed_dim: int = why(128, "shared embedding size")
    neuron_dropout: float = why(0.5, "same regulariser as DINA's neural tower, for a fair comparison")
    init_temperature: float = why(0.07, "InfoNCE temperature at start; learned afterwards")

    def __post_init__(self) -> None:
        check_int(self, "embed_dim", lo=1)
        check_float(self, "neuron_dropout", lo=0.0, hi=1.0, hi_open=True)
        check_float(self, "init_temperature", lo=0.0, lo_open=True)
        check_sizes(self)  # the documented maxima (limits.MODEL_MAXIMA), wherever a config is made



class LinearTwoTower(TwoTowerModel):
    """InfoNCE-trained linear maps: image (H*W pixels) -> D and responses (n_neurons) -> D."""

    def __init__(self, config: LinearConfig, n_neurons: int, image_shape: tuple[int, int]):
        super().__init__(("global",), (1.0,), config.init_temperature)
        self.config = config
        self.n_neurons = int(n_neurons)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.image_linear = nn.Linear(self.image_shape[0] * self.image_shape[1], config.embed_dim)
        self.neuron_dropout = nn.Dropout(config.neuron_dropout)
        self.response_linear = nn.Linear(n_neurons, config.embed_dim)

    def image_levels(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"global": self.image_linear(images.flatten(1))}

    def response_levels(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                        ) -> dict[str, torch.Tensor]:
        if neuron_mask is not None:
            responses = responses * neuron_mask.to(responses.dtype)
        return {"global": self.response_linear(self.neuron_dropout(responses))}
