"""A raw recording read once, then preprocessed and written as often as the user likes.

The suite2p and NWB importers read a :class:`RawSource` (traces, presentations, images) and
hand it to :func:`write_source`; the app's import wizard keeps one in its cache and calls
:func:`dina_core.importers.traces.preview.preview_source` on every parameter change before writing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dina_core.importers.stimuli import StimulusTable
from dina_core.importers.traces.config import TraceConfig
from dina_core.data.checked import write_checked
from dina_core.importers.traces.dataset import build_dataset
from dina_core.importers.traces.recording import TraceRecording
from dina_core.progress import Progress

DERIVED_LICENSE = "see the recording's own licence; this file is a derived copy"


@dataclass
class RawSource:
    """Everything an importer read from a recording, before any preprocessing.

    Attributes:
        recording: the continuous traces (possibly memory-mapped) and per-neuron metadata.
        table: the stimulus presentations, in trial order.
        images: (n_images, H, W) float32 grey levels of the stimuli.
        image_ids: (n_images,) str ids the table's image column refers to.
        images_source: where the images came from, for messages and the dataset's record.
        attrs: root attributes of the dataset to write (name, source, citation, license).
        origin: the file named when the assembled trials fail their checks (the stimulus
            table for suite2p, the NWB file for NWB).
        request: what was asked for (importer, resolved source paths, reading options), recorded
            with the preprocessing settings as the dataset's ``import_request`` attribute.
    """

    recording: TraceRecording
    table: StimulusTable
    images: np.ndarray
    image_ids: np.ndarray
    images_source: str
    attrs: dict
    origin: str
    request: dict = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return int(self.table.image_ids.size)


def write_source(source: RawSource, out_path: str | os.PathLike, config: TraceConfig | None = None, *,
                 validation_fraction: float = 0.1, progress: Progress | None = None) -> Path:
    """Preprocess every neuron of ``source`` with ``config`` and write a checked DINA file.

    Args:
        source: what an importer read (:func:`dina_core.importers.suite2p.read_suite2p_source`,
            :func:`dina_core.importers.nwb.read_nwb_source`).
        out_path: the ``.h5`` file to write. The dataset is validated in memory first, then written
            to a temporary file, read back and renamed (``data.checked.write_checked``): a failed
            import leaves an existing ``out_path`` byte-identical and no other file behind.
        config: preprocessing and windows (default :class:`TraceConfig`).
        validation_fraction: for tables without a tier column.
        progress: optional ``callback(done, total, stage)``.

    Returns:
        ``out_path`` as a Path, after reading it back through the validator.

    Raises:
        DatasetError: naming the source file and field: unknown image ids, identical onsets,
            windows outside the recording, missing tiers, NaN/Inf frames (unless
            ``config.nan_frames='interpolate'``), or a dataset the validator refuses.
    """
    data, _ = build_dataset(source.recording, source.table, source.images, source.image_ids,
                            config or TraceConfig(), images_source=source.images_source,
                            attrs=source.attrs, validation_fraction=validation_fraction,
                            progress=progress)
    data.attrs["import_request"] = {**source.request, "trace_config": (config or TraceConfig()).to_dict(),
                                    "validation_fraction": validation_fraction}
    return write_checked(out_path, data, source.origin)


def describe_source(source: RawSource) -> dict:
    """Numbers a user checks before importing: sizes, duration, planes and available signals."""
    rec = source.recording
    return {"neurons": rec.n_neurons, "frames": rec.n_frames, "fs_hz": rec.fs,
            "duration_s": rec.n_frames / rec.fs, "trials": source.n_trials,
            "images": int(len(source.images)), "image_shape": tuple(source.images.shape[1:]),
            "planes": len(rec.planes),
            "signals": [k for k in ("fluorescence", "neuropil", "events", "dff") if rec.has(k)],
            "tiers_in_table": source.table.tiers is not None,
            "onsets": source.table.columns.get("onset", ""),
            "repeated_images": int((np.bincount(np.unique(source.table.image_ids,
                                                          return_inverse=True)[1]) > 1).sum())}
