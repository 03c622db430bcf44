"""Fully check that a DINA dataset file holds what the format promises (see ``format.py``).

The checks run in order: the file's structure (``structure``), the trial table's rules
(``trials``), NaN/Inf and neuron ids and positions (``values``), then the degenerate
recordings (``degenerate``). Every failure raises :class:`~dina_core.errors.DatasetError`
naming the file, the field (an HDF5 path; ``<file>`` for the file itself), what was expected
and what was found.

Declared sizes are checked against the free memory before an array is read (``guards.check_fits``),
so a file declaring terabytes is refused instead of allocated. A well-formed file can still be
degenerate (identical images, constant responses, copied trials): ``degenerate`` judges that, the
same rules as for a recording in memory (``checked.validate_data``). All checks are vectorised or
per row; big arrays are scanned in blocks of rows, so a 6,000-trial x 5,000-neuron file is checked
in about a second without holding a second copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.degenerate import digest, judge
from dina_core.data.guards import check_fits
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.data.structure import check_structure
from dina_core.data.text import read_strings
from dina_core.data.trials import check_trials
from dina_core.data.values import check_finite, check_neurons
from dina_core.errors import DatasetError


def validate_file(f: h5py.File, path) -> list[str]:
    """Fully check an open DINA dataset file: structure, indices, tiers, NaN/Inf, neuron ids and positions,
    and the degenerate recordings of ``degenerate``.

    Args:
        f: an open DINA dataset file.
        path: the file's path, for messages.

    Returns:
        Flags: one sentence per degenerate but usable property (``degenerate.judge``).

    Raises:
        DatasetError: on the first problem found.
    """
    sizes = check_structure(f, path)
    check_fits(path, [(name, f[name].shape, np.float32) for name in ("/stimuli/images", "/trials/responses")])
    image_index, tiers = f["/trials/image_index"][()], read_strings(f["/trials/tier"])
    check_trials(path, image_index, tiers, sizes.n_images)
    check_finite(path, "/stimuli/images", f["/stimuli/images"])
    check_finite(path, "/trials/responses", f["/trials/responses"])
    check_neurons(path, {name: f[f"/neurons/{name}"][()] for name in ("ids", "positions_um")
                         if f"/neurons/{name}" in f})
    return judge(path, digest(f["/stimuli/images"], f["/trials/responses"]), image_index, tiers)


@contextmanager
def open_dataset_file(path: Path) -> Iterator[h5py.File]:
    """Open ``path`` read-only, turning "missing", "not a regular file" (a FIFO is refused before it
    is opened), "not HDF5", "not self-contained" and "damaged data" into DatasetError."""
    with open_hdf5(path, "a DINA dataset file (an HDF5 file, .h5)") as f:
        try:
            yield f
        except OSError as err:  # HDF5 reports damaged chunks (bad checksum, broken compression) this way
            raise DatasetError(path, "<file>", "an HDF5 file whose data can be read",
                               f"damaged data ({err})") from None


def validate_dataset(path: str | os.PathLike) -> list[str]:
    """Fully check the file at ``path`` (``validate_file``) without keeping it.

    Returns:
        Flags of a degenerate but usable recording (``degenerate.judge``); the caller decides whether to warn.

    Raises:
        DatasetError: naming the file, the field, what was expected and what was found.
    """
    path = Path(path)
    with open_dataset_file(path) as f:
        return validate_file(f, path)
