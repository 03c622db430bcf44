"""Checks on array values shared by the file validator and the in-memory one: NaN/Inf, neuron arrays.

Each raises :class:`~dina_core.errors.DatasetError` naming the file (or source), the field
(an HDF5 path of the DINA layout), what was expected and where the first offender sits.
"""

from __future__ import annotations

import numpy as np

from dina_core.errors import DatasetError

_BLOCK_ELEMENTS = 1 << 22  # ~16 MB of float32 per block when scanning for NaN/Inf
_AXES = {"/trials/responses": ("trial", "neuron"), "/stimuli/images": ("image", "row", "column"),
         "/neurons/positions_um": ("neuron", "axis")}


def few(values, k: int = 5) -> str:
    """The first ``k`` values, comma-separated, with '...' when there are more."""
    values = [str(v) for v in values]
    return ", ".join(values[:k]) + (", ..." if len(values) > k else "")


def check_finite(path, name: str, array) -> None:
    """Raise if ``array`` (numpy array or h5py dataset, rows first) holds NaN or Inf.

    Scanned in blocks of rows so an h5py dataset is never loaded whole.
    """
    if array.dtype.kind != "f" or array.shape[0] == 0:
        return
    row_size = max(1, int(np.prod(array.shape[1:])))
    step = max(1, _BLOCK_ELEMENTS // row_size)
    n_bad, first = 0, None
    for start in range(0, array.shape[0], step):
        bad = ~np.isfinite(array[start:start + step])
        count = int(bad.sum())
        if count and first is None:
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            first = (first[0] + start, *first[1:])
        n_bad += count
    if n_bad:
        axes = _AXES.get(name, [f"axis {k}" for k in range(len(first))])
        where = ", ".join(f"{axis} {i}" for axis, i in zip(axes, first))
        raise DatasetError(path, name, "finite numbers (no NaN or Inf)",
                           f"{n_bad} NaN/Inf value(s), the first at {where}")


def check_neurons(path, neurons: dict[str, np.ndarray], *, fields: dict[str, str] | None = None) -> None:
    """Neuron ids must name each neuron once; positions must be finite (n, 2 or 3) micrometres.

    Args:
        path: file or source, for messages.
        neurons: per-neuron arrays by DINA name ('ids', 'positions_um'; others are ignored).
        fields: the field to name for each array (default ``/neurons/<name>``), so an importer can
            name its source file's field instead.

    Raises:
        DatasetError: repeated ids (two columns that claim to be one neuron), or positions of the
            wrong shape or holding NaN/Inf.
    """
    fields = fields or {}
    if "ids" in neurons:
        ids = np.asarray(neurons["ids"]).ravel()
        values, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            repeated = values[counts > 1]
            first = np.flatnonzero(ids == repeated[0])
            raise DatasetError(path, fields.get("ids", "/neurons/ids"), "one distinct id per neuron",
                               f"{repeated.size} id(s) repeated, e.g. {repeated[0]} at neurons {few(first, 3)} "
                               f"(ids {few(repeated)})")
    if "positions_um" in neurons:
        pos = np.asarray(neurons["positions_um"])
        name = fields.get("positions_um", "/neurons/positions_um")
        if pos.ndim != 2 or pos.shape[1] not in (2, 3) or pos.dtype.kind not in "fiu":
            raise DatasetError(path, name, "(n_neurons, 2 or 3) positions in micrometres",
                               f"shape {pos.shape}, type {pos.dtype}")
        bad = ~np.isfinite(pos.astype(np.float64)).all(axis=1)
        if bad.any():
            raise DatasetError(path, name, "finite positions (no NaN or Inf)",
                               f"{int(bad.sum())} neuron(s) without a finite position, e.g. neurons "
                               f"{few(np.flatnonzero(bad), 3)}")
