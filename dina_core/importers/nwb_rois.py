"""ROI positions of an NWB PlaneSegmentation: weighted mask centroids, scaled to micrometres.

Helpers of :mod:`dina_core.importers.nwb`: centroids of ``pixel_mask`` (x, y), ``voxel_mask``
(x, y, z) or ``image_mask``, times the imaging plane's ``grid_spacing`` (else ``um_per_pixel``,
default 1 um).
"""

from __future__ import annotations

import numpy as np

_UNIT_TO_UM = {"meters": 1e6, "meter": 1e6, "m": 1e6, "millimeters": 1e3, "mm": 1e3,
               "micrometers": 1.0, "micrometer": 1.0, "um": 1.0, "microns": 1.0}


def roi_centroids(segmentation, rows: np.ndarray) -> np.ndarray | None:
    """(n, 2|3) weighted ROI centroids (x, y[, z]) in pixels, or None without masks."""
    columns = segmentation.colnames
    for column, axes in (("pixel_mask", ("x", "y")), ("voxel_mask", ("x", "y", "z"))):
        if column in columns:
            index = segmentation[column]
            ends = np.asarray(index.data[:], dtype=np.int64)
            values = np.asarray(index.target.data[:])
            starts = np.concatenate([[0], ends[:-1]])
            weight = values["weight"].astype(np.float64)
            sums = [np.add.reduceat(np.append(values[a] * weight, 0), starts) for a in axes]
            total = np.add.reduceat(np.append(weight, 0), starts)
            centre = np.column_stack(sums) / np.maximum(total, 1e-12)[:, None]
            return centre[rows]
    if "image_mask" in columns:
        masks = segmentation["image_mask"].data
        out = []
        for row in rows.tolist():  # one mask at a time: (num_x, num_y[, num_z]) per the schema
            mask = np.asarray(masks[row], dtype=np.float64)
            out.append([(g * mask).sum() / max(mask.sum(), 1e-12) for g in np.indices(mask.shape)])
        return np.asarray(out)
    return None


def pixel_um(segmentation, um_per_pixel: float | None) -> tuple[float, str]:
    if um_per_pixel is not None:
        return um_per_pixel, "given"
    plane = getattr(segmentation, "imaging_plane", None)
    spacing = getattr(plane, "grid_spacing", None)
    unit = str(getattr(plane, "grid_spacing_unit", "meters")).lower()
    if spacing is not None and unit in _UNIT_TO_UM and len(spacing) and float(spacing[0]) > 0:
        return float(spacing[0]) * _UNIT_TO_UM[unit], "imaging plane grid_spacing"
    return 1.0, "default (the file has no grid_spacing)"
