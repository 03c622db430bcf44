"""The traces and ROIs of an open NWB file, as a :class:`TraceRecording`.

A helper of :mod:`dina_core.importers.nwb`; it takes an open ``pynwb.NWBFile`` and never
imports pynwb itself.

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

Every traces array is read into memory, neurons first (4 bytes x n_rois x n_frames per series).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dina_core.data.guards import check_fits
from dina_core.data.values import check_neurons
from dina_core.errors import DatasetError
from dina_core.importers.nwb_rois import pixel_um, roi_centroids
from dina_core.importers.nwb_stimuli import describe_nwb, kind
from dina_core.importers.traces.recording import TracePlane, TraceRecording

_SPECIAL = ("Neuropil", "Deconvolved")  # companion series, never the main fluorescence
_BLOCK_FRAMES = 4096  # frames read per block while transposing to neurons first


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
    """(frame rate in Hz, (n_frames,) seconds of each frame) of ``series``: one time per frame of its data."""
    n = series.data.shape[0]
    if series.timestamps is not None:
        times = np.asarray(series.timestamps[:], dtype=np.float64)
        if times.size != n:
            raise DatasetError(path, f"{series.name}/timestamps", f"{n} frame times, one per frame of "
                               f"{series.name}/data", f"{times.size} times")
        if times.size < 2 or not np.all(np.diff(times) > 0) or not np.isfinite(times).all():
            raise DatasetError(path, f"{series.name}/timestamps", "increasing, finite frame times",
                               f"{times.size} values, not increasing or not finite")
        return 1.0 / float(np.median(np.diff(times))), times
    rate = float(series.rate or 0.0)
    if not np.isfinite(rate) or rate <= 0:
        raise DatasetError(path, f"{series.name}/rate", "a frame rate in Hz (finite, above 0) or timestamps",
                           f"{series.rate!r}" if series.rate else "neither")
    start = float(series.starting_time or 0.0)
    if not np.isfinite(start):
        raise DatasetError(path, f"{series.name}/starting_time", "a finite time in seconds", repr(start))
    return rate, start + np.arange(n) / rate


def read_recording(nwbfile, path: Path, signal: str, series: str | None,
                   um_per_pixel: float | None) -> TraceRecording:
    """The traces and ROIs of an open ``pynwb.NWBFile`` (rules above); DatasetError naming what is missing."""
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
