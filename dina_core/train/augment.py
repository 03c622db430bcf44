"""Shift augmentation: the stimulus moves by a few pixels, the response it is paired with does not.

Mouse V1 receptive fields are several pixels wide at Sensorium resolution and eye position
drifts from trial to trial, so a response is about as consistent with its image moved by a
pixel or two as with the image itself; training on such shifts adds variants of each of a
few thousand images rather than letting the towers memorise exact pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shifts(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each image by its own integer offset in [-max_shift, max_shift]^2, edges replicated.

    Args:
        images: (B, C, H, W) float, normalised stimuli (on any device).
        max_shift: largest offset in pixels; 0 returns ``images`` unchanged.
        generator: generator for the offsets, on the images' device (reproducible runs; on CUDA the offsets
            are drawn there, so a step needs no host-to-device copy).

    Returns:
        (B, C, H, W) float, same dtype and device; ``out[b, :, y, x] = images[b, :, y - dy_b, x - dx_b]``
        with indices clamped at the borders.
    """
    if max_shift <= 0:
        return images
    b, _, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator, device=images.device)
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    rows = (torch.arange(h, device=images.device)[None, :] - offsets[:, :1] + max_shift)  # (B, H)
    cols = (torch.arange(w, device=images.device)[None, :] - offsets[:, 1:] + max_shift)  # (B, W)
    index_rows = rows[:, None, :, None].expand(b, images.shape[1], h, padded.shape[3])
    picked = padded.gather(2, index_rows)
    index_cols = cols[:, None, None, :].expand(b, images.shape[1], h, w)
    return picked.gather(3, index_cols)
