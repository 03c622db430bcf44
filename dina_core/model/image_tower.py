"""Image tower: a small CNN whose named stages give feature maps at decreasing resolution."""

from __future__ import annotations

import torch
from torch import nn


def _conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
    )


class ImageTower(nn.Module):
    """CNN over grey-level stimuli.

    Stage ``stage{i}`` halves the resolution ``i`` times: for 36 x 64 inputs,
    stage1 is 18 x 32, stage2 9 x 16, stage3 5 x 8. Module names are stable
    (``image_tower.stem``, ``image_tower.stage2``) so analyses can address layers by name.
    """

    def __init__(self, stage_channels: tuple[int, ...]):
        super().__init__()
        self.stem = _conv_block(1, stage_channels[0], stride=1)
        c_prev = stage_channels[0]
        for i, c in enumerate(stage_channels):
            self.add_module(f"stage{i + 1}", nn.Sequential(_conv_block(c_prev, c, 2), _conv_block(c, c, 1)))
            c_prev = c
        self.stage_names = tuple(f"stage{i + 1}" for i in range(len(stage_channels)))
        self.stage_channels = dict(zip(self.stage_names, stage_channels))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: (B, 1, H, W) normalised grey levels -> {stage: (B, C_s, h_s, w_s)}."""
        x = self.stem(images)
        maps = {}
        for name in self.stage_names:
            x = getattr(self, name)(x)
            maps[name] = x
        return maps

    @staticmethod
    def map_shape(image_shape: tuple[int, int], stage_index: int) -> tuple[int, int]:
        """Spatial shape (h, w) of stage ``stage_index`` (1-based) for an input of ``image_shape``."""
        h, w = image_shape
        for _ in range(stage_index):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h, w
