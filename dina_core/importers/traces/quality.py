"""Quality report data for an imported recording: numbers and arrays, no plotting.

Reliability
    Leave-one-out oracle correlation per neuron over every repeated image (all tiers), from
    :func:`dina_core.data.reliability.oracle_correlation`. Descriptive only: choosing
    neurons must use ``reliability_without_test`` so test trials never leak.

Responsive neuron
    One whose response-window mean exceeds its pre-stimulus mean across trials: a
    one-sided paired t-test over all trials (difference > 0), with the Benjamini-Hochberg
    procedure controlling the false discovery rate at ``alpha`` across neurons. Needs a
    pre-stimulus window; without one p-values are NaN and no neuron counts as responsive.
    With natural images a neuron may answer few images strongly; the mean over all trials
    still rises above the pre-stimulus level when it answers any of them reliably.

Trace examples
    A stretch of a few neurons' raw and preprocessed traces with the onsets and windows of
    the trials inside it, in seconds, for the app to draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from dina_core.data.reliability import oracle_correlation
from dina_core.importers.traces.gaps import fill_nonfinite
from dina_core.importers.traces.extract import TrialResponses, window_frames
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.preprocess import needed_kinds, preprocess
from dina_core.importers.traces.recording import TraceRecording


@dataclass
class QualityReport:
    """Per-neuron quality of an imported recording.

    Attributes:
        reliability: (n_neurons,) float64 oracle correlation over repeats; NaN if none.
        p_value: (n_neurons,) float64 one-sided paired t-test p (response > pre-stimulus).
        responsive: (n_neurons,) bool, significant after Benjamini-Hochberg at ``alpha``.
        fraction_responsive: share of responsive neurons (NaN without a pre-stimulus window).
        alpha: the false discovery rate used.
    """

    reliability: np.ndarray
    p_value: np.ndarray
    responsive: np.ndarray
    fraction_responsive: float
    alpha: float


@dataclass
class TraceExamples:
    """A stretch of a few neurons' traces, ready to plot.

    Attributes:
        neurons: (k,) int64 neuron indices shown.
        times_s: (n_frames_shown,) float64 seconds of each frame.
        raw: (k, n_frames_shown) float32 traces as stored (F, dF/F or events by source).
        raw_kind: which stored traces ``raw`` holds ('fluorescence', 'dff' or 'events').
        neuropil: (k, n_frames_shown) float32 Fneu, or None.
        processed: (k, n_frames_shown) float32 the signal responses are averaged from.
        onsets_s: (n_trials_shown,) float64 onset times inside the stretch.
        trials: (n_trials_shown,) int64 trial numbers of those onsets.
        response_windows_s: (n_trials_shown, 2) float64 absolute [start, end) seconds.
        prestim_windows_s: (n_trials_shown, 2) float64, or None without a pre-stimulus window.
    """

    neurons: np.ndarray
    times_s: np.ndarray
    raw: np.ndarray
    raw_kind: str
    neuropil: np.ndarray | None
    processed: np.ndarray
    onsets_s: np.ndarray
    trials: np.ndarray
    response_windows_s: np.ndarray
    prestim_windows_s: np.ndarray | None


def paired_p_values(trials: TrialResponses) -> np.ndarray:
    """(n_neurons,) one-sided paired t-test p of response > pre-stimulus across trials.

    NaN without a pre-stimulus window, with fewer than 2 trials, or where the differences
    do not vary.
    """
    if trials.prestim is None or trials.response.shape[0] < 2:
        return np.full(trials.response.shape[1], np.nan)
    diff = trials.response.astype(np.float64) - trials.prestim
    n = diff.shape[0]
    sd = diff.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff.mean(axis=0) / (sd / np.sqrt(n))
    return np.where(sd > 0, special.stdtr(n - 1, -t), np.nan)


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """(n,) bool discoveries at false discovery rate ``alpha``; NaN p never discovered."""
    finite = np.flatnonzero(np.isfinite(p))
    out = np.zeros(p.shape, bool)
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    passed = p[order] <= alpha * np.arange(1, order.size + 1) / order.size
    if passed.any():
        out[order[:np.flatnonzero(passed)[-1] + 1]] = True
    return out


def quality_report(trials: TrialResponses, image_index: np.ndarray,
                   alpha: float = 0.05) -> QualityReport:
    """Reliability and responsiveness of every neuron (definitions in the module docstring).

    Args:
        trials: window means from :func:`~dina_core.importers.traces.extract.extract_responses`.
        image_index: (n_trials,) int image shown on each trial.
        alpha: false discovery rate for calling a neuron responsive.
    """
    reliability = oracle_correlation(trials.values, image_index,
                                     np.ones(len(image_index), bool))
    p = paired_p_values(trials)
    responsive = benjamini_hochberg(p, alpha)
    fraction = float(responsive.mean()) if trials.prestim is not None else float("nan")
    return QualityReport(reliability, p, responsive, fraction, alpha)


def trace_examples(recording: TraceRecording, onsets: np.ndarray, config: TraceConfig,
                   neurons: np.ndarray, *, first_trial: int = 0, n_trials: int = 5,
                   margin_s: float = 2.0) -> TraceExamples:
    """Traces of ``neurons`` around trials ``first_trial .. first_trial + n_trials - 1``.

    The neurons are preprocessed over the whole recording (so the baseline is the one the
    dataset used) and then cut to the stretch from ``margin_s`` before the first onset to
    ``margin_s`` after the last.

    Args:
        recording: the raw traces.
        onsets: (n_trials,) int onset frames.
        config: the preprocessing and windows used for the dataset.
        neurons: (k,) neuron indices to show (e.g. the most reliable few).
        first_trial, n_trials: which trials the stretch covers.
        margin_s: grey time shown before and after them.
    """
    neurons = np.asarray(neurons, dtype=np.int64)
    onsets = np.asarray(onsets, dtype=np.int64)
    fs = recording.fs
    shown = np.arange(first_trial, min(first_trial + n_trials, onsets.size))
    lo = max(0, int(onsets[shown].min() - margin_s * fs))
    hi = min(recording.n_frames, int(onsets[shown].max() + margin_s * fs) + 1)
    kinds = needed_kinds(config, recording.has("dff"))
    arrays = recording.select(neurons, kinds)
    if config.nan_frames == "interpolate":  # as the import does (with 'refuse' it has already raised)
        for values in arrays.values():
            fill_nonfinite(values)
    processed = preprocess(fs, config, **arrays)[:, lo:hi]
    raw_kind = kinds[0]
    onsets_s = recording.times(onsets[shown])

    def absolute(window: tuple[float, float]) -> np.ndarray:
        start, stop = window_frames(window, fs)
        return onsets_s[:, None] + np.array([start, stop]) / fs

    return TraceExamples(
        neurons=neurons, times_s=recording.times(np.arange(lo, hi)),
        raw=arrays[raw_kind][:, lo:hi], raw_kind=raw_kind,
        neuropil=arrays["neuropil"][:, lo:hi] if "neuropil" in arrays else None,
        processed=processed, onsets_s=onsets_s, trials=shown,
        response_windows_s=absolute(config.response_window_s),
        prestim_windows_s=None if config.prestim_window_s is None
        else absolute(config.prestim_window_s))
