"""The trial table's rules: image indices in range, known tiers, no test image shown outside test.

Tier policy: ``train`` and ``test`` must each hold at least one trial. ``validation`` may
be empty; training then carves its validation trials out of ``train``. Test images must
never be shown on train or validation trials, otherwise test scores measure memory.
The same rules hold for a file being read, an importer's output and a recording in memory.
"""

from __future__ import annotations

import numpy as np

from dina_core.data.format import TIERS
from dina_core.data.values import few
from dina_core.errors import DatasetError


def check_trials(path, image_index: np.ndarray, tiers: np.ndarray, n_images: int) -> None:
    """Check image indices, tier labels, non-empty tiers and test-image leakage.

    Args:
        path: file or source folder, for messages.
        image_index: (n_trials,) int row of the image shown on each trial.
        tiers: (n_trials,) str tier of each trial.
        n_images: number of stored images.

    Raises:
        DatasetError: on the first problem found.
    """
    name = "/trials/image_index"
    if image_index.dtype.kind not in "iu":
        raise DatasetError(path, name, "integer indices", f"values of type {image_index.dtype}")
    bad = (image_index < 0) | (image_index >= n_images)
    if bad.any():
        found = f"min {image_index.min()}, max {image_index.max()} ({int(bad.sum())} trials " \
                f"out of range, e.g. trials {few(np.flatnonzero(bad), 3)})"
        raise DatasetError(path, name, f"integer indices in [0, {n_images})", found)
    labels, counts = np.unique(tiers, return_counts=True)
    unknown = [f"{lab!r} ({c} trials)"
               for lab, c in zip(labels.tolist(), counts.tolist()) if lab not in TIERS]
    if unknown:
        raise DatasetError(path, "/trials/tier", "one of 'train', 'validation', 'test'",
                           few(unknown))
    present = dict(zip(labels.tolist(), counts.tolist()))
    for tier in ("train", "test"):
        if tier not in present:
            raise DatasetError(path, "/trials/tier", f"at least one '{tier}' trial",
                               f"none (tiers present: {present or 'no trials'})")
    test_mask = tiers == "test"
    leaked = np.intersect1d(image_index[test_mask], image_index[~test_mask])
    if leaked.size:
        raise DatasetError(path, name, "test images never shown on train or validation trials",
                           f"{leaked.size} test images also shown outside test "
                           f"(image indices {few(leaked)})")
