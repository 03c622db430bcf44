"""Simulator configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DictConfig


@dataclass
class SimConfig(DictConfig):
    """Everything that shapes a simulated recording; the recording is a pure function of it."""

    seed: int = 0  # every random draw derives from this: same config -> identical recording
    # -- session layout (mirrors Sensorium 2022: only test images repeat) --
    image_shape: tuple[int, int] = (36, 64)  # (H, W) pixels, the Sensorium 2022 downsampled size
    n_neurons: int = 1000  # recorded cells
    n_train_images: int = 2500  # distinct crops, each shown once
    n_validation_images: int = 250  # distinct crops, each shown once
    n_test_images: int = 100  # distinct crops never shown in train/validation
    n_test_repeats: int = 10  # repeats per test image: what reliability is measured on
    # -- stimuli --
    crop_height_range: tuple[int, int] = (48, 256)  # source-photo pixels per crop height: zoom range
    n_crop_scales: int = 12  # crop heights come from this many log-spaced levels (one blur each)
    # -- receptive fields --
    # RF centres: (row lo, row hi, col lo, col hi) as image fractions; a V1 field of view
    # sees part of the monitor, not all of it
    rf_region: tuple[float, float, float, float] = (0.2, 0.8, 0.2, 0.65)
    rf_sigma_range: tuple[float, float] = (2.0, 5.0)  # Gaussian envelope sd in pixels (log-uniform)
    cycles_per_sigma_range: tuple[float, float] = (0.12, 0.3)  # sf x sigma: ~1 cycle per RF (V1-like)
    complex_fraction: float = 0.5  # energy-model cells; the rest are simple (LN) cells
    norm_contrast: float = 0.08  # semi-saturation RMS contrast (grey/255) of divisive normalisation
    exponent: float = 2.0  # expansive output nonlinearity: sparse, skewed responses
    # -- response strength and noise --
    strong_fraction: float = 0.1  # share of strongly driven, reliable neurons
    strong_gain: float = 16.0  # median gain of strong responders (events per unit drive^exponent)
    weak_gain: float = 2.0  # median gain of the weak majority
    gain_sd: float = 0.3  # log-normal spread of gains within each class
    spontaneous_rate: float = 0.05  # median stimulus-independent mean activity (events)
    fano_factor: float = 1.0  # noise level: variance / mean of the per-trial gamma noise
    shared_gain_sd: float = 0.25  # sd of the log shared multiplicative gain per trial
    gain_behavior_corr: float = 0.6  # correlation of the log shared gain with arousal (running, pupil)
    # -- functional interactions --
    n_interaction_groups: int = 20  # small groups sharing input and noise
    group_size_range: tuple[int, int] = (3, 6)  # members per group (inclusive)
    interaction_strength: float = 0.5  # weight of the group's common filter in each member's filter
    group_noise_sd: float = 0.5  # sd of a log gain shared by a group on each trial (noise coupling)
    # -- anatomy --
    um_per_pixel: float = 15.0  # cortical magnification: cortex um per image pixel of RF shift
    retinotopic_scatter_um: float = 20.0  # sd of cortical position around the retinotopic map
    depth_range_um: tuple[float, float] = (180.0, 380.0)  # layer 2/3 imaging depths

    def __post_init__(self) -> None:
        for name in ("image_shape", "crop_height_range", "rf_region", "rf_sigma_range",
                     "cycles_per_sigma_range", "group_size_range", "depth_range_um"):
            setattr(self, name, tuple(getattr(self, name)))
        if self.n_test_repeats < 2:
            raise ValueError("n_test_repeats must be >= 2 so reliability can be measured")
        if not 0.0 <= self.strong_fraction <= 1.0:
            raise ValueError("strong_fraction must lie in [0, 1]")
        if self.n_interaction_groups * self.group_size_range[1] > self.n_neurons:
            raise ValueError("interaction groups need more neurons than n_neurons")

    @classmethod
    def small(cls, **overrides) -> "SimConfig":
        """A recording that simulates in well under a second: the test fixture size."""
        sizes = dict(n_neurons=200, n_train_images=400, n_validation_images=60,
                     n_test_images=30, n_test_repeats=4, n_interaction_groups=8)
        return cls(**{**sizes, **overrides})


DEMO_CONFIG = SimConfig()
"""The built-in demo: 36x64 images, 1000 neurons, 2500 train + 250 validation images shown
once each, 100 test images x 10 repeats (3750 trials)."""
