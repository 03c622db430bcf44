"""Import an NWB 2.x optical-physiology file as a DINA dataset (needs the 'nwb' extra).

Read with pynwb, imported only when a file is read, so the rest of DINA works without it.

Traces (processing module ``ophys``, else the first module holding some): with
``signal='dff'``, a DfOverF RoiResponseSeries when the file has one (used as stored: no
neuropil correction or baseline), else a Fluorescence one (F: neuropil-corrected with a
series named ``Neuropil`` when present, then dF/F as set by the :class:`TraceConfig`);
with ``signal='events'``, the series named ``Deconvolved``. ``series='Interface'`` or
``'Interface/Series'`` picks another. Suite2p's own NWB export (Fluorescence interfaces
``Fluorescence``, ``Neuropil`` and ``Deconvolved``) is read as is. Data are stored time
first (n_frames, n_rois); ``conversion`` and ``offset`` are applied; frame times come from
``timestamps`` or ``starting_time + k / rate``.

ROIs: the series' ``rois`` rows of their PlaneSegmentation; positions are the weighted
centroids of ``pixel_mask`` (x, y), ``voxel_mask`` (x, y, z) or ``image_mask``, times the
imaging plane's ``grid_spacing`` (else ``um_per_pixel``, default 1 um).

Stimulus table and images: :mod:`dina_core.importers.nwb_stimuli`. Every traces array is read
into memory, neurons first (4 bytes x n_rois x n_frames per series).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.guards import check_fits, regular_file
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.data.values import check_neurons
from dina_core.importers.nwb_rois import pixel_um, roi_centroids
from dina_core.importers.nwb_stimuli import describe_nwb, kind, read_nwb_images, read_nwb_table
from dina_core.importers.stimuli import StimulusTable
from dina_core.errors import DatasetError, DinaError
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.recording import TracePlane, TraceRecording
from dina_core.importers.traces.source import DERIVED_LICENSE, RawSource, write_source
from dina_core.progress import Progress

_SPECIAL = ("Neuropil", "Deconvolved")  # companion series, never the main fluorescence
_BLOCK_FRAMES = 4096  # frames read per block while transposing to neurons first


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


def _all_series(module) -> Iterator[tuple[str, object, str, object]]:
    """(interface name, interface, series name, series) of every RoiResponseSeries."""
    for iname, interface in module.data_interfaces.items():
        for sname, series in (getattr(interface, "roi_response_series", None) or {}).items():
            yield iname, interface, sname, series


def _module(nwbfile, path):
    modules = nwbfile.processing
    if "ophys" in modules and any(_all_series(modules["ophys"])):
        return modules["ophys"]
    found = next((m for m in modules.values() if any(_all_series(m))), None)
    if found is None:
        raise DatasetError(path, "/processing/ophys", "a DfOverF or Fluorescence "
                           "RoiResponseSeries in a processing module (e.g. 'ophys')",
                           f"none; the file holds {describe_nwb(nwbfile)}")
    return found


def _named(module, name: str):
    """The series called ``name``, or the first series of an interface called ``name``."""
    for iname, _, sname, series in _all_series(module):
        if sname == name or iname == name:
            return series
    return None


def _main_series(module, series: str | None, nwbfile, path) -> tuple[object, str]:
    """The traces to use, and whether they are 'dff' or 'fluorescence'."""
    found = list(_all_series(module))
    if series is not None:
        iname, _, sname = series.partition("/")
        hits = [f for f in found if f[0] == iname and (not sname or f[2] == sname)]
        if not hits:
            raise DatasetError(path, f"/processing/{module.name}/{series}", "a RoiResponseSeries "
                               "of that name", f"none; the file holds {describe_nwb(nwbfile)}")
        chosen = hits[0]
    else:
        dff = [f for f in found if kind(f[1]) == "DfOverF"]
        fluo = [f for f in found if kind(f[1]) == "Fluorescence"
                and f[0] not in _SPECIAL and f[2] not in _SPECIAL]
        if not dff + fluo:
            raise DatasetError(path, f"/processing/{module.name}", "a DfOverF or Fluorescence "
                               "RoiResponseSeries", f"none; the file holds {describe_nwb(nwbfile)}")
        chosen = (dff + fluo)[0]
    return chosen[3], "dff" if kind(chosen[1]) == "DfOverF" else "fluorescence"


def _neurons_first(series) -> np.ndarray:
    """(n_rois, n_frames) float32 from time-first NWB data, conversion and offset applied."""
    data = series.data
    n_frames = data.shape[0]
    out = np.empty((data.shape[1] if len(data.shape) > 1 else 1, n_frames), np.float32)
    for start in range(0, n_frames, _BLOCK_FRAMES):
        out[:, start:start + _BLOCK_FRAMES] = np.asarray(
            data[start:start + _BLOCK_FRAMES], np.float32).reshape(-1, out.shape[0]).T
    conversion, offset = float(series.conversion or 1.0), float(getattr(series, "offset", 0.0) or 0.0)
    if conversion != 1.0 or offset != 0.0:
        out = out * np.float32(conversion) + np.float32(offset)
    return out


def _timing(series, path) -> tuple[float, np.ndarray]:
    n = series.data.shape[0]
    if series.timestamps is not None:
        times = np.asarray(series.timestamps[:], dtype=np.float64)
        if times.size < 2 or not np.all(np.diff(times) > 0):
            raise DatasetError(path, f"{series.name}/timestamps", "increasing frame times",
                               f"{times.size} values, not increasing")
        return 1.0 / float(np.median(np.diff(times))), times
    if not series.rate:
        raise DatasetError(path, f"{series.name}/rate", "a frame rate or timestamps", "neither")
    return float(series.rate), float(series.starting_time or 0.0) + np.arange(n) / float(series.rate)


def _recording(nwbfile, path, signal: str, series: str | None,
               um_per_pixel: float | None) -> TraceRecording:
    module = _module(nwbfile, path)
    if signal == "events":
        main, main_kind = (_main_series(module, series, nwbfile, path)[0] if series
                           else _named(module, "Deconvolved")), "events"
        if main is None:
            raise DatasetError(path, f"/processing/{module.name}/Deconvolved", "deconvolved "
                               "events (a series named 'Deconvolved') for signal 'events'",
                               f"none; the file holds {describe_nwb(nwbfile)}")
    else:
        main, main_kind = _main_series(module, series, nwbfile, path)
    neuropil = _named(module, "Neuropil") if main_kind == "fluorescence" else None
    check_fits(path, [(f"{series.name}/data", tuple(series.data.shape[::-1]), np.float32)
                      for series in (main, neuropil) if series is not None])
    arrays = {main_kind: _neurons_first(main)}
    if neuropil is not None:
        arrays["neuropil"] = _neurons_first(neuropil)
        if arrays["neuropil"].shape != arrays[main_kind].shape:
            raise DatasetError(path, neuropil.name, f"shape {arrays[main_kind].shape[::-1]} like "
                               f"{main.name}", f"shape {arrays['neuropil'].shape[::-1]}")
    fs, frame_times = _timing(main, path)
    segmentation = main.rois.table
    rows = np.asarray(main.rois.data[:], dtype=np.int64)
    if rows.size != arrays[main_kind].shape[0]:
        raise DatasetError(path, f"{main.name}/rois", f"{arrays[main_kind].shape[0]} ROI rows, "
                           "one per data column", f"{rows.size}")
    neurons = {"roi": np.asarray(segmentation.id.data[:], dtype=np.int64)[rows]}
    scale, scale_from = pixel_um(segmentation, um_per_pixel)
    centres = roi_centroids(segmentation, rows)
    if centres is not None:
        neurons["positions_um"] = centres * scale
        check_neurons(path, neurons, fields={"positions_um": f"{segmentation.name} (ROI masks)"})
    description = {"format": "nwb", "file": str(path), "module": module.name,
                   "series": main.name, "series_kind": main_kind,
                   "neuropil_series": neuropil.name if neuropil is not None else None,
                   "segmentation": segmentation.name, "um_per_pixel": scale,
                   "um_per_pixel_from": scale_from}
    files = {kind: [f"{path} {getattr(series.data, 'name', series.name)}"] for kind, series in
             ((main_kind, main), ("neuropil", neuropil)) if series is not None}
    return TraceRecording(fs=fs, planes=[TracePlane(**arrays)], neurons=neurons,
                          frame_times=frame_times, source=str(path), description=description, files=files)


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
        recording = _recording(nwbfile, path, signal, series, um_per_pixel)
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
