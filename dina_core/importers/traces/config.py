"""Trace preprocessing and extraction settings: one typed dataclass, round-tripping via JSON.

Kept apart from the numerical code (and free of scipy) so the command line can build its
options from the fields without importing the heavy modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import DictConfig, why

SIGNALS = ("dff", "events")
BASELINE_METHODS = ("percentile", "maximin", "none")
DENOISERS = ("none", "savgol", "median")
NAN_FRAMES = ("refuse", "interpolate")
CHOICES = {"signal": SIGNALS, "baseline_method": BASELINE_METHODS, "denoise": DENOISERS, "nan_frames": NAN_FRAMES}


@dataclass
class TraceConfig(DictConfig):
    """How continuous traces become one response per trial and neuron; round-trips via JSON."""

    signal: str = why("dff", "'dff' from fluorescence, or 'events' (deconvolved, e.g. suite2p spks): "
                             "no calcium decay to undo")
    neuropil_coef: float = why(0.7, "r in F - r*Fneu: neuropil leaks into every ROI; suite2p's 0.7; 0 skips")
    baseline_method: str = why("percentile", "F0 method: exact running 'percentile', "
                                             "'maximin' (smooth, min, max: ~2x faster), 'none' (keep F)")
    baseline_window_s: float = why(60.0, "F0 window: far longer than a response, shorter than bleaching/drift")
    baseline_percentile: float = why(10.0, "low percentile: F0 follows the resting level, not the responses")
    baseline_smooth_s: float = why(0.3, "maximin only: smooth first so shot noise cannot drag the minimum down")
    dff_floor: float = why(1.0, "smallest F0 divisor (F units): dim ROIs whose F0 nears 0 would explode")
    denoise: str = why("none", "'savgol' or 'median': trades temporal precision for less frame noise")
    denoise_window_s: float = why(0.2, "smoothing span, below the response window so responses keep their size")
    savgol_order: int = why(2, "Savitzky-Golay polynomial order: keeps peaks better than a box of that span")
    response_window_s: tuple[float, float] = why((0.1, 0.6), "after onset, s: calcium lags spikes by ~0.1 s")
    prestim_window_s: tuple[float, float] | None = why((-0.2, 0.0), "before onset, s, subtracted: the level each "
                                                                    "response rises from; None skips the subtraction")
    nan_frames: str = why("refuse", "NaN/Inf frames in a trace (dropped frames): 'refuse' names them; 'interpolate' "
                                    "fills each gap linearly from its neighbours, counted in the file's record")
    chunk_neurons: int = why(256, "neurons processed at once: memory ~ chunk x n_frames x 16 bytes")

    def __post_init__(self) -> None:
        self.response_window_s = tuple(float(v) for v in self.response_window_s)
        if self.prestim_window_s is not None:
            self.prestim_window_s = tuple(float(v) for v in self.prestim_window_s)
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, not {getattr(self, name)!r}")
        for name in ("response_window_s", "prestim_window_s"):
            window = getattr(self, name)
            if window is not None and (len(window) != 2 or not window[0] < window[1]):
                raise ValueError(f"{name} must be (start, end) seconds with start < end, not {window}")
        if not 0.0 <= self.baseline_percentile <= 100.0:
            raise ValueError("baseline_percentile must lie in [0, 100]")
        if min(self.baseline_window_s, self.dff_floor, self.chunk_neurons) <= 0:
            raise ValueError("baseline_window_s, dff_floor and chunk_neurons must be positive")
        if self.neuropil_coef < 0 or self.savgol_order < 0:
            raise ValueError("neuropil_coef and savgol_order must be >= 0")

