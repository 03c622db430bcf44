"""Which stimuli two recordings share, matched by content, never by index.

Two files number the same image differently and store it in other ranges (0..255, 0..1, x 1e-6, rounded to 8
bits or not). So each image is standardised by its own mean and standard deviation, and two images of the same
size are the same stimulus when their standardised pixels differ by at most ``TOLERANCE`` standard deviations at
every pixel (8-bit rounding moves a pixel by about 0.01 of a natural image's standard deviation; two different
crops, even of one photograph, differ by far more somewhere). Each image of one recording is paired with at most
one of the other, the closest. Stimuli of other sizes are not compared: a resize changes pixels by more than any
tolerance that still tells overlapping crops apart, so such recordings are refused with the sizes named.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DinaError

TOLERANCE = 0.1  # largest difference, in the image's standard deviations, at any pixel of one stimulus stored twice
SIDE = 16  # a coarse descriptor (area-averaged SIDE x SIDE) that finds candidate pairs before every pixel is compared
PREFILTER = 0.05  # largest root-mean-square descriptor difference of a candidate pair (a duplicate's is ~0)
CHUNK = 512  # images of the first recording compared at a time


def standardised(images: np.ndarray) -> np.ndarray:
    """(n, H, W) grey levels of any range -> (n, H * W) float32, each image to mean 0 and standard deviation 1
    (a blank image: all 0)."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    x = x - x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return (x / np.where(std > 0, std, 1.0)).astype(np.float32)


def _descriptors(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    x = torch.from_numpy(pixels.reshape(-1, 1, *shape))
    return F.adaptive_avg_pool2d(x, (min(SIDE, shape[0]), min(SIDE, shape[1]))).flatten(1).numpy()


def shared_images(a: np.ndarray, b: np.ndarray, tolerance: float = TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Rows (rows_a, rows_b) of the stimuli ``a`` (n_a, H, W) and ``b`` (n_b, H, W) share, pairs in ``a``'s order.

    Raises:
        DinaError: the two recordings' stimuli are of different sizes.
    """
    if a.shape[1:] != b.shape[1:]:
        raise DinaError(f"stimuli of {a.shape[1]} x {a.shape[2]} and {b.shape[1]} x {b.shape[2]} pixels: images are "
                        "matched at one size only (a resize changes them); import both recordings at one size")
    pa, pb = standardised(a), standardised(b)
    da, db = _descriptors(pa, a.shape[1:]), _descriptors(pb, b.shape[1:])
    pairs = []
    for start in range(0, len(da), CHUNK):
        block = da[start:start + CHUNK]
        rms = np.sqrt(np.maximum((block ** 2).sum(1)[:, None] + (db ** 2).sum(1)[None] - 2 * block @ db.T, 0)
                      / block.shape[1])
        for r, c in zip(*np.nonzero(rms <= PREFILTER)):
            worst = float(np.abs(pa[start + r] - pb[c]).max())
            if worst <= tolerance:
                pairs.append((worst, start + r, c))
    used_a, used_b, out = set(), set(), []
    for _, i, j in sorted(pairs):  # closest first, each image once
        if i not in used_a and j not in used_b:
            used_a.add(i), used_b.add(j)
            out.append((i, j))
    out.sort()
    return np.array([i for i, _ in out], dtype=np.int64), np.array([j for _, j in out], dtype=np.int64)
