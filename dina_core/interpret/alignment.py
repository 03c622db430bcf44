"""Alignment maps and alignability at one aligned stage of a DINA model.

At stage s the similarity of image i and response j is ``sum_{l,y,x} zi_i[l,y,x] zn_j[l,y,x]``
with ``zi``/``zn`` the latent maps (L, h, w) of the two towers, each L2-normalised over
all of (L, h, w). A *contribution* is one term (or a channel's or location's sum of
terms) of that sum. *Alignability* contrasts an image's contributions with its own
response against those with the other responses of the set:

    A_i[l, y, x] = zi_i[l,y,x] * (zn_i[l,y,x] - mean_{j != i} zn_j[l,y,x])

so that ``A_i.sum() = s_ii - mean_{j != i} s_ij``: a channel or location scores high
when it makes the true pair more similar than mismatched pairs, not merely when it is
active. Use repeat-averaged test responses (``averaged_pairs``), one per image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluate.tasks import tier_task
from ..model import DinaModel
from ..model.inference import eval_mode
from ..runs.prepare import PreparedData

SPACES = ("latent", "tower")


def averaged_pairs(prepared: PreparedData, tier: str = "test") -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """One (image, repeat-averaged response) pair per distinct image of a tier.

    Args:
        prepared: the recording normalised by ``Run.prepare``.
        tier: 'test' (repeats averaged), or 'validation'/'train' (mostly one trial per image).

    Returns:
        images: (N, 1, H, W) float32 normalised stimuli, on the data's device.
        responses: (N, n_neurons) float32 normalised responses averaged over repeats.
        image_rows: (N,) int64 sorted stimulus rows (index ``data.images`` and ground truth).
    """
    task = tier_task(prepared, tier)
    return task.images, task.averaged(), task.candidates


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _normalised(maps: torch.Tensor) -> torch.Tensor:
    """(B, L, h, w) -> the same maps L2-normalised over (L, h, w), as the similarity uses them."""
    return F.normalize(maps.flatten(1), dim=-1).view_as(maps)


@torch.no_grad()
def alignment_maps(model: DinaModel, images: torch.Tensor, responses: torch.Tensor, stage: str,
                   batch_size: int = 256) -> np.ndarray:
    """Per-location similarity of paired images and responses at ``stage``.

    Args:
        model: a DINA model; ``stage`` must be one of ``model.config.aligned_stages``.
        images: (B, 1, H, W) normalised stimuli.
        responses: (B, n_neurons) normalised responses, row i paired with image i.
        stage: aligned stage name, e.g. 'stage1'.
        batch_size: pairs per forward pass.

    Returns:
        (B, h, w) float32; each map sums to the pair's similarity at ``stage`` (in [-1, 1]).
    """
    device = _device(model)
    with eval_mode(model):
        parts = [model.alignment_map(images[i:i + batch_size].to(device), responses[i:i + batch_size].to(device),
                                     stage).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(parts).numpy()


def upsample_maps(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of (B, h, w) maps to stimulus resolution, keeping each map's sum.

    Values are rescaled by ``h*w / (H*W)`` so a pixel holds its share of the coarse
    location's value: the sum is kept exactly for integer scale factors, approximately
    otherwise (within the edge effects of bilinear interpolation).

    Returns:
        (B, H, W) float32.
    """
    coarse = torch.as_tensor(np.asarray(maps, dtype=np.float32))[:, None]
    fine = F.interpolate(coarse, size=tuple(shape), mode="bilinear", align_corners=False)[:, 0]
    return (fine * (coarse.shape[2] * coarse.shape[3] / (shape[0] * shape[1]))).numpy()


@torch.no_grad()
def pair_alignability(model: DinaModel, images: torch.Tensor, responses: torch.Tensor, stage: str,
                      space: str = "latent", batch_size: int = 256) -> np.ndarray:
    """Each pair's contrast of true against mismatched contributions, per channel and location.

    Args:
        model: a DINA model aligned at ``stage``.
        images: (N, 1, H, W) normalised stimuli, N >= 2.
        responses: (N, n_neurons) normalised responses (repeat-averaged), row i paired with image i;
            the other rows are image i's mismatched responses.
        stage: aligned stage name.
        space: 'latent' for the L latent channels; 'tower' for the C_s image-tower channels.
            The image side's 1x1 projection is linear, ``zi = (W f + b) / ||W f + b||``, so
            channel c of the tower map f contributes ``f_c * (W^T zn)_c / ||W f + b||``
            exactly; the bias b belongs to no channel, so tower values sum to the latent
            total minus the bias's share.
        batch_size: pairs per forward pass.

    Returns:
        (N, n_channels, h, w) float32 with n_channels = L or C_s. In 'latent' space each
        pair's array sums to ``s_ii - mean_{j != i} s_ij`` (similarities at ``stage``).
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    n = len(images)
    if n < 2:
        raise ValueError("alignability contrasts each pair with the others: pass at least 2 pairs")
    device = _device(model)
    with eval_mode(model):
        zn = torch.cat([_normalised(model.response_latent_maps(responses[i:i + batch_size].to(device))[0][stage])
                        for i in range(0, n, batch_size)])
        others_sum = zn.sum(dim=0)
        parts = []
        for i in range(0, n, batch_size):
            latent, tower = model.image_latent_maps(images[i:i + batch_size].to(device))
            own = zn[i:i + batch_size]
            contrast = own - (others_sum - own) / (n - 1)
            if space == "latent":
                parts.append((_normalised(latent[stage]) * contrast).float().cpu())
            else:
                weight = model.image_proj[stage].weight[:, :, 0, 0]  # (L, C_s)
                norm = latent[stage].flatten(1).norm(dim=-1).clamp_min(1e-12)[:, None, None, None]
                back = torch.einsum("lc,blyx->bcyx", weight, contrast)
                parts.append((tower[stage] * back / norm).float().cpu())
    return torch.cat(parts).numpy()


def channel_alignability(model: DinaModel, images: torch.Tensor, responses: torch.Tensor, stage: str,
                         space: str = "latent", batch_size: int = 256) -> np.ndarray:
    """Mean alignability of each channel over the set (see ``pair_alignability`` for the arguments).

    Returns:
        (n_channels,) float32, channel order; ``np.argsort(-a)`` ranks channels from most to
        least alignable. Positive: the channel makes true pairs more similar than mismatched ones.
    """
    return pair_alignability(model, images, responses, stage, space, batch_size).sum(axis=(2, 3)).mean(axis=0)
