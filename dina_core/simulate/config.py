"""Simulator configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, DictConfig, check_float, check_int, check_tuple

# The largest value of each size setting (a slip such as --neurons 10**12 is refused at once, naming the field);
# far above any recording on record, so within them the real limit is memory (``simulation_bytes``).
MAXIMA = {"n_neurons": 100_000, "n_train_images": 1_000_000, "n_validation_images": 1_000_000,
          "n_test_images": 100_000, "n_test_repeats": 1_000, "n_crop_scales": 256, "n_interaction_groups": 100_000,
          "image_shape": 1024, "crop_height_range": 4096, "group_size_range": 1_000}


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
        name = type(self).__name__
        check_int(self, "seed", lo=0, hi=2**32 - 1)
        check_tuple(self, "image_shape", length=2, kind=int, lo=8)  # the image tower halves H and W per stage
        for count, lo in (("n_neurons", 1), ("n_train_images", 1), ("n_validation_images", 0),
                          ("n_test_images", 2), ("n_crop_scales", 1), ("n_interaction_groups", 0)):
            check_int(self, count, lo=lo, hi=MAXIMA[count])  # N = 1 test image would make retrieval trivially "100%"
        check_int(self, "n_test_repeats", lo=2, hi=MAXIMA["n_test_repeats"])  # so reliability can be measured
        for pair, kind in (("crop_height_range", int), ("rf_sigma_range", float), ("cycles_per_sigma_range", float),
                           ("group_size_range", int), ("depth_range_um", float)):
            low, high = check_tuple(self, pair, length=2, kind=kind, lo=0, lo_open=pair != "depth_range_um")
            if low > high:
                raise ConfigError(name, pair, "(low, high) with low <= high", getattr(self, pair))
        for sizes in ("image_shape", "crop_height_range", "group_size_range"):
            if max(getattr(self, sizes)) > MAXIMA[sizes]:
                raise ConfigError(name, sizes, f"integers <= {MAXIMA[sizes]:,}", getattr(self, sizes))
        check_tuple(self, "rf_region", length=4, lo=0.0)
        if not all(0.0 <= v <= 1.0 for v in self.rf_region) or not (self.rf_region[0] < self.rf_region[1]
                                                                     and self.rf_region[2] < self.rf_region[3]):
            raise ConfigError(name, "rf_region", "(row lo, row hi, col lo, col hi) fractions in [0, 1], lo < hi",
                              self.rf_region)
        for fraction in ("complex_fraction", "strong_fraction"):
            check_float(self, fraction, lo=0.0, hi=1.0)
        for positive in ("norm_contrast", "exponent", "strong_gain", "weak_gain", "spontaneous_rate",
                         "fano_factor", "um_per_pixel"):
            check_float(self, positive, lo=0.0, lo_open=True)
        for non_negative in ("gain_sd", "shared_gain_sd", "interaction_strength", "group_noise_sd",
                             "retinotopic_scatter_um"):
            check_float(self, non_negative, lo=0.0)
        check_float(self, "gain_behavior_corr", lo=-1.0, hi=1.0)
        if self.n_interaction_groups * self.group_size_range[1] > self.n_neurons:
            raise ConfigError(name, "n_neurons", f"at least n_interaction_groups x largest group size = "
                              f"{self.n_interaction_groups} x {self.group_size_range[1]}", self.n_neurons)

    @property
    def n_images(self) -> int:
        return self.n_train_images + self.n_validation_images + self.n_test_images

    @property
    def n_trials(self) -> int:
        return self.n_train_images + self.n_validation_images + self.n_test_images * self.n_test_repeats

    def simulation_bytes(self) -> int:
        """Peak memory of ``simulate_recording(self)``, estimated: float64 work arrays per neuron and trial,
        image and pixel (responses, rates, mean responses, filters and masks), and the images themselves."""
        pixels = self.image_shape[0] * self.image_shape[1]
        return 16 * self.n_neurons * (self.n_trials + self.n_images + pixels) + 16 * self.n_images * pixels

    @classmethod
    def small(cls, **overrides) -> "SimConfig":
        """A recording that simulates in well under a second: the test fixture size."""
        sizes = dict(n_neurons=200, n_train_images=400, n_validation_images=60,
                     n_test_images=30, n_test_repeats=4, n_interaction_groups=8)
        return cls(**{**sizes, **overrides})


DEMO_CONFIG = SimConfig()
"""The built-in demo: 36x64 images, 1000 neurons, 2500 train + 250 validation images shown
once each, 100 test images x 10 repeats (3750 trials)."""
