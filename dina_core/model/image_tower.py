"""Image tower: a small CNN whose named stages give feature maps at decreasing resolution."""

from __future__ import annotations

import torch
from torch import nn

from .config import PIXEL_STAGE


def _conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
    )


def pooled_shape(shape: tuple[int, int], pool: int) -> tuple[int, int]:
    """(h, w) of a ``pool`` x ``pool`` average pooling of ``shape`` with the last partial window kept."""
    return -(-shape[0] // pool), -(-shape[1] // pool)


class LocationGain(nn.Module):
    """A learned weight per location, (h, w), multiplying every channel: where in the image stage0 looks."""

    def __init__(self, shape: tuple[int, int]):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, 1, *shape))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return maps * self.weight


class ImageTower(nn.Module):
    """CNN over grey-level stimuli.

    Stage ``stage{i}`` halves the resolution ``i`` times: for 36 x 64 inputs,
    stage1 is 18 x 32, stage2 9 x 16, stage3 5 x 8. With ``stem_stride=2`` the stem does
    stage1's halving (stage1 then keeps its input size), so the shapes are the same but no
    layer runs at full resolution: the CPU cost of the tower is dominated by full-resolution
    activations (figures: ``bench/results/design_notes_cpu.md``).
    ``pixel_pool`` adds ``stage0``: the input image average-pooled ``pixel_pool`` x ``pixel_pool``,
    (B, 1, ceil(H/p), ceil(W/p)), or with ``pixel_filters`` = F > 0 that pooled image through F linear
    5 x 5 filters and a learned weight per location, (B, F, ceil(H/p), ceil(W/p)): linear in the pixels
    either way, the level at which DINA holds a linear pixel read-out.
    Module names are stable (``image_tower.stem``, ``image_tower.stage2``, ``image_tower.stage0``)
    so analyses can address layers by name.
    """

    def __init__(self, stage_channels: tuple[int, ...], stem_stride: int = 1, pixel_pool: int | None = None,
                 pixel_filters: int = 0, image_shape: tuple[int, int] | None = None):
        super().__init__()
        self.stem = _conv_block(1, stage_channels[0], stride=stem_stride)
        c_prev = stage_channels[0]
        for i, c in enumerate(stage_channels):
            stride = 1 if i == 0 and stem_stride == 2 else 2
            self.add_module(f"stage{i + 1}", nn.Sequential(_conv_block(c_prev, c, stride), _conv_block(c, c, 1)))
            c_prev = c
        self.stage_names = tuple(f"stage{i + 1}" for i in range(len(stage_channels)))
        self.stage_channels = dict(zip(self.stage_names, stage_channels))
        self.pixel_pool = pixel_pool
        if pixel_pool is not None:
            layers = [nn.AvgPool2d(pixel_pool, ceil_mode=True)]
            if pixel_filters:
                layers += [nn.Conv2d(1, pixel_filters, 5, padding=2),
                           LocationGain(pooled_shape(image_shape, pixel_pool))]
            self.stage0 = nn.Sequential(*layers)
            self.stage_channels[PIXEL_STAGE] = pixel_filters or 1

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: (B, 1, H, W) normalised grey levels -> {stage: (B, C_s, h_s, w_s)}."""
        maps = {PIXEL_STAGE: self.stage0(images)} if self.pixel_pool is not None else {}
        x = self.stem(images)
        for name in self.stage_names:
            x = getattr(self, name)(x)
            maps[name] = x
        return maps

    def stage_shape(self, image_shape: tuple[int, int], stage: str) -> tuple[int, int, int]:
        """(C_s, h_s, w_s) of ``stage`` for an input of ``image_shape``."""
        if stage == PIXEL_STAGE:
            return (self.stage_channels[PIXEL_STAGE], *pooled_shape(image_shape, self.pixel_pool))
        return (self.stage_channels[stage], *self.map_shape(image_shape, self.stage_names.index(stage) + 1))

    @staticmethod
    def map_shape(image_shape: tuple[int, int], stage_index: int) -> tuple[int, int]:
        """Spatial shape (h, w) of stage ``stage_index`` (1-based) for an input of ``image_shape``."""
        h, w = image_shape
        for _ in range(stage_index):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h, w
