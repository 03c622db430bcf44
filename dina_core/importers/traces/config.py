"""Trace preprocessing and extraction settings: one typed dataclass, round-tripping via JSON.

Kept apart from the numerical code (and free of scipy) so the command line can build its
options from the fields without importing the heavy modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...config import ConfigError, DictConfig, check_float, check_int, why

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
                                             "'maximin' (smooth, min, max: faster), 'none' (keep F)")
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
        name = type(self).__name__
        for choice, choices in CHOICES.items():
            if getattr(self, choice) not in choices:
                raise ConfigError(name, choice, f"one of {', '.join(choices)}", getattr(self, choice))
        for window_name in ("response_window_s", "prestim_window_s"):
            window = getattr(self, window_name)
            if window is None and window_name == "prestim_window_s":
                continue
            try:
                window = tuple(float(v) for v in window)
            except (TypeError, ValueError):
                window = None
            if window is None or len(window) != 2 or not all(map(math.isfinite, window)) or not window[0] < window[1]:
                raise ConfigError(name, window_name, "(start, end) seconds from onset with start < end",
                                  getattr(self, window_name))
            setattr(self, window_name, window)
        check_float(self, "neuropil_coef", lo=0.0)
        check_float(self, "baseline_window_s", lo=0.0, lo_open=True)
        check_float(self, "baseline_percentile", lo=0.0, hi=100.0)
        check_float(self, "baseline_smooth_s", lo=0.0)
        check_float(self, "dff_floor", lo=0.0, lo_open=True)
        check_float(self, "denoise_window_s", lo=0.0, lo_open=True)
        check_int(self, "savgol_order", lo=0)
        check_int(self, "chunk_neurons", lo=1)
