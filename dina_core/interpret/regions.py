"""Separate regions of a 2-D map: how many places carry an attribution or alignment.

Threshold rule: a pixel belongs to a region when its value is at least ``threshold``
times the map's largest positive value; negative values never do (pass ``np.abs(map)``
to count regions of either sign). Regions are 8-connected components
(``skimage.measure.label``) of at least ``min_size`` pixels, so isolated noisy pixels
do not count. A map with no positive value has no region.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label


def label_regions(map2d: np.ndarray, threshold: float = 0.5, min_size: int = 4) -> tuple[np.ndarray, int]:
    """Label the regions of ``map2d`` (see the module docstring for the rule).

    Args:
        map2d: (H, W) float map.
        threshold: fraction of the map's largest positive value, in (0, 1].
        min_size: smallest region kept, in pixels.

    Returns:
        labels: (H, W) int32, 0 outside regions, 1..n inside, numbered in raster order.
        n: number of regions.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is a fraction of the map's maximum in (0, 1], got {threshold}")
    map2d = np.asarray(map2d, dtype=np.float64)
    if map2d.ndim != 2:
        raise ValueError(f"map2d must be 2-D, got shape {map2d.shape}")
    peak = map2d.max(initial=0.0)
    if peak <= 0.0:
        return np.zeros(map2d.shape, dtype=np.int32), 0
    components = label(map2d >= threshold * peak, connectivity=2)
    sizes = np.bincount(components.ravel())
    kept = np.flatnonzero(sizes >= min_size)
    kept = kept[kept > 0]
    relabel = np.zeros(len(sizes), dtype=np.int32)
    relabel[kept] = np.arange(1, len(kept) + 1, dtype=np.int32)
    return relabel[components], len(kept)


def count_regions(map2d: np.ndarray, threshold: float = 0.5, min_size: int = 4) -> int:
    """Number of separate regions of ``map2d`` (H, W) above ``threshold`` x its positive maximum."""
    return label_regions(map2d, threshold, min_size)[1]


def mean_regions(maps: np.ndarray, threshold: float = 0.5, min_size: int = 4) -> float:
    """Mean number of regions per map of a (B, H, W) stack."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or len(maps) == 0:
        raise ValueError(f"maps must be a non-empty (B, H, W) stack, got shape {maps.shape}")
    return float(np.mean([count_regions(m, threshold, min_size) for m in maps]))


def mean_abs_map(maps: np.ndarray) -> np.ndarray:
    """Mean absolute value over a (B, H, W) stack of attributions -> (H, W) float32: where evidence lies."""
    return np.abs(np.asarray(maps, dtype=np.float32)).mean(axis=0)
