"""Check a DINA dataset file's structure (see ``format.py``) without loading its big arrays.

Attributes, groups, ranks, dtypes and lengths are read from the file's metadata only. Every
failure raises :class:`~dina_core.errors.DatasetError` naming the file, the field (an HDF5 path
such as ``/trials/image_index``; ``/@format`` for a root attribute), what was expected and what
was found. Zero neurons are refused; the per-trial arrays read whole by the trial checks are
checked against the free memory first (``guards.check_fits``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from dina_core.data.format import FORMAT_NAME, FORMAT_VERSION
from dina_core.data.guards import check_fits
from dina_core.data.text import check_text
from dina_core.errors import DatasetError

_NUMERIC = "fiu"  # real floats and (unsigned) ints; not bool, complex or text


@dataclass(frozen=True)
class Sizes:
    """Sizes read from a file's structure (no big array is loaded)."""

    n_trials: int
    n_neurons: int
    n_images: int
    image_shape: tuple[int, int]


def _check_text_attrs(f: h5py.File, path) -> None:
    """Refuse a root attribute whose text is not UTF-8, naming it (readers decode every one)."""
    try:
        items = list(f.attrs.items())
    except UnicodeDecodeError as err:
        raise DatasetError(path, "/@<attributes>", "attributes whose names and text are UTF-8",
                           f"bytes that are not UTF-8 ({err.reason} at offset {err.start})") from None
    for key, value in items:
        check_text(key, path, "/@<attribute names>")
        check_text(value, path, f"/@{key}")


def datasets_in(f: h5py.File, group: str) -> list[tuple[str, h5py.Dataset]]:
    """All datasets below ``group`` (none if it is absent), named relative to it."""
    found: list[tuple[str, h5py.Dataset]] = []
    if group in f:
        f[group].visititems(lambda name, obj: found.append((name, obj))
                            if isinstance(obj, h5py.Dataset) else None)
    return found


def _dataset(f: h5py.File, name: str, path, what: str) -> h5py.Dataset:
    """Return dataset ``name``, naming the highest missing group if it is absent."""
    parts = name.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        sub = "/" + "/".join(parts[:depth])
        if sub not in f:
            kind = what if depth == len(parts) else f"a group holding {name}"
            raise DatasetError(path, sub, kind, "nothing (it is missing)")
    obj = f[name]
    if not isinstance(obj, h5py.Dataset):
        raise DatasetError(path, name, what, "a group instead of an array")
    return obj


def _check_shape(ds: h5py.Dataset, name: str, path, ndim: int, what: str) -> None:
    if ds.ndim != ndim:
        raise DatasetError(path, name, f"a {ndim}-D array {what}", f"shape {ds.shape}")


def _check_numeric(ds: h5py.Dataset, name: str, path, kinds: str = _NUMERIC) -> None:
    if h5py.check_string_dtype(ds.dtype) or ds.dtype.kind in "SUO":
        found = "text"
    elif ds.dtype.kind not in kinds:
        found = f"values of type {ds.dtype}"
    else:
        return
    expected = "integer indices" if kinds == "iu" else "real numbers (float or integer)"
    raise DatasetError(path, name, expected, found)


def _check_rows(ds: h5py.Dataset, name: str, path, n: int, per: str) -> None:
    if ds.ndim == 0 or ds.shape[0] != n:
        found = "a scalar" if ds.ndim == 0 else f"{ds.shape[0]} rows (shape {ds.shape})"
        raise DatasetError(path, name, f"{n} rows, one per {per}", found)


def _check_version(f: h5py.File, path) -> None:
    fmt = f.attrs.get("format")
    if fmt is None or str(fmt) != FORMAT_NAME:
        found = "no 'format' attribute" if fmt is None else f"{str(fmt)!r}"
        raise DatasetError(path, "/@format", f"{FORMAT_NAME!r} (a DINA dataset file)", found)
    version = str(f.attrs.get("format_version", ""))
    major = FORMAT_VERSION.split(".")[0]
    if version.split(".")[0] != major:
        raise DatasetError(path, "/@format_version", f"version {major}.x (this DINA reads "
                           f"{FORMAT_VERSION})", repr(version) if version else "no version")


def check_structure(f: h5py.File, path) -> Sizes:
    """Check attributes, groups, ranks, dtypes and lengths without loading big arrays.

    Args:
        f: an open DINA dataset file.
        path: the file's path, for messages.

    Returns:
        The recording's sizes.

    Raises:
        DatasetError: on the first problem found.
    """
    _check_text_attrs(f, path)
    _check_version(f, path)
    images = _dataset(f, "/stimuli/images", path, "an array of images (n_images, H, W)")
    _check_shape(images, "/stimuli/images", path, 3, "(n_images, H, W) of grey levels")
    _check_numeric(images, "/stimuli/images", path)
    if min(images.shape) == 0:
        raise DatasetError(path, "/stimuli/images", "at least one non-empty image",
                           f"shape {images.shape}")
    resp = _dataset(f, "/trials/responses", path, "an array of responses (n_trials, n_neurons)")
    _check_shape(resp, "/trials/responses", path, 2, "(n_trials, n_neurons)")
    _check_numeric(resp, "/trials/responses", path)
    n_trials, n_neurons = resp.shape
    if n_neurons == 0:
        raise DatasetError(path, "/trials/responses", "at least one neuron (column)", f"shape {resp.shape}")
    sizes = Sizes(n_trials, n_neurons, images.shape[0], (images.shape[1], images.shape[2]))
    for name, ndim, kinds in (("/trials/image_index", 1, "iu"), ("/trials/tier", 1, None)):
        ds = _dataset(f, name, path, f"a 1-D array with one value per trial ({n_trials})")
        _check_shape(ds, name, path, ndim, "with one value per trial")
        _check_rows(ds, name, path, n_trials, "trial (like /trials/responses)")
        check_fits(path, [(name, ds.shape, np.int64 if kinds else object)])  # read whole by the trial checks
        if kinds:
            _check_numeric(ds, name, path, kinds)
        elif not h5py.check_string_dtype(ds.dtype):
            raise DatasetError(path, name, "text labels ('train', 'validation', 'test')",
                               f"values of type {ds.dtype}")
    if "/stimuli/source" in f:
        _check_rows(f["/stimuli/source"], "/stimuli/source", path, sizes.n_images, "image")
    _check_optional(f, path, sizes)
    return sizes


def _check_optional(f: h5py.File, path, sizes: Sizes) -> None:
    """Behaviour, extra trial arrays, neuron arrays and ground-truth receptive fields."""
    if "/trials/behavior" in f:
        beh = _dataset(f, "/trials/behavior", path, "an array (n_trials, n_behavior)")
        _check_shape(beh, "/trials/behavior", path, 2, "(n_trials, n_behavior)")
        _check_numeric(beh, "/trials/behavior", path)
        _check_rows(beh, "/trials/behavior", path, sizes.n_trials, "trial")
        try:
            columns = json.loads(check_text(beh.attrs.get("columns", "[]"), path, "/trials/behavior@columns"))
        except (TypeError, ValueError):
            columns = None
        if not isinstance(columns, list) or len(columns) != beh.shape[1]:
            raise DatasetError(path, "/trials/behavior@columns",
                               f"a JSON list of {beh.shape[1]} column names", repr(columns))
    for group, n, per in (("/trials/extra", sizes.n_trials, "trial"),
                          ("/neurons", sizes.n_neurons, "neuron (like /trials/responses)")):
        for name, ds in datasets_in(f, group):
            _check_rows(ds, f"{group}/{name}", path, n, per)
    if "/neurons/positions_um" in f:
        pos = f["/neurons/positions_um"]
        if pos.ndim != 2 or pos.shape[1] not in (2, 3):
            raise DatasetError(path, "/neurons/positions_um", "(n_neurons, 2 or 3) micrometres",
                               f"shape {pos.shape}")
    if "/ground_truth/rf_masks" in f:
        masks = f["/ground_truth/rf_masks"]
        expected = (sizes.n_neurons, *sizes.image_shape)
        if masks.shape != expected:
            raise DatasetError(path, "/ground_truth/rf_masks",
                               f"shape {expected} (n_neurons, H, W)", f"shape {masks.shape}")
