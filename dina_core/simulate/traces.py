"""Turn a simulated recording's per-trial responses into raw two-photon traces.

Timeline (frame grid at ``fs``): ``lead_s`` of grey, then every trial in session order
shows its image for ``stimulus_s`` followed by ``grey_s`` of grey (defaults 0.5 s + 1.0 s
at 30 Hz: one onset every 45 frames), then ``tail_s`` of grey.

Per ROI and frame (cells in neuron order; ``n_noncells`` extra non-cell ROIs are mixed in):

* events: a trial's simulated response (its realised event count, already noisy) is
  spread evenly over the stimulus frames, so no second noise draw is added; this is
  written as ``spks`` (a perfect deconvolution);
* calcium dF/F: events convolved with a GCaMP-like kernel ``(1 - exp(-t / tau_rise)) *
  exp(-t / tau_decay)`` scaled to a peak of ``dff_per_event`` per event;
* neuropil Fneu: a slowly fluctuating background shared across ROIs (plus a little of the
  population's calcium), bleaching with the session;
* F = F0(t) (1 + dF/F) + r_true Fneu, with F0 a per-cell resting level bleaching with the
  session; shot noise with variance ``noise_gain * F`` is added to F (and, reduced by
  the neuropil ring's many pixels, to Fneu).

With the defaults, importing these traces as dF/F recovers the per-trial responses of
the strong responders with correlations ~0.95-0.98 (shot noise and the previous trial's
calcium tail are what is lost) and exactly from the ``spks`` events. With Sensorium's
shorter grey (``grey_s=0.5``) the previous trial's tail caps them near 0.91.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import fft

from dina_core.data.format import DinaData

_CHUNK_ROIS = 64  # ROIs simulated at once: float64 temporaries stay under ~1 GB on the demo recording


@dataclass
class TraceSimConfig:
    """How per-trial responses become continuous traces; the traces are a pure function of it."""

    fs: float = 30.0  # frames per second: a typical resonant-scanner two-photon rate
    stimulus_s: float = 0.5  # image on screen (Sensorium 2022: 0.5 s)
    grey_s: float = 1.0  # grey between images: calcium tails of one trial barely reach the next
    lead_s: float = 5.0  # grey before the first image, so the first trial has a pre-stimulus window
    tail_s: float = 3.0  # grey after the last image, so the last response decays inside the recording
    tau_rise_s: float = 0.05  # GCaMP6-like fast rise
    tau_decay_s: float = 0.6  # GCaMP6-like decay: responses outlast the 0.5 s stimulus
    dff_per_event: float = 0.3  # peak dF/F of one event
    f0_range: tuple[float, float] = (200.0, 800.0)  # resting fluorescence per cell (log-uniform), a.u.
    bleach: float = 0.15  # fraction of F0 and Fneu lost over the session: the baseline must track it
    neuropil_coef: float = 0.7  # true contamination r of F by Fneu (the importer's default undoes it)
    neuropil_level: float = 150.0  # mean neuropil fluorescence, a.u.
    neuropil_fluctuation: float = 0.1  # sd of the slow shared neuropil fluctuation, fraction of its level
    neuropil_timescale_s: float = 3.0  # sd of the Gaussian smoothing of that fluctuation
    neuropil_population: float = 0.3  # how much the population's mean dF/F shows in the neuropil
    noise_gain: float = 1.0  # shot noise variance per unit F (photon counting): 3.5-7 % of F0 per frame
    neuropil_pixels: int = 50  # pixels averaged in the neuropil ring: its shot noise is sqrt(50) smaller
    n_noncells: int = 20  # extra non-cell ROIs (iscell probability < 0.5) an importer must drop
    um_per_pixel: float = 1.0  # field-of-view pixel size written with the ROIs
    roi_radius_px: int = 4  # ROI disc radius
    seed: int = 0  # every random draw derives from it

    def __post_init__(self) -> None:
        self.f0_range = tuple(self.f0_range)

    def to_dict(self) -> dict:
        return asdict(self)

    def trace_bytes(self, n_neurons: int, n_trials: int) -> int:
        """Peak memory of ``simulate_traces`` for that many neurons and trials, estimated: its three float32
        outputs and one chunk's float64 work per ROI and frame."""
        frames = (round(self.lead_s * self.fs) + round((self.stimulus_s + self.grey_s) * self.fs) * n_trials
                  + round(self.tail_s * self.fs))
        return 16 * (n_neurons + self.n_noncells) * frames


@dataclass
class SimulatedTraces:
    """Continuous traces of every ROI, cells and non-cells mixed in suite2p's ROI order.

    Attributes:
        fluorescence: (n_rois, n_frames) float32 F, a.u.
        neuropil: (n_rois, n_frames) float32 Fneu, a.u.
        events: (n_rois, n_frames) float32 events per frame (``spks``).
        resting: (n_rois,) float64 resting fluorescence F0 at the session start, a.u.
        bleaching: (n_frames,) float64 factor on F0 and Fneu over the session (1 -> 1 - bleach).
        is_cell: (n_rois,) bool; the cells are the simulated neurons, in order.
        iscell_prob: (n_rois,) float32 classifier probability (>= 0.6 cells, < 0.45 others).
        centers_px: (n_rois, 2) int64 ROI centre (y, x) pixels, suite2p's 'med'; cells sit at
            their cortical position / ``um_per_pixel``, shifted so all are inside the view.
        shape_px: (Ly, Lx) field of view, pixels.
        onsets: (n_trials,) int64 onset frame of each trial.
        config: the settings used.
    """

    fluorescence: np.ndarray
    neuropil: np.ndarray
    events: np.ndarray
    resting: np.ndarray
    bleaching: np.ndarray
    is_cell: np.ndarray
    iscell_prob: np.ndarray
    centers_px: np.ndarray
    shape_px: tuple[int, int]
    onsets: np.ndarray
    config: TraceSimConfig

    @property
    def n_frames(self) -> int:
        return int(self.fluorescence.shape[1])

    def true_dff(self, rois: np.ndarray | slice = slice(None),
                 frames: slice = slice(None)) -> np.ndarray:
        """(n_rois, n_frames) float32 dF/F of some ROIs and frames after exact neuropil
        correction, with F0 known."""
        f0 = self.resting[rois, None] * self.bleaching[frames]
        corrected = (self.fluorescence[rois, frames]
                     - self.config.neuropil_coef * self.neuropil[rois, frames])
        return ((corrected - f0) / f0).astype(np.float32)

    def onset_times(self) -> np.ndarray:
        """(n_trials,) float64 seconds; frame k is at k / fs."""
        return self.onsets / self.config.fs


def calcium_kernel(config: TraceSimConfig) -> np.ndarray:
    """(n_taps,) float64 GCaMP-like impulse response, peak 1, ~6 decay constants long."""
    t = np.arange(int(np.ceil(6 * config.tau_decay_s * config.fs)) + 1) / config.fs
    kernel = (1.0 - np.exp(-t / config.tau_rise_s)) * np.exp(-t / config.tau_decay_s)
    return kernel / kernel.max()


def _convolve(events: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal convolution along time (FFT), trimmed to the input length."""
    n = fft.next_fast_len(events.shape[1] + kernel.size - 1, real=True)
    spectrum = fft.rfft(events, n=n, axis=1) * fft.rfft(kernel, n=n)
    return fft.irfft(spectrum, n=n, axis=1)[:, :events.shape[1]]


def _event_trains(responses: np.ndarray, onsets: np.ndarray, n_frames: int,
                  stimulus_frames: int) -> np.ndarray:
    """(n_neurons, n_frames) events: each trial's response spread over its stimulus frames."""
    events = np.zeros((responses.shape[1], n_frames), np.float64)
    frames = (onsets[:, None] + np.arange(stimulus_frames)).ravel()
    events[:, frames] = np.repeat(responses.T / stimulus_frames, stimulus_frames, axis=1)
    return events


def _mix_rois(rng: np.random.Generator, n_cells: int, n_noncells: int) -> np.ndarray:
    """(n_rois,) bool is-cell in ROI order; cells keep their relative (neuron) order."""
    is_cell = np.ones(n_cells + n_noncells, bool)
    is_cell[rng.choice(is_cell.size, n_noncells, replace=False)] = False
    return is_cell


def _centers(rng: np.random.Generator, positions_um: np.ndarray, is_cell: np.ndarray,
             config: TraceSimConfig) -> tuple[np.ndarray, tuple[int, int]]:
    """ROI centres (y, x) pixels: cells at their cortical (x, y), non-cells anywhere.

    The field of view's origin lies ``roi_radius_px + 2`` pixels above and left of the
    topmost and leftmost cells, so every ROI fits inside it.
    """
    margin = config.roi_radius_px + 2
    cells_yx = np.round(positions_um[:, [1, 0]] / config.um_per_pixel).astype(np.int64)
    cells_yx += margin - cells_yx.min(0)
    shape = tuple(int(v) for v in cells_yx.max(0) + margin + 1)
    centers = np.empty((is_cell.size, 2), np.int64)
    centers[is_cell] = cells_yx
    centers[~is_cell] = rng.integers(margin, np.array(shape) - margin, size=((~is_cell).sum(), 2))
    return centers, shape


def _smooth_noise(rng: np.random.Generator, shape: tuple, sigma: float) -> np.ndarray:
    """Gaussian noise low-passed along the last axis by a Gaussian of sd ``sigma`` samples
    (in the frequency domain: a long time-domain kernel would dominate the run time),
    scaled to unit sd per row."""
    n = fft.next_fast_len(shape[-1], real=True)  # then cropped: odd lengths make FFTs slow
    spectrum = fft.rfft(rng.normal(size=(*shape[:-1], n)), axis=-1)
    spectrum *= np.exp(-2 * (np.pi * fft.rfftfreq(n) * sigma) ** 2)
    noise = fft.irfft(spectrum, n=n, axis=-1)[..., :shape[-1]]
    return noise / noise.std(axis=-1, keepdims=True)


def simulate_traces(data: DinaData, config: TraceSimConfig | None = None) -> SimulatedTraces:
    """Continuous traces whose per-trial responses are ``data.responses`` (module docstring).

    ROIs are simulated in chunks, so memory stays near the four float32 outputs
    (~2.1 GB for the 1000-neuron demo recording, ~70 MB for ``SimConfig.small()``).

    Args:
        data: a simulated recording (trials in session order; ``positions_um`` (n, 2|3)).
        config: timeline, indicator, neuropil and noise settings.

    Returns:
        The traces of every ROI, with ROI layout and onsets.
    """
    config = config or TraceSimConfig()
    rng = np.random.default_rng(config.seed)
    fs = config.fs
    period = int(round((config.stimulus_s + config.grey_s) * fs))
    stim = int(round(config.stimulus_s * fs))
    lead, tail = int(round(config.lead_s * fs)), int(round(config.tail_s * fs))
    onsets = lead + period * np.arange(data.n_trials, dtype=np.int64)
    n_frames = int(onsets[-1]) + period + tail
    is_cell = _mix_rois(rng, data.n_neurons, config.n_noncells)
    n_rois = is_cell.size
    neuron_of_roi = np.cumsum(is_cell) - 1  # cells: their neuron; non-cells: unused
    kernel = calcium_kernel(config)
    responses = data.responses.astype(np.float64)
    mean_events = _event_trains(responses.mean(1, keepdims=True), onsets, n_frames, stim)
    population = config.dff_per_event * _convolve(mean_events, kernel)[0]  # linear: mean of dF/F
    bleaching = 1.0 - config.bleach * np.arange(n_frames) / n_frames
    shared = _smooth_noise(rng, (n_frames,), config.neuropil_timescale_s * fs)
    out = {k: np.empty((n_rois, n_frames), np.float32)
           for k in ("fluorescence", "neuropil", "events")}
    resting = np.exp(rng.uniform(*np.log(config.f0_range), size=n_rois))
    for lo in range(0, n_rois, _CHUNK_ROIS):
        rois = slice(lo, min(lo + _CHUNK_ROIS, n_rois))
        cells = is_cell[rois]
        n = cells.size
        events = np.zeros((n, n_frames))
        events[cells] = _event_trains(responses[:, neuron_of_roi[rois][cells]], onsets,
                                      n_frames, stim)
        dff = config.dff_per_event * _convolve(events, kernel)
        f0 = resting[rois, None] * bleaching
        drift = 0.8 * shared + 0.6 * _smooth_noise(rng, (n, n_frames),
                                                   config.neuropil_timescale_s * fs)
        level = config.neuropil_level * rng.uniform(0.8, 1.2, size=(n, 1)) * bleaching
        true_neuropil = level * (1.0 + config.neuropil_fluctuation * drift
                                 + config.neuropil_population * population)
        clean = f0 * (1.0 + dff) + config.neuropil_coef * true_neuropil
        f = clean + rng.normal(size=clean.shape) * np.sqrt(config.noise_gain * clean)
        fneu = true_neuropil + rng.normal(size=clean.shape) * np.sqrt(
            config.noise_gain * true_neuropil / config.neuropil_pixels)
        out["fluorescence"][rois], out["neuropil"][rois], out["events"][rois] = f, fneu, events
    centers, shape = _centers(rng, np.asarray(data.neurons["positions_um"]), is_cell, config)
    prob = np.where(is_cell, rng.uniform(0.6, 1.0, n_rois), rng.uniform(0.0, 0.45, n_rois))
    return SimulatedTraces(**out, resting=resting, bleaching=bleaching, is_cell=is_cell,
                           iscell_prob=prob.astype(np.float32), centers_px=centers, shape_px=shape,
                           onsets=onsets, config=config)
