"""Calcium-trace preprocessing: neuropil correction, running baseline, dF/F, denoising.

All traces are neurons first, ``(n_neurons, n_frames)``, as suite2p stores them. Each
step is optional and set by one :class:`TraceConfig`; :func:`preprocess` applies them to
one block of neurons, so callers bound memory by processing neuron chunks (10,000
neurons x 50,000 frames is 2 GB per float32 array: never hold more than one chunk's
intermediates at once).

The chunked pipeline's time grows linearly with neurons and frames, in bounded memory; ``maximin``
is faster than the exact running percentile, Savitzky-Golay denoising slows it (figures:
``bench/results/design_notes_cpu.md``; a full import: ``bench/results/import_preview_cpu.txt``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dina_core.importers.traces.config import TraceConfig


def odd_frames(seconds: float, fs: float, minimum: int = 1) -> int:
    """A window of ``seconds`` as an odd number of frames (>= ``minimum``), so it is centred."""
    frames = max(int(minimum), int(round(seconds * fs)))
    return frames + 1 - frames % 2


def neuropil_correct(fluorescence: np.ndarray, neuropil: np.ndarray, coef: float) -> np.ndarray:
    """``F - coef * Fneu``.

    Args:
        fluorescence: (n_neurons, n_frames) ROI fluorescence F, a.u.
        neuropil: (n_neurons, n_frames) surrounding neuropil Fneu, same units.
        coef: contamination ratio r (suite2p's default 0.7).

    Returns:
        (n_neurons, n_frames) float32 corrected fluorescence.
    """
    return (np.asarray(fluorescence, np.float32) - np.float32(coef) * np.asarray(neuropil, np.float32))


def running_baseline(traces: np.ndarray, window: int, percentile: float,
                     method: str = "percentile", smooth: int = 1) -> np.ndarray:
    """Slowly varying baseline F0 of each trace.

    ``percentile``: the ``percentile``-th value (scipy's rank ``int(window * p / 100)`` of
    the sorted window, no interpolation) of a centred window, edges padded with the end
    values. ``maximin`` (suite2p's method): box-smooth over ``smooth`` frames, running
    minimum, then running maximum over ``window``: a lower envelope that ignores
    ``percentile``.

    Args:
        traces: (n_neurons, n_frames) fluorescence.
        window: window length in frames (odd keeps it centred).
        percentile: 0..100, for the ``percentile`` method.
        method: 'percentile' or 'maximin'.
        smooth: box width in frames before the minimum (maximin only).

    Returns:
        (n_neurons, n_frames) float32 baseline.
    """
    traces = np.asarray(traces, np.float32)
    window = max(1, min(int(window), traces.shape[-1]))
    if method == "maximin":
        smoothed = ndimage.uniform_filter1d(traces, max(1, smooth), axis=-1, mode="nearest")
        low = ndimage.minimum_filter1d(smoothed, window, axis=-1, mode="nearest")
        return ndimage.maximum_filter1d(low, window, axis=-1, mode="nearest")
    if method != "percentile":
        raise ValueError(f"unknown baseline method {method!r}")
    return _row_by_row(ndimage.percentile_filter, traces, percentile, size=window)


def _row_by_row(rank_filter, traces: np.ndarray, *args, size: int) -> np.ndarray:
    """Apply a scipy rank filter to each row: its 1-D path is far faster than one 2-D call with a
    (1, size) footprint (figures: ``bench/results/design_notes_cpu.md``)."""
    out = np.empty_like(traces)
    for i, row in enumerate(traces):
        out[i] = rank_filter(row, *args, size=size, mode="nearest")
    return out


def delta_f_over_f(traces: np.ndarray, baseline: np.ndarray, floor: float) -> np.ndarray:
    """``(F - F0) / max(F0, floor)``: (n_neurons, n_frames) float32, unitless."""
    return ((traces - baseline) / np.maximum(baseline, np.float32(floor))).astype(np.float32)


def denoise(traces: np.ndarray, method: str, window: int, order: int = 2) -> np.ndarray:
    """Smooth each trace along time.

    Args:
        traces: (n_neurons, n_frames).
        method: 'savgol' (Savitzky-Golay, polynomial ``order``), 'median' or 'none'.
        window: odd span in frames (raised to ``order + 2`` for savgol).

    Returns:
        (n_neurons, n_frames) float32.
    """
    traces = np.asarray(traces, np.float32)
    if method == "none" or window <= 1:
        return traces
    if method == "median":
        return _row_by_row(ndimage.median_filter, traces, size=window)
    if method != "savgol":
        raise ValueError(f"unknown denoising method {method!r}")
    from scipy.signal import savgol_filter  # scipy.signal is slow to import: only when used
    window = max(window, order + 2)
    window += 1 - window % 2
    if window > traces.shape[-1]:
        return traces
    return savgol_filter(traces, window, order, axis=-1, mode="interp").astype(np.float32)


def preprocess(fs: float, config: TraceConfig, *, fluorescence: np.ndarray | None = None,
               neuropil: np.ndarray | None = None, events: np.ndarray | None = None,
               dff: np.ndarray | None = None) -> np.ndarray:
    """Turn one block of raw traces into the signal that responses are averaged from.

    ``signal='events'`` uses ``events``; ``signal='dff'`` uses ``dff`` when the source
    already holds dF/F (e.g. an NWB DfOverF series), else computes it from
    ``fluorescence`` (neuropil-corrected when ``neuropil`` is given and the coefficient is
    > 0). Denoising comes last, on whichever signal was chosen.

    Args:
        fs: frame rate, Hz.
        config: the steps and their parameters.
        fluorescence, neuropil, events, dff: (n_neurons, n_frames) arrays or None.

    Returns:
        (n_neurons, n_frames) float32: dF/F (unitless), F (if ``baseline_method='none'``)
        or events.

    Raises:
        ValueError: if the chosen signal's input is missing (callers check this first
            and raise a DatasetError naming the file).
    """
    if config.signal == "events":
        if events is None:
            raise ValueError("signal 'events' needs deconvolved events")
        x = np.asarray(events, np.float32)
    elif dff is not None:
        x = np.asarray(dff, np.float32)
    elif fluorescence is None:
        raise ValueError("signal 'dff' needs fluorescence or dF/F traces")
    else:
        x = np.asarray(fluorescence, np.float32)
        if neuropil is not None and config.neuropil_coef > 0:
            x = neuropil_correct(x, neuropil, config.neuropil_coef)
        if config.baseline_method != "none":
            f0 = running_baseline(x, odd_frames(config.baseline_window_s, fs),
                                  config.baseline_percentile, config.baseline_method,
                                  odd_frames(config.baseline_smooth_s, fs))
            x = delta_f_over_f(x, f0, config.dff_floor)
    return denoise(x, config.denoise, odd_frames(config.denoise_window_s, fs), config.savgol_order)


def needed_kinds(config: TraceConfig, has_dff: bool) -> tuple[str, ...]:
    """The stored traces :func:`preprocess` reads for ``config`` (see its docstring)."""
    if config.signal == "events":
        return ("events",)
    return ("dff",) if has_dff else ("fluorescence", "neuropil")


def describe_steps(fs: float, config: TraceConfig, *, has_neuropil: bool, has_dff: bool) -> list[str]:
    """Human-readable list of the steps :func:`preprocess` applies, frame counts included."""
    if config.signal == "events":
        steps = ["deconvolved events (no neuropil correction or baseline)"]
    elif has_dff:
        steps = ["dF/F as stored in the source (no neuropil correction or baseline here)"]
    else:
        steps = [f"neuropil correction F - {config.neuropil_coef} * Fneu"
                 if has_neuropil and config.neuropil_coef > 0 else "no neuropil correction"]
        window = odd_frames(config.baseline_window_s, fs)
        if config.baseline_method == "percentile":
            steps.append(f"F0: running {config.baseline_percentile:g}th percentile over "
                         f"{window} frames ({config.baseline_window_s:g} s)")
        elif config.baseline_method == "maximin":
            steps.append(f"F0: box smoothing over {odd_frames(config.baseline_smooth_s, fs)} frames, "
                         f"then running min and max over {window} frames")
        if config.baseline_method != "none":
            steps.append(f"dF/F = (F - F0) / max(F0, {config.dff_floor:g})")
    if config.denoise != "none":
        extra = f", order {config.savgol_order}" if config.denoise == "savgol" else ""
        steps.append(f"{config.denoise} denoising over {odd_frames(config.denoise_window_s, fs)} "
                     f"frames{extra}")
    return steps
