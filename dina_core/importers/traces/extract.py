"""One response per trial and neuron from continuous traces.

A trial's response is the mean of the preprocessed trace over the response window after
its onset, minus the mean over the pre-stimulus window (when one is set). Windows are
given in seconds relative to the onset and become frame offsets ``round(t * fs)``; a
window ``(a, b)`` covers frames ``[onset + a, onset + b)``. Means come from cumulative
sums, vectorised over trials and neurons; neurons are processed in chunks so long
recordings never need all preprocessed traces in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dina_core.errors import DatasetError
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.gaps import finite_block
from dina_core.importers.traces.preprocess import needed_kinds, preprocess
from dina_core.importers.traces.recording import TraceRecording
from dina_core.progress import Progress

_ONSET_TOLERANCE = 0.01  # fraction of a frame: onset times computed as k / fs still map to frame k


@dataclass
class TrialResponses:
    """Window means of every trial and neuron.

    Attributes:
        response: (n_trials, n_neurons) float32 mean over the response window.
        prestim: (n_trials, n_neurons) float32 mean over the pre-stimulus window, or None.
        filled_traces: raw traces whose NaN/Inf frames were interpolated (``nan_frames``).
        filled_values: raw values so filled, over all traces.
    """

    response: np.ndarray
    prestim: np.ndarray | None
    filled_traces: int = 0
    filled_values: int = 0

    @property
    def values(self) -> np.ndarray:
        """(n_trials, n_neurons) float32 response minus pre-stimulus level: the dataset's responses."""
        return self.response if self.prestim is None else self.response - self.prestim


def window_frames(window_s: tuple[float, float], fs: float) -> tuple[int, int]:
    """Frame offsets ``[start, stop)`` of a window in seconds; never empty."""
    start = int(round(window_s[0] * fs))
    return start, max(start + 1, int(round(window_s[1] * fs)))


def onsets_from_times(times_s: np.ndarray, fs: float,
                      frame_times: np.ndarray | None = None) -> np.ndarray:
    """Frame of each onset: the first frame at or after it.

    Args:
        times_s: (n_trials,) onset times, seconds on the recording's clock.
        fs: frame rate, Hz (used when ``frame_times`` is None: frame k is at k / fs).
        frame_times: (n_frames,) increasing seconds of each frame, or None.

    Returns:
        (n_trials,) int64; ``n_frames`` (or more) for onsets after the last frame.
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    shift = _ONSET_TOLERANCE / fs
    if frame_times is None:
        return np.ceil((times_s - shift) * fs).astype(np.int64)
    return np.searchsorted(np.asarray(frame_times, np.float64), times_s - shift).astype(np.int64)


def _windows(config: TraceConfig, fs: float) -> list[tuple[int, int]]:
    windows = [window_frames(config.response_window_s, fs)]
    if config.prestim_window_s is not None:
        windows.append(window_frames(config.prestim_window_s, fs))
    return windows


def check_onsets(onsets: np.ndarray, n_frames: int, fs: float, config: TraceConfig, *,
                 table: str = "stimulus table", row_ids: np.ndarray | None = None) -> None:
    """Raise unless every trial's windows lie inside the recording.

    Args:
        onsets: (n_trials,) int onset frames.
        n_frames: frames in the recording.
        fs: frame rate, Hz.
        config: the windows.
        table: the stimulus table's file, named in the message.
        row_ids: (n_trials,) row number of each trial in ``table`` (default 0, 1, ...).

    Raises:
        DatasetError: naming the table rows whose windows fall outside the recording.
    """
    windows = _windows(config, fs)
    first = min(a for a, _ in windows)
    last = max(b for _, b in windows)
    bad = np.flatnonzero((onsets + first < 0) | (onsets + last > n_frames))
    if bad.size == 0:
        return
    rows = np.arange(onsets.size) if row_ids is None else np.asarray(row_ids)
    shown = ", ".join(f"row {rows[i]} (onset frame {onsets[i]})" for i in bad[:3])
    raise DatasetError(
        table, f"row {rows[bad[0]]}",
        f"onsets whose windows (frames {first} to {last} around the onset) fit inside the "
        f"recording's {n_frames} frames ({n_frames / fs:.1f} s at {fs:g} Hz)",
        f"{bad.size} trial(s) outside it: {shown}{', ...' if bad.size > 3 else ''}")


def window_means(traces: np.ndarray, onsets: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Mean of each trace over ``[onset + window[0], onset + window[1])`` for every onset.

    Args:
        traces: (n_neurons, n_frames).
        onsets: (n_trials,) int frames; every window must lie inside the traces.
        window: (start, stop) frame offsets, stop > start.

    Returns:
        (n_trials, n_neurons) float32.
    """
    sums = np.zeros((traces.shape[0], traces.shape[1] + 1))
    np.cumsum(traces, axis=1, out=sums[:, 1:])  # float64: long recordings keep precision
    start, stop = onsets + window[0], onsets + window[1]
    return ((sums[:, stop] - sums[:, start]) / (window[1] - window[0])).T.astype(np.float32)


def extract_responses(recording: TraceRecording, onsets: np.ndarray, config: TraceConfig, *,
                      table: str = "stimulus table", row_ids: np.ndarray | None = None,
                      progress: Progress | None = None) -> TrialResponses:
    """Preprocess every neuron (in chunks) and average its windows around each onset.

    Args:
        recording: the raw traces.
        onsets: (n_trials,) int onset frames, in trial order.
        config: preprocessing and windows.
        table, row_ids: for messages (see :func:`check_onsets`).
        progress: optional ``callback(done_neurons, n_neurons, 'traces')``.

    Returns:
        The window means, (n_trials, n_neurons) each.

    Raises:
        DatasetError: if a window falls outside the recording, the chosen signal is not in
            the source, or a raw trace holds NaN/Inf frames that ``config.nan_frames`` refuses
            (:mod:`~dina_core.importers.traces.gaps`).
    """
    onsets = np.asarray(onsets, dtype=np.int64)
    fs, n_neurons = recording.fs, recording.n_neurons
    check_onsets(onsets, recording.n_frames, fs, config, table=table, row_ids=row_ids)
    kinds = needed_kinds(config, recording.has("dff"))
    needed = kinds[0]
    if not recording.has(needed):
        where = {"events": "deconvolved events (suite2p spks.npy, NWB 'Deconvolved')",
                 "fluorescence": "fluorescence or dF/F traces"}[needed]
        raise DatasetError(recording.source, needed, f"{where} for signal {config.signal!r}",
                           "none in this recording")
    windows = _windows(config, fs)
    out = [np.empty((onsets.size, n_neurons), np.float32) for _ in windows]
    filled = [0, 0]
    for neurons, arrays in recording.chunks(config.chunk_neurons, kinds):
        arrays, traces_filled, values_filled = finite_block(recording, neurons, arrays, config.nan_frames)
        filled = [filled[0] + traces_filled, filled[1] + values_filled]
        traces = preprocess(fs, config, **arrays)
        for target, window in zip(out, windows):
            target[:, neurons] = window_means(traces, onsets, window)
        if progress:
            progress(neurons.stop, n_neurons, "traces")
    return TrialResponses(out[0], out[1] if len(out) > 1 else None, *filled)
