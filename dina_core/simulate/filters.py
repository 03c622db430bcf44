"""Gabor receptive fields on the pixel grid, normalised for divisive normalisation.

Each neuron sees the image through a Gaussian envelope ``env`` (max 1, set to exactly 0
where it falls below ``ENVELOPE_FLOOR`` so the neuron is provably blind outside it). With
``w = env / sum(env)`` the local mean is ``sum(w x)`` and the local RMS contrast is
``sqrt(sum(w x^2) - sum(w x)^2)``. A carrier ``g`` is made zero-mean under ``w`` and the
filter is ``w g / sqrt(sum(w g^2))``: by Cauchy-Schwarz its output never exceeds the
local RMS contrast, so ``filter . x / contrast`` is the correlation of the patch with the
carrier, in [-1, 1], blind to mean luminance.
"""

from __future__ import annotations

import numpy as np

ENVELOPE_FLOOR = 1e-3  # envelope values below this are set to 0 (~3.7 sd from the centre)


def envelopes(centers: np.ndarray, sigma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Truncated isotropic Gaussian envelopes.

    Args:
        centers: (n, 2) RF centres (row, col) in pixels.
        sigma: (n,) envelope sd in pixels.
        shape: (H, W) image size.

    Returns:
        (n, H, W) float32, max 1 at the centre, exactly 0 where below ``ENVELOPE_FLOOR``.
    """
    rows = np.arange(shape[0])[None, :, None] - centers[:, 0, None, None]
    cols = np.arange(shape[1])[None, None, :] - centers[:, 1, None, None]
    env = np.exp(-(rows ** 2 + cols ** 2) / (2.0 * sigma[:, None, None] ** 2))
    env[env < ENVELOPE_FLOOR] = 0.0
    return env.astype(np.float32)


def plane_waves(centers: np.ndarray, orientation: np.ndarray, frequency: np.ndarray,
                phase: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sinusoidal gratings ``cos(2 pi f (dx cos(theta) + dy sin(theta)) + phase)``.

    Args:
        centers: (n, 2) (row, col) pixels where the phase is measured.
        orientation: (n,) radians, direction of the wave vector from the column (x) axis
            towards increasing rows; 0 gives vertical stripes.
        frequency: (n,) cycles per pixel.
        phase: (n,) radians.
        shape: (H, W) image size.

    Returns:
        (n, H, W) float64 gratings in [-1, 1].
    """
    dy = np.arange(shape[0])[None, :, None] - centers[:, 0, None, None]
    dx = np.arange(shape[1])[None, None, :] - centers[:, 1, None, None]
    theta = orientation[:, None, None]
    along = dx * np.cos(theta) + dy * np.sin(theta)
    return np.cos(2.0 * np.pi * frequency[:, None, None] * along + phase[:, None, None])


def contrast_weights(env: np.ndarray) -> np.ndarray:
    """(n, H, W) envelopes -> (n, H*W) float32 pooling weights summing to 1 per neuron."""
    flat = env.reshape(len(env), -1).astype(np.float64)
    return (flat / flat.sum(axis=1, keepdims=True)).astype(np.float32)


def normalised_filters(weights: np.ndarray, carriers: np.ndarray) -> np.ndarray:
    """Filters whose output is bounded by the local RMS contrast (see module docstring).

    Args:
        weights: (n, P) pooling weights from :func:`contrast_weights`.
        carriers: (n, H, W) gratings.

    Returns:
        (n, P) float32 filters, zero wherever the envelope is zero.
    """
    w = weights.astype(np.float64)
    g = carriers.reshape(weights.shape)
    g = g - (w * g).sum(axis=1, keepdims=True)  # zero local mean: blind to luminance
    norm = np.sqrt((w * g ** 2).sum(axis=1, keepdims=True))
    return (w * g / np.maximum(norm, 1e-12)).astype(np.float32)
