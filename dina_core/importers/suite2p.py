"""Import a suite2p output folder, a stimulus table and the images as a DINA dataset.

Source layout (suite2p's own output; one folder per imaging plane)::

    suite2p/plane0/F.npy       float32 (n_rois, n_frames) ROI fluorescence
    suite2p/plane0/Fneu.npy    float32 (n_rois, n_frames) neuropil fluorescence
    suite2p/plane0/spks.npy    float32 (n_rois, n_frames) deconvolved events (optional
                               unless ``signal='events'``)
    suite2p/plane0/iscell.npy  (n_rois, 2): [is-cell label (0/1, curated in the GUI),
                               classifier probability]
    suite2p/plane0/stat.npy    object array of n_rois dicts ('med': (y, x) centre pixel,
                               'ypix', 'xpix', 'lam', ...)
    suite2p/plane0/ops.npy     a pickled dict ('fs': frame rate per plane, Hz, ...)
    suite2p/plane1/...         further planes: neurons are concatenated, plane by plane

``stat.npy`` and ``ops.npy`` are pickles (suite2p saves them with ``np.save`` of Python
objects): a pickle can run code, so they are read by :func:`dina_core.data.safe_pickle.load_npy`,
which allows only numpy arrays, dtypes, scalars and builtin values and refuses anything else.
The traces are memory-mapped and read one chunk of neurons at a time. Stimulus table and image formats: :mod:`dina_core.importers.stimuli`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from dina_core.data.guards import regular_file
from dina_core.data.safe_pickle import load_npy
from dina_core.errors import DatasetError
from dina_core.importers.confine import Confined
from dina_core.importers.stimuli import read_images, read_stimulus_table
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.recording import TracePlane, TraceRecording
from dina_core.importers.traces.source import DERIVED_LICENSE, RawSource, write_source
from dina_core.progress import Progress

_FILES = ("F.npy", "Fneu.npy", "spks.npy", "iscell.npy", "stat.npy", "ops.npy")  # what a plane's reader opens
CITATION = ("Pachitariu M. et al. (2017) Suite2p: beyond 10,000 neurons with standard "
            "two-photon microscopy. bioRxiv 061507.")


def _plane_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(folder, "<folder>", "a suite2p output folder", "no such folder")
    if (folder / "F.npy").exists() or (folder / "ops.npy").exists():
        return [folder]  # a single plane folder given directly
    planes = [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"plane\d+", p.name)]
    if not planes:
        contents = ", ".join(sorted(p.name for p in folder.iterdir())) or "empty"
        raise DatasetError(folder, "plane0/F.npy", "suite2p plane folders (plane0, plane1, ...)",
                           f"none (contents: {contents})")
    return sorted(planes, key=lambda p: int(p.name[5:]))


def _load(path: Path, *, pickled: bool = False, mmap: bool = False):
    if not path.exists():
        raise DatasetError(path.parent, path.name, "a suite2p output file", "nothing (it is missing)")
    regular_file(path, "a .npy file written by suite2p")  # a FIFO in its place would block the read
    if pickled:  # only the types suite2p writes: a crafted pickle must not run code
        return load_npy(path, "<pickle>")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except Exception as err:  # truncated, not .npy, pickled: numpy raises various types
        raise DatasetError(path.parent, path.name, "a .npy file written by suite2p",
                           f"a file numpy cannot load ({err})") from None


def _traces(folder: Path, name: str, shape: tuple[int, int] | None) -> np.ndarray:
    values = _load(folder / name, mmap=True)
    if values.ndim != 2 or values.dtype.kind not in "fiu":
        raise DatasetError(folder, name, "a numeric array (n_rois, n_frames)",
                           f"shape {values.shape}, type {values.dtype}")
    if shape is not None and values.shape != shape:
        raise DatasetError(folder, name, f"shape {shape} (n_rois, n_frames) like F.npy",
                           f"shape {values.shape}")
    return values


def _cells(folder: Path, n_rois: int, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    iscell = _load(folder / "iscell.npy")
    if iscell.ndim != 2 or iscell.shape[1] < 2 or iscell.shape[0] != n_rois:
        raise DatasetError(folder, "iscell.npy", f"shape ({n_rois}, 2): one row per ROI of "
                           "F.npy, [label, probability]", f"shape {iscell.shape}")
    prob = iscell[:, 1].astype(np.float32)
    keep = iscell[:, 0] > 0.5 if threshold is None else prob >= threshold
    return np.flatnonzero(keep).astype(np.int64), prob


def _positions(folder: Path, n_rois: int, rows: np.ndarray) -> np.ndarray:
    """(n_kept, 2) float64 ROI centres ``(x, y)`` in pixels, from stat's 'med' (y, x)."""
    stat = _load(folder / "stat.npy", pickled=True)
    if stat.shape != (n_rois,):
        raise DatasetError(folder, "stat.npy", f"{n_rois} ROI dicts, one per row of F.npy",
                           f"shape {stat.shape}")
    try:
        med = np.asarray([stat[i]["med"] for i in rows.tolist()], dtype=np.float64).reshape(-1, 2)
    except (KeyError, TypeError, IndexError, ValueError):
        raise DatasetError(folder, "stat.npy", "dicts with 'med' = (y, x) pixels",
                           "entries without a usable 'med'") from None
    bad = np.flatnonzero(~np.isfinite(med).all(axis=1))
    if bad.size:
        raise DatasetError(folder / "stat.npy", f"ROI {rows[bad[0]]} ['med']", "a finite (y, x) centre in pixels",
                           f"{stat[rows[bad[0]]]['med']!r} ({bad.size} cell(s) without a finite centre)")
    return med[:, ::-1]


def _frame_rate(folder: Path, first: tuple[Path, float] | None = None) -> float:
    """ops.npy['fs'], Hz; refused unless finite and above 0, and equal to the ``first`` plane's (planes are
    imaged together: onsets and windows are counted at one rate)."""
    ops = _load(folder / "ops.npy", pickled=True)
    ops = ops.item() if isinstance(ops, np.ndarray) and ops.dtype == object and ops.ndim == 0 else ops
    fs = ops.get("fs") if isinstance(ops, dict) else None
    number = isinstance(fs, (int, float, np.integer, np.floating)) and not isinstance(fs, (bool, np.bool_))
    if not number or not np.isfinite(fs) or not fs > 0:
        raise DatasetError(folder, "ops.npy['fs']", "a positive frame rate in Hz (a finite number above 0)",
                           repr(fs))
    if first is not None and not np.isclose(fs, first[1], rtol=1e-6, atol=0):
        raise DatasetError(folder, "ops.npy['fs']", f"{first[1]:g} Hz like {first[0].name}/ops.npy (the planes "
                           f"of one recording share its rate)", f"{fs:g} Hz ({first[0].name}: {first[1]:g} Hz, "
                           f"{folder.name}: {fs:g} Hz)")
    return float(fs)


def load_suite2p(folder: str | os.PathLike, *, iscell_threshold: float | None = 0.5,
                 um_per_pixel: float = 1.0) -> TraceRecording:
    """Read a suite2p folder (layout in the module docstring) as a memory-mapped recording.

    Args:
        folder: the ``suite2p`` folder (holding ``plane0``, ...) or one plane folder.
        iscell_threshold: keep ROIs whose classifier probability (iscell column 1) is
            >= this; None keeps suite2p's own labels (column 0, which GUI curation edits).
        um_per_pixel: pixel size, micrometres, for ``positions_um``.

    Returns:
        The recording; neurons carry ``positions_um`` (n, 2) = stat 'med' (x, y) x
        ``um_per_pixel``, ``plane``, ``roi`` (row in the plane's arrays) and ``iscell_prob``.

    Raises:
        DatasetError: a missing file, arrays whose shapes disagree (F vs Fneu/spks frames,
            iscell or stat rows), planes with different frame counts or frame rates, no positive
            finite 'fs' in ops.npy, no ROI passing the threshold, or a plane folder or file that
            a link leads out of ``folder``.
    """
    folder = Path(folder)
    planes: list[TracePlane] = []
    files: dict[str, list[str]] = {"fluorescence": [], "neuropil": [], "events": []}
    frame_rates: list[float] = []
    neurons: dict[str, list] = {"positions_um": [], "plane": [], "roi": [], "iscell_prob": []}
    plane_dirs, confined = _plane_folders(folder), Confined(folder)
    for k, plane_dir in enumerate(plane_dirs):
        for name in _FILES:  # nothing outside the folder given is read: a link inside may not lead out
            confined.file(plane_dir / name)
        f = _traces(plane_dir, "F.npy", None)
        if planes and f.shape[1] != planes[0].fluorescence.shape[1]:
            raise DatasetError(plane_dir, "F.npy", f"{planes[0].fluorescence.shape[1]} frames "
                               "like the first plane (planes are imaged together)",
                               f"{f.shape[1]} frames")
        spks = _traces(plane_dir, "spks.npy", f.shape) if (plane_dir / "spks.npy").exists() else None
        rows, prob = _cells(plane_dir, f.shape[0], iscell_threshold)
        planes.append(TracePlane(fluorescence=f, neuropil=_traces(plane_dir, "Fneu.npy", f.shape),
                                 events=spks, rows=rows))
        neurons["positions_um"].append(_positions(plane_dir, f.shape[0], rows) * um_per_pixel)
        neurons["plane"].append(np.full(rows.size, k, np.int64))
        neurons["roi"].append(rows)
        neurons["iscell_prob"].append(prob[rows])
        for kind, name in (("fluorescence", "F.npy"), ("neuropil", "Fneu.npy"), ("events", "spks.npy")):
            files[kind].append(str(plane_dir / name))
        frame_rates.append(_frame_rate(plane_dir, (plane_dirs[0], frame_rates[0]) if frame_rates else None))
    if sum(p.rows.size for p in planes) == 0:
        rois = sum(p.fluorescence.shape[0] for p in planes)
        raise DatasetError(folder, "iscell.npy", "at least one cell: ROIs with probability >= "
                           f"{iscell_threshold}" if iscell_threshold is not None else
                           "at least one ROI labelled as a cell (column 0)",
                           f"none of {rois} ROIs (lower --iscell-threshold, or 'none' for suite2p's labels)")
    description = {"format": "suite2p", "folder": str(folder), "planes": len(planes),
                   "rois_per_plane": [int(p.fluorescence.shape[0]) for p in planes],
                   "cells_per_plane": [int(p.rows.size) for p in planes],
                   "iscell_threshold": iscell_threshold, "um_per_pixel": um_per_pixel}
    return TraceRecording(fs=frame_rates[0], planes=planes, source=str(folder),
                          neurons={k: np.concatenate(v) for k, v in neurons.items()},
                          description=description, files=files)


def read_suite2p_source(folder: str | os.PathLike, *, stimuli: str | os.PathLike,
                        images: str | os.PathLike, iscell_threshold: float | None = 0.5,
                        um_per_pixel: float = 1.0, onset_column: str | None = None,
                        onset_unit: str | None = None, image_column: str | None = None,
                        tier_column: str | None = None) -> RawSource:
    """Read a suite2p folder, its stimulus table and images, ready to preprocess.

    Args:
        folder: the ``suite2p`` folder or one plane folder.
        stimuli: the stimulus table CSV (:func:`~dina_core.importers.stimuli.read_stimulus_table`).
        images: image folder, ``.npy`` or ``.h5`` stack.
        iscell_threshold, um_per_pixel: see :func:`load_suite2p`.
        onset_column, onset_unit, image_column, tier_column: table columns when they
            differ from the defaults.

    Raises:
        DatasetError: on any malformed input, naming the file and field.
    """
    recording = load_suite2p(folder, iscell_threshold=iscell_threshold, um_per_pixel=um_per_pixel)
    table = read_stimulus_table(stimuli, onset_column=onset_column, onset_unit=onset_unit,
                                image_column=image_column, tier_column=tier_column)
    stack, ids = read_images(images)
    name = Path(folder).resolve().parent.name or Path(folder).name
    request = {"importer": "suite2p", "source": str(Path(folder).resolve()),
               "stimuli": str(Path(stimuli).resolve()), "images": str(Path(images).resolve()),
               "options": {"iscell_threshold": iscell_threshold, "um_per_pixel": um_per_pixel,
                           "onset_column": onset_column, "onset_unit": onset_unit,
                           "image_column": image_column, "tier_column": tier_column}}
    return RawSource(recording, table, stack, ids, images_source=str(images), origin=str(stimuli),
                     attrs={"name": name, "source": f"suite2p folder {folder}", "citation": CITATION,
                            "license": DERIVED_LICENSE}, request=request)


def import_suite2p(folder: str | os.PathLike, out_path: str | os.PathLike, *,
                   stimuli: str | os.PathLike, images: str | os.PathLike,
                   config: TraceConfig | None = None, iscell_threshold: float | None = 0.5,
                   um_per_pixel: float = 1.0, onset_column: str | None = None,
                   onset_unit: str | None = None, image_column: str | None = None,
                   tier_column: str | None = None, validation_fraction: float = 0.1,
                   progress: Progress | None = None) -> Path:
    """Convert a suite2p folder plus stimulus table and images into a checked DINA file.

    Args:
        folder, stimuli, images, iscell_threshold, um_per_pixel, onset_column, onset_unit,
            image_column, tier_column: see :func:`read_suite2p_source`.
        out_path, config, validation_fraction, progress: see
            :func:`dina_core.importers.traces.source.write_source` (checked in memory, written atomically).

    Returns ``out_path`` as a Path, read back through the validator; raises DatasetError naming the
    source file and field on any malformed input.
    """
    source = read_suite2p_source(folder, stimuli=stimuli, images=images,
                                 iscell_threshold=iscell_threshold, um_per_pixel=um_per_pixel,
                                 onset_column=onset_column, onset_unit=onset_unit,
                                 image_column=image_column, tier_column=tier_column)
    return write_source(source, out_path, config, validation_fraction=validation_fraction,
                        progress=progress)
