"""Read DINA dataset files (layout in ``format.py``) into memory, checked.

Every function opens the file, validates it and closes it before returning: no HDF5
handle outlives a call, so Streamlit reruns and DataLoader workers never share one. A file
whose objects live outside it (external links or storage, virtual datasets, plugin filters)
is refused before anything is read (``hdf5_safety``). A recording read whole meets the same
rules as one an importer writes or a notebook trains on (``checked.validate_data``).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.checked import validate_data
from dina_core.data.format import TIERS, DinaData
from dina_core.data.guards import check_fits
from dina_core.data.structure import Sizes, check_structure, datasets_in
from dina_core.data.text import read_strings
from dina_core.data.trials import check_trials
from dina_core.data.validate import open_dataset_file as _open
from dina_core.data.validate import validate_dataset
from dina_core.errors import DinaWarning

__all__ = ["dataset_summary", "read_dataset", "validate_dataset"]


def _attr(value):
    """An HDF5 attribute as a plain Python value; JSON objects/lists written by
    ``write_dataset`` for non-scalar attributes are decoded back."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _read(ds: h5py.Dataset) -> np.ndarray:
    return read_strings(ds) if h5py.check_string_dtype(ds.dtype) else ds[()]


def _checked_trials(f: h5py.File, path: Path) -> tuple[Sizes, np.ndarray, np.ndarray]:
    """Structure checks, then the trial table: (sizes, image_index (n_trials,) int64, tiers (n_trials,) str)."""
    sizes = check_structure(f, path)
    image_index = f["/trials/image_index"][()].astype(np.int64)
    tiers = read_strings(f["/trials/tier"])
    check_trials(path, image_index, tiers, sizes.n_images)
    return sizes, image_index, tiers


def _check_memory(f: h5py.File, path: Path, load_ground_truth: bool) -> None:
    """Refuse a file whose arrays, as declared, would not fit in memory once read (before reading them)."""
    arrays = [(name, f[name].shape, np.float32) for name in ("/stimuli/images", "/trials/responses")]
    groups = ["/trials/extra", "/neurons"] + ["/ground_truth"] * load_ground_truth
    arrays += [(f"{group}/{name}", ds.shape, ds.dtype) for group in groups for name, ds in datasets_in(f, group)]
    arrays += [(name, f[name].shape, f[name].dtype) for name in ("/trials/behavior", "/stimuli/source") if name in f]
    check_fits(path, arrays)


def read_dataset(path: str | os.PathLike, *, load_ground_truth: bool = True) -> DinaData:
    """Load and check a whole DINA dataset file.

    Args:
        path: the ``.h5`` file.
        load_ground_truth: also read ``/ground_truth`` (simulated data only); skip it to
            save memory when only training.

    Returns:
        The recording; images as float32 (n_images, H, W), responses float32
        (n_trials, n_neurons), image_index int64, text arrays as numpy ``<U`` arrays.

    Raises:
        DatasetError: if the file is missing, not HDF5, breaks the format (repeated neuron ids,
            non-finite positions included), declares arrays larger than the free memory
            (checked before anything big is read), or is degenerate (``checked.validate_data``:
            identical images, constant responses, copied test repeats or validation trials).

    Degenerate but usable recordings (a few copied trials, constant neurons, a small test tier)
    are read with a :class:`DinaWarning` naming the file.
    """
    path = Path(path)
    with _open(path) as f:
        sizes, image_index, tiers = _checked_trials(f, path)
        _check_memory(f, path, load_ground_truth)
        images = f["/stimuli/images"][()].astype(np.float32, copy=False)
        responses = f["/trials/responses"][()].astype(np.float32, copy=False)
        behavior, columns = None, []
        if "/trials/behavior" in f:
            behavior = f["/trials/behavior"][()].astype(np.float32, copy=False)
            columns = list(json.loads(f["/trials/behavior"].attrs["columns"]))
        ground_truth = None
        if load_ground_truth and "/ground_truth" in f:
            ground_truth = {name: _read(ds) for name, ds in datasets_in(f, "/ground_truth")}
        neurons = {name: _read(ds) for name, ds in datasets_in(f, "/neurons")}
        data = DinaData(
            images=images, responses=responses, image_index=image_index, tiers=tiers,
            attrs={key: _attr(value) for key, value in f.attrs.items()
                   if key not in ("format", "format_version")},
            image_source=read_strings(f["/stimuli/source"]) if "/stimuli/source" in f else None,
            neurons=neurons,
            behavior=behavior, behavior_columns=columns,
            extra={name: _read(ds) for name, ds in datasets_in(f, "/trials/extra")},
            ground_truth=ground_truth,
        )
    for flag in validate_data(data, path):
        warnings.warn(f"{path}: {flag}", DinaWarning, stacklevel=2)
    return data


def _repeat_stats(image_index: np.ndarray) -> dict | None:
    counts = np.bincount(image_index)
    counts = counts[counts > 0]
    if counts.size == 0:
        return None
    return {"min": int(counts.min()), "median": float(np.median(counts)),
            "max": int(counts.max())}


def dataset_summary(path: str | os.PathLike) -> dict:
    """Describe a dataset file cheaply: responses and images are never loaded.

    Checks the structure, indices and tiers (not NaN/Inf: use ``validate_dataset``).

    Returns:
        dict with name, source, citation, license, response_unit (``None`` if absent),
        format_version, n_images, image_shape (H, W), n_neurons, n_trials,
        trials_per_tier and images_per_tier ({tier: count} for each of TIERS),
        test_repeats ({min, median, max} trials per test image, or None),
        has_ground_truth, has_behavior, behavior_columns, file_size_bytes.

    Raises:
        DatasetError: if the file is missing, not HDF5, or breaks the format.
    """
    path = Path(path)
    with _open(path) as f:
        sizes, image_index, tiers = _checked_trials(f, path)
        has_behavior = "/trials/behavior" in f
        summary = {key: _attr(f.attrs[key]) if key in f.attrs else None
                   for key in ("name", "source", "citation", "license", "response_unit")}
        summary.update(
            format_version=_attr(f.attrs["format_version"]),
            n_images=sizes.n_images, image_shape=sizes.image_shape,
            n_neurons=sizes.n_neurons, n_trials=sizes.n_trials,
            trials_per_tier={t: int((tiers == t).sum()) for t in TIERS},
            images_per_tier={t: int(np.unique(image_index[tiers == t]).size) for t in TIERS},
            test_repeats=_repeat_stats(image_index[tiers == "test"]),
            has_ground_truth="/ground_truth" in f, has_behavior=has_behavior,
            behavior_columns=json.loads(f["/trials/behavior"].attrs["columns"])
            if has_behavior else [],
            file_size_bytes=path.stat().st_size,
        )
    return summary
