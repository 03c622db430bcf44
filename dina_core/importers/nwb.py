"""Import an NWB 2.x optical-physiology file as a DINA dataset (needs the 'nwb' extra).

Read with pynwb, imported only when a file is read, so the rest of DINA works without it.

Traces and ROIs (which series, neuropil, conversion, frame times, ROI positions):
:mod:`dina_core.importers.nwb_traces`. Stimulus table and images:
:mod:`dina_core.importers.nwb_stimuli`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.guards import regular_file
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.errors import DatasetError, DinaError
from dina_core.importers.nwb_stimuli import read_nwb_images, read_nwb_table
from dina_core.importers.nwb_traces import read_recording
from dina_core.importers.stimuli import StimulusTable
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.recording import TraceRecording
from dina_core.importers.traces.source import DERIVED_LICENSE, RawSource, write_source
from dina_core.progress import Progress


@dataclass
class NwbSession:
    """Everything DINA reads from one NWB file."""

    recording: TraceRecording
    table: StimulusTable
    images: np.ndarray  # (n_images, H, W) float32
    images_source: str  # the container they came from


@contextmanager
def open_nwb(path: str | os.PathLike) -> Iterator:
    """Open an NWB file read-only with pynwb; DatasetError for missing, non-HDF5 or non-NWB
    files, DinaError when pynwb is not installed."""
    path = regular_file(path, "an NWB file (.nwb)")  # before is_hdf5 opens it: a FIFO would block
    if not h5py.is_hdf5(path):
        raise DatasetError(path, "<file>", "an NWB 2.x file (HDF5)", "a file that is not HDF5")
    with open_hdf5(path, "an NWB 2.x file (HDF5)") as f:  # self-contained, before pynwb reads it
        version = f.attrs.get("nwb_version")
    if version is None:
        raise DatasetError(path, "/@nwb_version", "an NWB 2.x file (HDF5 with an 'nwb_version' "
                           "attribute)", "an HDF5 file that is not NWB")
    try:
        from pynwb import NWBHDF5IO
    except ImportError:
        raise DinaError("Reading NWB files needs pynwb: pip install -e '.[nwb]' in the DINA checkout "
                        "(or pip install pynwb)") from None
    io = NWBHDF5IO(str(path), "r")
    try:
        try:
            nwbfile = io.read()
        except Exception as err:  # hdmf raises many types for files it cannot map
            raise DatasetError(path, "<file>", "an NWB 2.x file pynwb can read",
                               f"{type(err).__name__}: {err}") from None
        try:
            yield nwbfile
        except OSError as err:  # HDF5 reports damaged or truncated data this way, on the read that hits it
            raise DatasetError(path, "<file>", "an NWB file whose data can be read",
                               f"damaged data ({err})") from None
    finally:
        io.close()


def load_nwb(path: str | os.PathLike, *, signal: str = "dff", series: str | None = None,
             table: str | None = None, image_column: str | None = None,
             tier_column: str | None = None, images: str | None = None,
             um_per_pixel: float | None = None) -> NwbSession:
    """Read traces, ROIs, presentations and images from an NWB file (rules above).

    Args:
        path: the ``.nwb`` file.
        signal: 'dff' or 'events' (see :class:`TraceConfig`).
        series: 'Interface' or 'Interface/Series' of the traces, instead of the default.
        table: the TimeIntervals table of presentations, instead of the default.
        image_column: its image index column, instead of the default.
        tier_column: its tier column (default 'tier' when present).
        images: the images' container or series name, instead of the default search.
        um_per_pixel: pixel size, overriding the imaging plane's grid spacing.

    Raises:
        DatasetError: a missing, non-HDF5 or non-NWB file; or a missing part, with the
            file's contents (modules, interfaces, interval tables and columns) listed.
    """
    path = Path(path)
    with open_nwb(path) as nwbfile:
        recording = read_recording(nwbfile, path, signal, series, um_per_pixel)
        presentations = read_nwb_table(nwbfile, path, table=table, image_column=image_column,
                                       tier_column=tier_column)
        stack, source = read_nwb_images(nwbfile, path, images)
    return NwbSession(recording, presentations, stack, source)


def read_nwb_source(path: str | os.PathLike, *, signal: str = "dff", series: str | None = None,
                    table: str | None = None, image_column: str | None = None,
                    tier_column: str | None = None, images: str | None = None,
                    um_per_pixel: float | None = None) -> RawSource:
    """Read an NWB file's traces, presentations and images, ready to preprocess.

    Args:
        path, signal, series, table, image_column, tier_column, images, um_per_pixel:
            see :func:`load_nwb` (``signal`` picks which traces are read).

    Raises:
        DatasetError: on any malformed input, naming the file and field.
    """
    session = load_nwb(path, signal=signal, series=series, table=table,
                       image_column=image_column, tier_column=tier_column, images=images,
                       um_per_pixel=um_per_pixel)
    request = {"importer": "nwb", "source": str(Path(path).resolve()),
               "options": {"signal": signal, "series": series, "table": table, "image_column": image_column,
                           "tier_column": tier_column, "images": images, "um_per_pixel": um_per_pixel}}
    return RawSource(
        session.recording, session.table, session.images,
        np.arange(len(session.images)).astype(str),
        images_source=f"{Path(path).name}:{session.images_source}", origin=str(path),
        attrs={"name": Path(path).stem, "source": f"NWB file {path}",
               "citation": "see the NWB file's own references (general/related_publications)",
               "license": DERIVED_LICENSE}, request=request)


def import_nwb(path: str | os.PathLike, out_path: str | os.PathLike, *,
               config: TraceConfig | None = None, series: str | None = None,
               table: str | None = None, image_column: str | None = None,
               tier_column: str | None = None, images: str | None = None,
               um_per_pixel: float | None = None, validation_fraction: float = 0.1,
               progress: Progress | None = None) -> Path:
    """Convert an NWB file into a checked DINA dataset file.

    Args:
        path: the ``.nwb`` file.
        out_path: the ``.h5`` file to write (atomically).
        config: preprocessing and windows (default :class:`TraceConfig`).
        series, table, image_column, tier_column, images, um_per_pixel: see :func:`load_nwb`.
        validation_fraction: for tables without a tier column (rule in
            :mod:`dina_core.importers.stimuli`).
        progress: optional ``callback(done, total, stage)``.

    Returns:
        ``out_path`` as a Path, after reading it back through the validator.

    Raises:
        DatasetError: on any malformed input, naming the file and field.
    """
    config = config or TraceConfig()
    source = read_nwb_source(path, signal=config.signal, series=series, table=table,
                             image_column=image_column, tier_column=tier_column, images=images,
                             um_per_pixel=um_per_pixel)
    return write_source(source, out_path, config, validation_fraction=validation_fraction,
                        progress=progress)
