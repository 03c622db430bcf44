"""A content hash of a recording, stored in checkpoints so a model is never evaluated on other data."""

from __future__ import annotations

import hashlib

import numpy as np

from .format import DinaData


def data_fingerprint(data: DinaData) -> str:
    """SHA-256 (first 16 hex digits) over images, responses, image indices and tiers."""
    h = hashlib.sha256()
    for array in (data.images, data.responses, data.image_index):
        array = np.ascontiguousarray(array)
        h.update(str((array.shape, array.dtype.str)).encode())
        h.update(array.tobytes())
    h.update("\n".join(map(str, data.tiers)).encode())
    return h.hexdigest()[:16]
