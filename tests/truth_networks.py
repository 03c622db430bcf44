"""Networks with a known answer for model validation (``python:truth_networks:FACTORY``).

``filter_bank_network``: its first layer ``v1`` is the simulator's own feature model (``dina_core.simulate``):
Gabor filters over the simulator's range of envelope sizes and spatial frequencies, rectified (simple cells) and in
quadrature energy (complex cells), divided by the local RMS contrast under the envelope. Its deeper layer
``pooled`` sums the energies over orientation, so it keeps where contrast is but not its orientation: it must align
less well than ``v1``. ``luminance_network`` sees only local mean luminance, which every simulated neuron is blind
to, at two depths: it must peak lower than the filter bank.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dina_core.simulate import SimConfig

GREY_INPUT = {"channels": 1, "size": None, "short_side": None, "mean": (0.5,), "std": (1.0,)}  # native, centred


def _gabors(sigma: float, cycles_per_sigma: float, n_orientations: int, size: int) -> torch.Tensor:
    """(2 * n_orientations, 1, size, size) even and odd Gabors of one envelope sd (pixels), zero-mean, unit norm."""
    r = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    env = torch.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2))
    frequency = cycles_per_sigma / sigma
    kernels = []
    for phase in (0.0, -math.pi / 2):
        for k in range(n_orientations):
            theta = math.pi * k / n_orientations
            g = env * torch.cos(2 * math.pi * frequency * (x * math.cos(theta) + y * math.sin(theta)) + phase)
            g = g - env * (g.sum() / env.sum())  # zero mean under the envelope, as the simulator's carriers
            kernels.append(g / g.norm())
    return torch.stack(kernels)[:, None].float()


class FilterBankNetwork(nn.Module):
    """``v1``: (B, 3 * n_orientations * n_sigmas, H, W) simple and complex responses, contrast-normalised;
    ``pooled``: (B, n_sigmas, H, W) their energies summed over orientation."""

    def __init__(self, n_orientations: int = 8):
        super().__init__()
        config = SimConfig()
        lo, hi = config.rf_sigma_range
        sigmas = (lo * 1.2, math.sqrt(lo * hi), hi * 0.8)
        cps = sum(config.cycles_per_sigma_range) / 2
        self.n_orientations, self.sizes = n_orientations, []
        for i, sigma in enumerate(sigmas):
            size = 2 * math.ceil(2.5 * sigma) + 1
            self.register_buffer(f"bank{i}", _gabors(sigma, cps, n_orientations, size))
            r = torch.arange(size, dtype=torch.float32) - size // 2
            w = torch.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * sigma ** 2))
            self.register_buffer(f"window{i}", (w / w.sum())[None, None])
            self.sizes.append(size)
        self.c50 = config.norm_contrast
        self.v1 = nn.Identity()
        self.pooled = nn.Identity()
        self.dina_input = GREY_INPUT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps, energies, n = [], [], self.n_orientations
        for i, size in enumerate(self.sizes):
            bank, window = getattr(self, f"bank{i}"), getattr(self, f"window{i}")
            linear = F.conv2d(x, bank, padding=size // 2)
            mean = F.conv2d(x, window, padding=size // 2)
            contrast = (F.conv2d(x * x, window, padding=size // 2) - mean ** 2).clamp_min(0).sqrt()
            energy = (linear[:, :n] ** 2 + linear[:, n:] ** 2).sqrt()
            maps += [F.relu(linear[:, :n]) / (self.c50 + contrast), energy / (self.c50 + contrast)]
            energies.append(maps[-1].sum(dim=1, keepdim=True))
        self.v1(torch.cat(maps, dim=1))  # the first layer's maps, caught by its hook
        return self.pooled(torch.cat(energies, dim=1))


class LuminanceNetwork(nn.Module):
    """``local``: (B, 1, H, W) mean luminance under a 5-pixel window; ``coarse``: the same over 15 pixels."""

    def __init__(self):
        super().__init__()
        self.local = nn.AvgPool2d(5, stride=1, padding=2, count_include_pad=False)
        self.coarse = nn.AvgPool2d(15, stride=1, padding=7, count_include_pad=False)
        self.dina_input = GREY_INPUT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.coarse(self.local(x))


def filter_bank_network() -> nn.Module:
    return FilterBankNetwork()


def luminance_network() -> nn.Module:
    return LuminanceNetwork()
