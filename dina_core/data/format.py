"""The DINA dataset file: one HDF5 file per recording.

Layout (format ``dina-dataset``, version ``1.0``)::

    /                      attrs: format, format_version, name, source, citation,
                                  license, response_unit, [preprocessing (JSON)]
    /stimuli/images        (n_images, H, W) float32 or uint8, grey levels (any range)
    /stimuli/source        (n_images,) str, optional: where each image came from (attribution)
    /trials/responses      (n_trials, n_neurons) float32, one value per trial and neuron
    /trials/image_index    (n_trials,) int, row of /stimuli/images shown on that trial
    /trials/tier           (n_trials,) str, 'train' | 'validation' | 'test'
    /trials/behavior       (n_trials, n_behavior) float, optional; attr ``columns``
    /trials/extra/<name>   (n_trials, ...) optional arrays carried along (e.g. trial_idx)
    /neurons/ids           (n_neurons,) int, optional
    /neurons/positions_um  (n_neurons, 2 or 3) float, optional, micrometres
    /neurons/area          (n_neurons,) str, optional (e.g. 'V1')
    /ground_truth/...      optional, simulated data only (see dina_core.simulate)

Test images must not be shown on train or validation trials. Files are opened per
call and closed before returning: no handle outlives a function.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path, write_buffer

FORMAT_NAME = "dina-dataset"
FORMAT_VERSION = "1.0"
TIERS = ("train", "validation", "test")


@dataclass
class DinaData:
    """A whole recording held in memory.

    Attributes:
        images: (n_images, H, W) float32 grey levels, as recorded (not normalised).
        responses: (n_trials, n_neurons) float32, in ``attrs['response_unit']``.
        image_index: (n_trials,) int64 row of ``images`` shown on each trial.
        tiers: (n_trials,) str, one of ``TIERS``.
        attrs: root attributes (name, source, citation, license, response_unit, ...).
        image_source: (n_images,) str attribution of each image, or None.
        neurons: optional per-neuron arrays: 'ids' (n,), 'positions_um' (n, 2|3), 'area' (n,).
        behavior: (n_trials, n_behavior) float32 or None.
        behavior_columns: names of the behaviour columns.
        extra: other per-trial arrays carried along from the source, by name.
        ground_truth: simulator ground truth by name (see dina_core.simulate), or None.
    """

    images: np.ndarray
    responses: np.ndarray
    image_index: np.ndarray
    tiers: np.ndarray
    attrs: dict = field(default_factory=dict)
    image_source: np.ndarray | None = None
    neurons: dict[str, np.ndarray] = field(default_factory=dict)
    behavior: np.ndarray | None = None
    behavior_columns: list[str] = field(default_factory=list)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    ground_truth: dict[str, np.ndarray] | None = None

    @property
    def n_trials(self) -> int:
        return int(self.responses.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.responses.shape[1])

    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def tier_mask(self, tier: str) -> np.ndarray:
        """(n_trials,) bool: trials of ``tier``."""
        return self.tiers == tier


def _str_array(values) -> np.ndarray:
    return np.asarray([str(v) for v in np.asarray(values).ravel()], dtype=object)


def _write_array(group: h5py.Group, name: str, values, compress: bool = False) -> h5py.Dataset:
    """Write one array; text arrays become variable-length UTF-8 strings."""
    values = np.asarray(values)
    if values.dtype.kind in "USO":
        return group.create_dataset(name, data=_str_array(values), dtype=h5py.string_dtype())
    if compress and values.ndim >= 2:
        return group.create_dataset(name, data=values, compression="gzip", compression_opts=1)
    return group.create_dataset(name, data=values)


def write_dataset(path: str | os.PathLike, data: DinaData, *,
                  verify: Callable[[Path], None] | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    A crash mid-write leaves any previous file at ``path`` untouched and no partial file. The file is
    built in memory (as large as the file, beside ``data``) and then written in one piece, so a full disk is
    one clear error (``atomic.DiskFullError``) and never a failed HDF5 write, which h5py reports in
    tracebacks as its objects are freed and can crash on.

    Args:
        path: the ``.h5`` file.
        data: the recording.
        verify: called with the complete temporary file before it replaces ``path``; when it
            raises, the temporary file is removed and ``path`` is left as it was.

    Raises:
        DiskFullError: the disk filled up: nothing was written, an earlier ``path`` is unchanged.
    """
    path = Path(path)
    image = io.BytesIO()
    _write(image, data)
    with atomic_path(path) as tmp:
        write_buffer(tmp, image)
        image.close()
        if verify is not None:
            verify(tmp)
    return path


def _write(target: io.BytesIO, data: DinaData) -> None:
    with h5py.File(target, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        for key, value in data.attrs.items():
            f.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
        stim = f.create_group("stimuli")
        stim.create_dataset("images", data=data.images, compression="gzip", compression_opts=1,
                            chunks=(1, *data.images.shape[1:]))
        if data.image_source is not None:
            _write_array(stim, "source", data.image_source)
        trials = f.create_group("trials")
        n_trials, n_neurons = data.responses.shape
        rows_per_chunk = max(1, min(n_trials, 65536 // max(n_neurons, 1)))
        trials.create_dataset("responses", data=np.asarray(data.responses, dtype=np.float32),
                              chunks=(rows_per_chunk, max(n_neurons, 1)) if n_trials else None)
        _write_array(trials, "image_index", np.asarray(data.image_index, dtype=np.int64))
        _write_array(trials, "tier", data.tiers)
        if data.behavior is not None:
            ds = _write_array(trials, "behavior", np.asarray(data.behavior, dtype=np.float32))
            ds.attrs["columns"] = json.dumps(list(data.behavior_columns))
        extra = trials.create_group("extra")
        for name, values in data.extra.items():
            _write_array(extra, name, values)
        neurons = f.create_group("neurons")
        for name, values in data.neurons.items():
            _write_array(neurons, name, values)
        if data.ground_truth:
            gt = f.create_group("ground_truth")
            for name, values in data.ground_truth.items():
                _write_array(gt, name, values, compress=True)
