"""NaN and Inf frames in raw traces: refused with their place in the source, or filled when asked.

A real recording can hold non-finite frames: suite2p writes NaN where registration dropped a
frame, an acquisition glitch leaves Inf. Fed to the running baseline or the window means they
would silently spread NaN into many trials, so they are never passed on. What happens is the
:class:`~dina_core.importers.traces.config.TraceConfig` field ``nan_frames``:

* ``'refuse'`` (default): a DatasetError naming the source file, the ROI, the neuron of the import
  and the frame ranges, e.g. ``plane0/F.npy: field 'ROI 57 (neuron 12 of the import)': expected
  finite values ..., found NaN/Inf at frames 100-130 (31 frames)``.
* ``'interpolate'``: each run of bad frames is filled linearly between the finite frames around
  it (the first or last finite value at the ends); the number of traces and values filled is
  recorded in the dataset's ``preprocessing`` attribute. A trace with no finite frame at all is
  still refused: there is nothing to fill it from.
"""

from __future__ import annotations

import numpy as np

from dina_core.errors import DatasetError
from dina_core.importers.traces.recording import TraceRecording

_HINT = ("finite values (no NaN or Inf; to fill gaps of dropped frames by linear interpolation, set "
         "nan_frames='interpolate', e.g. dina import ... --nan-frames interpolate)")


def frame_ranges(bad: np.ndarray, k: int = 4) -> str:
    """'100-130, 500' for a (n_frames,) bool mask: the first ``k`` runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    runs = list(zip(edges[::2].tolist(), (edges[1::2] - 1).tolist()))
    shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:k])
    return shown + (f", ... ({len(runs)} gaps)" if len(runs) > k else "")


def _fill(trace: np.ndarray, bad: np.ndarray) -> None:
    frames = np.arange(trace.size)
    trace[bad] = np.interp(frames[bad], frames[~bad], trace[~bad])


def fill_nonfinite(array: np.ndarray) -> None:
    """Fill, in place, the NaN/Inf frames of every (n, n_frames) row that has some finite frame."""
    bad = ~np.isfinite(array)
    for row in np.flatnonzero(bad.any(axis=1) & ~bad.all(axis=1)).tolist():
        _fill(array[row], bad[row])


def finite_block(recording: TraceRecording, block: slice, arrays: dict[str, np.ndarray],
                 policy: str) -> tuple[dict[str, np.ndarray], int, int]:
    """Refuse or fill the non-finite frames of one block of neurons' traces (rules above).

    Args:
        recording: the recording the block comes from (for :meth:`TraceRecording.where`).
        block: the block's slice of the neuron axis.
        arrays: its traces by kind, each (n_block, n_frames) float32; filled in place.
        policy: 'refuse' or 'interpolate'.

    Returns:
        (arrays, traces filled, values filled).

    Raises:
        DatasetError: naming the file and ROI of the first trace with a non-finite frame
            ('refuse'), or of the first trace with no finite frame at all ('interpolate').
    """
    traces = values = 0
    for kind, array in arrays.items():
        bad = ~np.isfinite(array)
        rows = np.flatnonzero(bad.any(axis=1))
        for row in rows.tolist():
            neuron = block.start + row
            empty = bad[row].all()
            if policy == "refuse" or empty:
                file, label = recording.where(neuron, kind)
                n_bad_traces = rows.size
                raise DatasetError(
                    file, label,
                    "a trace with some finite frame to interpolate from" if empty else _HINT,
                    f"NaN/Inf at {'every frame' if empty else 'frames ' + frame_ranges(bad[row])} "
                    f"({int(bad[row].sum())} of {bad.shape[1]} frames; {n_bad_traces} trace(s) of "
                    f"{kind} in this block of {bad.shape[0]} have some)")
            _fill(array[row], bad[row])
            traces += 1
            values += int(bad[row].sum())
    return arrays, traces, values
