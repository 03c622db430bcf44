"""Check that a DINA dataset file holds what the format promises (see ``format.py``).

Every failure raises :class:`~dina_core.errors.DatasetError` naming the file, the field
(an HDF5 path such as ``/trials/image_index``; ``/@format`` for a root attribute;
``<file>`` for the file itself), what was expected and what was found.

Tier policy: ``train`` and ``test`` must each hold at least one trial. ``validation`` may
be empty; training then carves its validation trials out of ``train``. Test images must
never be shown on train or validation trials, otherwise test scores measure memory.

Zero neurons are refused; declared sizes are checked against the free memory before an array is
read (``guards.check_fits``), so a file declaring terabytes is refused instead of allocated.
A well-formed file can still be degenerate (identical images, constant responses, copied trials):
``degenerate`` judges that, the same rules as for a recording in memory (``checked.validate_data``).
All checks are vectorised or per row; big arrays are scanned in blocks of rows, so a 6,000-trial x
5,000-neuron file is checked in about a second without holding a second copy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.degenerate import digest, judge
from dina_core.data.format import FORMAT_NAME, FORMAT_VERSION, TIERS
from dina_core.data.guards import check_fits
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.data.values import check_finite, check_neurons, few
from dina_core.errors import DatasetError

_NUMERIC = "fiu"  # real floats and (unsigned) ints; not bool, complex or text


@dataclass(frozen=True)
class Sizes:
    """Sizes read from a file's structure (no big array is loaded)."""

    n_trials: int
    n_neurons: int
    n_images: int
    image_shape: tuple[int, int]


def decode_text(raw: bytes, path, field: str) -> str:
    """``raw`` as UTF-8 text; DatasetError naming ``path``, ``field`` and the first byte that is not UTF-8."""
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(path, field, "text in UTF-8", f"byte 0x{raw[err.start]:02x} at offset {err.start}, "
                           f"which is not UTF-8 ({bytes(raw[:40])!r})") from None


def text_array(values: np.ndarray, path, field: str) -> np.ndarray:
    """``values`` as ``<U`` text when they are bytes (``S``), decoded as UTF-8; any other array as it is.

    Raises:
        DatasetError: naming ``path``, ``field`` with the first row that is not UTF-8, and its bytes.
    """
    values = np.asarray(values)
    if values.dtype.kind != "S":
        return values
    try:
        return np.char.decode(values, "utf-8")
    except UnicodeDecodeError:
        for row, raw in enumerate(values.ravel().tolist()):
            decode_text(raw, path, f"{field} row {row}")
        raise


def read_strings(ds: h5py.Dataset) -> np.ndarray:
    """Read a text dataset as a numpy unicode array ``<U``, whatever its HDF5 string flavour.

    Raises:
        DatasetError: naming the file, the dataset and the first row whose bytes are not UTF-8.
    """
    if not h5py.check_string_dtype(ds.dtype):
        return np.asarray(ds[()], dtype=str).reshape(ds.shape)
    try:
        values = ds.asstr("utf-8")[()]  # UTF-8 holds ASCII: a dataset declared ASCII reads the same
    except UnicodeDecodeError:
        raw = np.asarray(ds[()], dtype=object).ravel().tolist()
        for row, value in enumerate(raw):
            decode_text(value, ds.file.filename, f"{ds.name} row {row}")
        raise
    return np.asarray(values, dtype=str).reshape(ds.shape)


def _check_text_attrs(f: h5py.File, path) -> None:
    """Refuse a root attribute whose text is not UTF-8, naming it (readers decode every one)."""
    try:
        items = list(f.attrs.items())
    except UnicodeDecodeError as err:
        raise DatasetError(path, "/@<attributes>", "attributes whose names and text are UTF-8",
                           f"bytes that are not UTF-8 ({err.reason} at offset {err.start})") from None
    for key, value in items:
        if isinstance(value, bytes):
            decode_text(value, path, f"/@{key}")


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
            columns = json.loads(beh.attrs.get("columns", "[]"))
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
