"""Write simulated traces as a real suite2p folder, a stimulus table, images and an NWB file.

``write_trace_recording(data, out_dir)`` produces::

    out_dir/suite2p/plane0/{F,Fneu,spks,iscell,stat,ops}.npy   suite2p's own format
    out_dir/stimulus_table.csv    onset_frame, onset_time_s, image_id, tier (trial order)
    out_dir/images.npy            (n_images, H, W) float32, ids = rows
    out_dir/recording.nwb         NWB 2.x (written with pynwb, needs the 'nwb' extra)

The NWB file mirrors suite2p's own NWB export: processing module ``ophys`` with
ImageSegmentation/PlaneSegmentation (pixel masks), Fluorescence interfaces
``Fluorescence``, ``Neuropil`` and ``Deconvolved``, plus a DfOverF interface holding
the true dF/F; the stimulus presentations are the TimeIntervals table
``stimulus_presentations`` (start_time, stop_time, image_index, tier) and the images an
Images container ``stimulus_images`` among the stimulus templates, indexed by the
IndexSeries ``stimulus_index``. Only cells are in the NWB file; the suite2p folder also
holds the non-cell ROIs.

Importing either with DINA's defaults gives back ``data``'s trials (order, image ids,
tiers) and neurons (order).
"""

from __future__ import annotations

import csv
import datetime
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dina_core.data.format import DinaData
from dina_core.atomic import atomic_path
from dina_core.limits import check_disk, check_memory
from dina_core.simulate.traces import SimulatedTraces, TraceSimConfig, simulate_traces

TRACE_NAMES = ("suite2p", "stimulus_table.csv", "images.npy", "recording.nwb")  # what out_dir receives
_BLOCK_FRAMES = 4096  # frames per HDF5 write (and chunk) of each NWB trace series


@dataclass
class TraceFiles:
    """Paths written by :func:`write_trace_recording`."""

    suite2p: Path
    stimulus_table: Path
    images: Path
    nwb: Path | None


def roi_masks(traces: SimulatedTraces) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Disc masks of every ROI: (ypix, xpix, lam) int64, int64, float32 (Gaussian weights)."""
    r = traces.config.roi_radius_px
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    inside = dy ** 2 + dx ** 2 <= r ** 2
    dy, dx = dy[inside], dx[inside]
    lam = np.exp(-(dy ** 2 + dx ** 2) / (r ** 2)).astype(np.float32)
    return [(y + dy, x + dx, lam) for y, x in traces.centers_px.tolist()]


def _save(path: Path, values: np.ndarray, allow_pickle: bool = False) -> None:
    """``np.save`` through a temporary file: a full disk leaves no partial ``.npy`` (``atomic``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, values, allow_pickle=allow_pickle)


def write_suite2p(traces: SimulatedTraces, folder: str | os.PathLike) -> Path:
    """Write ``folder/plane0/`` exactly as suite2p does (pickled stat and ops included)."""
    plane = Path(folder) / "plane0"
    plane.mkdir(parents=True, exist_ok=True)
    _save(plane / "F.npy", traces.fluorescence)
    _save(plane / "Fneu.npy", traces.neuropil)
    _save(plane / "spks.npy", traces.events)
    _save(plane / "iscell.npy", np.column_stack([traces.is_cell, traces.iscell_prob]).astype(np.float64))
    stat = np.empty(traces.is_cell.size, dtype=object)
    for i, (ypix, xpix, lam) in enumerate(roi_masks(traces)):
        stat[i] = {"ypix": ypix, "xpix": xpix, "lam": lam, "npix": int(ypix.size),
                   "med": traces.centers_px[i].tolist()}
    _save(plane / "stat.npy", stat, allow_pickle=True)
    cfg = traces.config
    ops = {"fs": cfg.fs, "nframes": traces.n_frames, "Ly": traces.shape_px[0],
           "Lx": traces.shape_px[1], "nplanes": 1, "tau": cfg.tau_decay_s,
           "neucoeff": cfg.neuropil_coef, "simulated": True}
    _save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return Path(folder)


def write_stimulus_table(traces: SimulatedTraces, data: DinaData, path: str | os.PathLike) -> Path:
    """One CSV row per trial in session order: onset_frame, onset_time_s, image_id, tier."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["onset_frame", "onset_time_s", "image_id", "tier"])
        writer.writerows(zip(traces.onsets.tolist(), np.round(traces.onset_times(), 6).tolist(),
                             data.image_index.tolist(), data.tiers.tolist()))
    return path


def _time_first(block, n_frames: int, n_rois: int):
    """NWB's time-first layout streamed from neurons-first traces, ``_BLOCK_FRAMES`` frames
    at a time: no transposed copy of a whole recording is ever held (690 MB per series on
    the demo recording).

    Args:
        block: ``block(frames: slice) -> (n_rois, n_block)`` traces of those frames.
    """
    from hdmf.data_utils import DataChunkIterator

    def frames():
        for start in range(0, n_frames, _BLOCK_FRAMES):
            yield from block(slice(start, start + _BLOCK_FRAMES)).T
    return DataChunkIterator(data=frames(), buffer_size=_BLOCK_FRAMES, dtype=np.dtype(np.float32),
                             maxshape=(n_frames, n_rois))


def write_nwb(traces: SimulatedTraces, data: DinaData, path: str | os.PathLike) -> Path:
    """Write the cells' traces, ROIs, presentations and images as NWB 2.x (layout above).

    Raises:
        ImportError: if pynwb is not installed (``pip install -e '.[nwb]'`` in the DINA checkout).
    """
    from hdmf.common import ElementIdentifiers, VectorData
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.base import ImageReferences, Images
    from pynwb.epoch import TimeIntervals
    from pynwb.image import GrayscaleImage, IndexSeries
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    cfg = traces.config
    cells = np.flatnonzero(traces.is_cell)
    nwb = NWBFile(session_description=data.attrs.get("name", "DINA simulated recording"),
                  identifier=f"dina-simulated-{cfg.seed}", session_start_time=datetime.datetime(
                      2024, 1, 1, tzinfo=datetime.timezone.utc),
                  notes="Simulated by dina_core.simulate (no animal was recorded).")
    device = nwb.create_device(name="Microscope", description="simulated two-photon microscope")
    plane = nwb.create_imaging_plane(
        name="ImagingPlane", optical_channel=OpticalChannel(
            name="OpticalChannel", description="green", emission_lambda=510.0),
        description="simulated layer 2/3 plane", device=device, excitation_lambda=920.0,
        imaging_rate=cfg.fs, indicator="GCaMP6 (simulated)", location="V1",
        grid_spacing=[cfg.um_per_pixel * 1e-6] * 2, grid_spacing_unit="meters")
    ophys = nwb.create_processing_module(name="ophys", description="simulated optical physiology")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="simulated cell ROIs", imaging_plane=plane)
    masks = roi_masks(traces)
    for i in cells.tolist():
        ypix, xpix, lam = masks[i]
        rois.add_roi(pixel_mask=list(zip(xpix.tolist(), ypix.tolist(), lam.tolist())))
    region = rois.create_roi_table_region(region=list(range(cells.size)), description="all cells")
    series = {"Fluorescence": (Fluorescence, lambda t: traces.fluorescence[cells, t]),
              "Neuropil": (Fluorescence, lambda t: traces.neuropil[cells, t]),
              "Deconvolved": (Fluorescence, lambda t: traces.events[cells, t]),
              "DfOverF": (DfOverF, lambda t: traces.true_dff(cells, t))}
    for name, (kind, block) in series.items():
        interface = kind(name=name)
        ophys.add(interface)
        interface.create_roi_response_series(
            name=name, data=_time_first(block, traces.n_frames, cells.size), rois=region,
            unit="a.u.", rate=cfg.fs, starting_time=0.0)
    start = traces.onset_times()
    columns = [("start_time", start, "onset, s"), ("stop_time", start + cfg.stimulus_s, "offset, s"),
               ("image_index", data.image_index, "row of the stimulus_images template shown"),
               ("tier", data.tiers.astype(str).tolist(), "train | validation | test")]
    nwb.add_time_intervals(TimeIntervals(
        name="stimulus_presentations", description="natural image presentations",
        id=ElementIdentifiers(name="id", data=np.arange(data.n_trials)),
        columns=[VectorData(name=n, data=v, description=d) for n, v, d in columns]))
    images = [GrayscaleImage(name=f"image_{i:05d}", data=im, description=str(src))
              for i, (im, src) in enumerate(zip(data.images, data.image_source
                                                if data.image_source is not None
                                                else [""] * data.n_images))]
    templates = Images(name="stimulus_images", images=images, description="stimulus images",
                       order_of_images=ImageReferences(name="order_of_images", data=images))
    nwb.add_stimulus_template(templates)
    nwb.add_stimulus(IndexSeries(name="stimulus_index", data=data.image_index.astype(np.uint32),
                                 indexed_images=templates, timestamps=start, unit="N/A"))
    with warnings.catch_warnings(), atomic_path(path) as tmp:  # the disk was checked first (check_trace_fits)
        warnings.filterwarnings("ignore", "The file path provided", UserWarning)  # the temporary name's suffix
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return Path(path)


def check_trace_fits(out_dir: str | os.PathLike, n_neurons: int, n_trials: int, image_bytes: int, *, nwb: bool,
                     config: TraceSimConfig | None = None) -> None:
    """Refuse raw traces of that many neurons and trials that would not fit in the memory free now, or on the disk
    of ``out_dir`` (the nearest existing folder): said before any work, as the full disk they would meet.

    Args:
        image_bytes: the size of ``images.npy`` (float32 images).
        nwb: the NWB file is written too (its four series of the cells, and the images again).
    """
    config = config or TraceSimConfig()
    what = f"raw traces of {n_neurons:,} neurons x {n_trials:,} trials"
    memory = config.trace_bytes(n_neurons, n_trials)
    check_memory(memory, what, "fewer neurons or trials")
    series = memory // 4  # one float32 (n_rois, n_frames) array: F.npy, Fneu.npy and spks.npy each
    # four series of the cells, the ROIs' masks and the images: a fifth series is a margin for what NWB adds
    nwb_bytes = 5 * series * n_neurons // (n_neurons + config.n_noncells) + image_bytes if nwb else 0
    check_disk(out_dir, 3 * series + image_bytes + nwb_bytes, max(series, image_bytes, nwb_bytes), f"the {what}")


def write_trace_recording(data: DinaData, out_dir: str | os.PathLike, *,
                          config: TraceSimConfig | None = None, nwb: bool = True) -> TraceFiles:
    """Simulate the raw traces behind ``data`` and write every source format (module docstring).

    Args:
        data: a simulated recording (``simulate_recording``).
        out_dir: folder to fill (created).
        config: timeline, indicator and noise settings (default :class:`TraceSimConfig`).
        nwb: also write ``recording.nwb`` (needs pynwb).

    Returns:
        The written paths.

    Raises:
        DinaError: the traces would need more memory than is free (``TraceSimConfig.trace_bytes``);
            DiskFullError: their files would not fit on the disk.
    """
    check_trace_fits(out_dir, data.n_neurons, data.n_trials, 4 * data.images.size, nwb=nwb, config=config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    traces = simulate_traces(data, config)
    _save(out_dir / "images.npy", data.images.astype(np.float32))
    return TraceFiles(suite2p=write_suite2p(traces, out_dir / "suite2p"),
                      stimulus_table=write_stimulus_table(traces, data, out_dir / "stimulus_table.csv"),
                      images=out_dir / "images.npy",
                      nwb=write_nwb(traces, data, out_dir / "recording.nwb") if nwb else None)
