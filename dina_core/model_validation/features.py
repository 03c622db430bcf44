"""A frozen network's maps over a recording's stimuli: pooled to one grid, cached on disk, reduced to K channels.

Each chosen layer's map (C, h, w) is average-pooled to the grid (``F.adaptive_avg_pool2d``) once per recording and
kept as float32 (N_images, C, gh, gw), in a cache keyed by the network (weights file digest), the input, the grid
and the stimuli's content: a second run on the same network and recording reads it instead of running the network.
The reduction to K channels is fitted on train images only (:func:`reduce_channels`), so it is never cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_path
from ..errors import DinaError
from .inputs import InputSpec
from .layers import feature_map, run_layers

# Default grid: 16 locations along the stimulus's longer side (9 x 16 for 36 x 64: DINA's stage2, V1-sized fields).
# On the simulator a 9 x 16 grid told the simulator's own filters from random ones where 5 x 8 could not.
GRID_LONG_SIDE = 16
CHANNELS = 32  # channels kept per layer after the reduction (DINA's image tower has 16 to 48 per stage)
BATCH = 32  # stimuli per forward pass


def default_grid(image_shape: tuple[int, int], smallest_map: tuple[int, int]) -> tuple[int, int]:
    """The grid: ``GRID_LONG_SIDE`` along the stimulus's longer side, the other side in proportion (rounded up),
    then no finer than ``smallest_map`` (the networks' coarsest stage-level (h, w)), so every stage can be pooled
    to it."""
    h, w = image_shape
    scale = GRID_LONG_SIDE / max(h, w)
    grid = (max(1, math.ceil(h * scale)), max(1, math.ceil(w * scale)))
    return min(grid[0], smallest_map[0]), min(grid[1], smallest_map[1])


def check_grid(layers, grid: tuple[int, int], label: str) -> None:
    """Refuse a layer whose map has fewer locations than the grid along either side (pooling cannot refine)."""
    small = [f"{layer.name} ({layer.shape[1]} x {layer.shape[2]})" for layer in layers
             if layer.shape[1] < grid[0] or layer.shape[2] < grid[1]]
    if small:
        raise DinaError(f"{label}: layer map smaller than the grid {grid[0]} x {grid[1]}: {', '.join(small)}; pass "
                        "a coarser --grid HxW or a larger --input-size, or leave that layer out")


def images_digest(images: np.ndarray) -> str:
    """sha256 of the stimuli's pixels and shape (16 hex digits)."""
    h = hashlib.sha256(str(images.shape).encode())
    h.update(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def cache_key(network_id: dict, input_spec: InputSpec, grid: tuple[int, int], digest: str) -> str:
    """The cache folder's name: a digest of everything the pooled maps depend on."""
    text = json.dumps({"network": network_id, "input": input_spec.to_dict(), "grid": list(grid), "images": digest},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _pool(maps: dict[str, torch.Tensor], grid: tuple[int, int]) -> dict[str, np.ndarray]:
    return {k: F.adaptive_avg_pool2d(v.float(), grid).cpu().numpy() for k, v in maps.items()}


def extract(network: nn.Module, names: list[str], images: np.ndarray, input_spec: InputSpec,
            grid: tuple[int, int], *, device: torch.device | str = "cpu",
            on_batch: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict[str, np.ndarray] | None:
    """{layer: (N, C, gh, gw) float32} pooled maps of ``names`` over (N, H, W) stimuli, the network run on
    ``device`` (the maps come back to the host pooled); None when stopped."""
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    network.to(device)
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            if should_stop is not None and should_stop():
                return None
            x = input_spec.batch(images[start:start + BATCH]).to(device)
            maps = run_layers(network, x, names)
            for name, pooled in _pool({n: feature_map(maps[n], tuple(x.shape[2:])) for n in names}, grid).items():
                if not np.isfinite(pooled).all():
                    raise DinaError(f"layer {name}: the network's map holds NaN or infinite values on stimuli "
                                    f"{start}..{min(start + BATCH, len(images)) - 1}")
                parts[name].append(pooled)
            if on_batch is not None:
                on_batch(min(start + BATCH, len(images)), len(images))
    return {n: np.concatenate(p) for n, p in parts.items()}


class FeatureCache:
    """Pooled maps on disk: ``folder/<key>/<layer>.npy`` (float32, written atomically) beside the sha256 of its bytes
    (``.sha256``), and ``meta.json``. A file that is unreadable, of another shape or whose bytes no longer match
    their digest is recomputed, never trusted."""

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = None if folder is None else Path(folder)

    def _file(self, key: str, layer: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in layer)
        return self.folder / key / f"{safe}.{hashlib.sha256(layer.encode()).hexdigest()[:6]}.npy"

    @staticmethod
    def _digest(array: np.ndarray) -> str:
        return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()

    def holds(self, key: str, layer: str) -> bool:
        """Whether ``layer``'s file and digest are there (not read: :meth:`load` checks them when they are used)."""
        if self.folder is None:
            return False
        file = self._file(key, layer)
        return file.is_file() and file.with_suffix(".sha256").is_file()

    def load(self, key: str, layer: str, expected: tuple[int, ...]) -> np.ndarray | None:
        """The cached maps of ``layer``, or None (absent, unreadable, another shape, or not the bytes written)."""
        if self.folder is None:
            return None
        file = self._file(key, layer)
        digest = file.with_suffix(".sha256")
        if not file.is_file() or not digest.is_file():
            return None
        try:
            array = np.load(file, allow_pickle=False)
            written = digest.read_text().strip()
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        ok = array.shape == expected and array.dtype == np.float32 and self._digest(array) == written
        return array if ok else None

    def save(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        if self.folder is None:
            return
        (self.folder / key).mkdir(parents=True, exist_ok=True)
        for layer, array in arrays.items():
            file = self._file(key, layer)
            with atomic_path(file) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, array, allow_pickle=False)
            with atomic_path(file.with_suffix(".sha256")) as tmp:
                tmp.write_text(self._digest(array))
        with atomic_path(self.folder / key / "meta.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2))


def reduce_channels(pooled: np.ndarray, train_images: np.ndarray, k: int = CHANNELS, chunk: int = 256) -> np.ndarray:
    """(N, C, gh, gw) pooled maps -> (N, min(k, C), gh, gw) float32, fitted on the rows ``train_images`` only.

    Channels are z-scored over train images and locations, then projected on their first k principal components
    (of the covariance over train images and locations), then scaled so the mean component variance is 1 on train.
    Statistics accumulate over ``chunk`` images at a time in float64, so memory stays at the maps' own size plus a
    C x C covariance (a ResNet-50's 2048 channels over thousands of stimuli fit).
    """
    n, c = pooled.shape[:2]
    train_images = np.asarray(train_images)

    def rows(index) -> np.ndarray:  # (len(index) * locations, C) float64
        return pooled[index].transpose(0, 2, 3, 1).reshape(-1, c).astype(np.float64)

    chunks = [train_images[i:i + chunk] for i in range(0, len(train_images), chunk)]
    count, total, squares = 0, np.zeros(c), np.zeros(c)
    for index in chunks:
        x = rows(index)
        count, total, squares = count + len(x), total + x.sum(axis=0), squares + (x * x).sum(axis=0)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
    std[std < 1e-8] = 1.0  # a constant channel carries nothing; left at 0 after centring
    covariance = np.zeros((c, c))
    for index in chunks:
        z = (rows(index) - mean) / std
        covariance += z.T @ z
    covariance /= count
    k = min(k, c)
    basis = np.linalg.eigh(covariance)[1][:, ::-1][:, :k] if k < c else np.eye(c)
    scale = np.sqrt(max(float(np.diag(basis.T @ covariance @ basis).mean()), 1e-12))
    out = np.empty((n, k, *pooled.shape[2:]), dtype=np.float32)
    for start in range(0, n, chunk):
        index = np.arange(start, min(start + chunk, n))
        z = ((rows(index) - mean) / std) @ basis / scale
        out[index] = z.reshape(len(index), *pooled.shape[2:], k).transpose(0, 3, 1, 2)
    return out
