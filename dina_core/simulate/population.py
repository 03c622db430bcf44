"""The simulated V1 population: ground-truth tuning and the noise-free forward model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dina_core.simulate.config import SimConfig
from dina_core.simulate.filters import contrast_weights, envelopes, normalised_filters, plane_waves


@dataclass
class Population:
    """Ground truth of every neuron and the noise-free model mapping images to rates.

    Attributes:
        rf_masks: (n, H, W) float32 Gaussian envelopes, max 1, exactly 0 below 1e-3.
        rf_centers: (n, 2) float32 (row, col) pixels.
        rf_sigma: (n,) float32 envelope sd, pixels.
        orientation: (n,) float32 radians in [0, pi) (see ``filters.plane_waves``).
        spatial_frequency: (n,) float32 cycles per pixel.
        phase: (n,) float32 radians (only matters for simple cells).
        is_complex: (n,) bool, energy-model cell (else simple LN cell).
        strong_responder: (n,) bool.
        interaction_group: (n,) int, group id or -1.
        gain: (n,) float32 events per unit of normalised drive ** exponent.
        spontaneous: (n,) float32 stimulus-independent mean activity, events.
        positions_um: (n, 3) float32 cortical (x, y, depth) micrometres.
        weights: (n, H*W) float32 contrast pooling weights (envelope / its sum).
        filters: (n, H*W) float32 linear filters (even phase for simple cells).
        quadrature: (n_complex, H*W) float32 90-degree partners of the complex cells' filters.
        norm_contrast: semi-saturation RMS contrast (grey / 255).
        exponent: output nonlinearity exponent.
    """

    rf_masks: np.ndarray
    rf_centers: np.ndarray
    rf_sigma: np.ndarray
    orientation: np.ndarray
    spatial_frequency: np.ndarray
    phase: np.ndarray
    is_complex: np.ndarray
    strong_responder: np.ndarray
    interaction_group: np.ndarray
    gain: np.ndarray
    spontaneous: np.ndarray
    positions_um: np.ndarray
    weights: np.ndarray
    filters: np.ndarray
    quadrature: np.ndarray
    norm_contrast: float
    exponent: float

    def normalised_drive(self, images: np.ndarray) -> np.ndarray:
        """Contrast-normalised drive, before gain and output nonlinearity.

        Args:
            images: (n_images, H, W) grey levels 0..255.

        Returns:
            (n_images, n_neurons) float32, >= 0: simple cells ``relu(f.x) / (c50 + c)``,
            complex cells ``sqrt((f.x)^2 + (q.x)^2) / (c50 + c)``, with ``c`` the RMS
            contrast under the neuron's envelope and ``c50 = norm_contrast``.
        """
        # Centring on mid-grey changes nothing mathematically (weights sum to 1, filters to 0)
        # but keeps float32 from cancelling in sum(w x^2) - sum(w x)^2.
        x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        x = x / np.float32(255.0) - np.float32(0.5)
        mean = x @ self.weights.T
        contrast = np.sqrt(np.maximum((x * x) @ self.weights.T - mean * mean, 0.0))
        linear = x @ self.filters.T
        drive = np.maximum(linear, 0.0)
        quad = x @ self.quadrature.T
        drive[:, self.is_complex] = np.sqrt(linear[:, self.is_complex] ** 2 + quad ** 2)
        return drive / (np.float32(self.norm_contrast) + contrast)

    def expected_responses(self, images: np.ndarray) -> np.ndarray:
        """Noise-free mean response at shared trial gain 1.

        A neuron's value depends only on pixels where its ``rf_masks`` is non-zero.

        Args:
            images: (n_images, H, W) grey levels 0..255.

        Returns:
            (n_images, n_neurons) float32 expected events: ``gain * drive**exponent + spontaneous``.
        """
        drive = self.normalised_drive(images)
        return (self.gain * drive ** np.float32(self.exponent) + self.spontaneous).astype(np.float32)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), n))


def _interaction_groups(rng: np.random.Generator, config: SimConfig) -> np.ndarray:
    """(n,) int group id per neuron (-1: none); members are drawn at random."""
    lo, hi = config.group_size_range
    sizes = rng.integers(lo, hi + 1, config.n_interaction_groups)
    members = rng.permutation(config.n_neurons)[: sizes.sum()]
    group = np.full(config.n_neurons, -1, dtype=np.int64)
    group[members] = np.repeat(np.arange(config.n_interaction_groups), sizes)
    return group


def _draw_tuning(rng: np.random.Generator, config: SimConfig, n: int) -> tuple[np.ndarray, ...]:
    """Centres (n, 2) pixels, sigma (n,) pixels, frequency (n,) cycles/pixel, orientation (n,)."""
    shape = config.image_shape
    r_lo, r_hi, c_lo, c_hi = config.rf_region
    centers = np.stack([rng.uniform(r_lo, r_hi, n) * (shape[0] - 1),
                        rng.uniform(c_lo, c_hi, n) * (shape[1] - 1)], axis=1)
    sigma = _log_uniform(rng, config.rf_sigma_range, n)
    frequency = rng.uniform(*config.cycles_per_sigma_range, n) / sigma
    return centers, sigma, frequency, rng.uniform(0.0, np.pi, n)


def make_population(config: SimConfig, rng: np.random.Generator) -> Population:
    """Draw a population: tuning, cell types, reliability classes, groups and anatomy."""
    n, shape = config.n_neurons, config.image_shape
    centers, sigma, frequency, orientation = _draw_tuning(rng, config, n)
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    is_complex = rng.random(n) < config.complex_fraction

    # Groups: cells co-localised within ~1 px and co-tuned within ~10 degrees that also
    # share one common grating input.
    group = _interaction_groups(rng, config)
    n_groups = config.n_interaction_groups
    g_center, g_sigma, g_frequency, g_orientation = _draw_tuning(rng, config, n_groups)
    g_phase = rng.uniform(0.0, 2.0 * np.pi, n_groups)
    member = group >= 0
    gm, k = group[member], int(member.sum())
    centers[member] = g_center[gm] + rng.normal(0.0, 1.0, (k, 2))
    sigma[member] = g_sigma[gm] * np.exp(rng.normal(0.0, 0.15, k))
    frequency[member] = g_frequency[gm] * np.exp(rng.normal(0.0, 0.1, k))
    orientation[member] = (g_orientation[gm] + rng.normal(0.0, np.deg2rad(10.0), k)) % np.pi

    def carriers(shift: float) -> np.ndarray:
        waves = plane_waves(centers, orientation, frequency, phase + shift, shape)
        common = plane_waves(g_center[gm], g_orientation[gm], g_frequency[gm],
                             g_phase[gm] + shift, shape)
        a = config.interaction_strength
        waves[member] = (1.0 - a) * waves[member] + a * common
        return waves

    env = envelopes(centers, sigma, shape)
    weights = contrast_weights(env)
    filters = normalised_filters(weights, carriers(0.0))
    quadrature = normalised_filters(weights[is_complex], carriers(-np.pi / 2)[is_complex])

    strong = np.zeros(n, dtype=bool)
    strong[rng.choice(n, int(round(config.strong_fraction * n)), replace=False)] = True
    median_gain = np.where(strong, config.strong_gain, config.weak_gain)
    gain = median_gain * np.exp(config.gain_sd * rng.normal(size=n))
    spontaneous = config.spontaneous_rate * np.exp(0.5 * rng.normal(size=n))  # ~1.6x spread

    # Retinotopy: RF position maps smoothly onto cortex (azimuth -> x, elevation -> y).
    cortex = (centers[:, ::-1] - centers.min(axis=0)[::-1]) * config.um_per_pixel
    cortex += rng.normal(0.0, config.retinotopic_scatter_um, (n, 2))
    depth = rng.uniform(*config.depth_range_um, n)
    f32 = np.float32
    return Population(
        rf_masks=env, rf_centers=centers.astype(f32), rf_sigma=sigma.astype(f32),
        orientation=orientation.astype(f32), spatial_frequency=frequency.astype(f32),
        phase=phase.astype(f32), is_complex=is_complex, strong_responder=strong,
        interaction_group=group, gain=gain.astype(f32), spontaneous=spontaneous.astype(f32),
        positions_um=np.column_stack([cortex, depth]).astype(f32), weights=weights,
        filters=filters, quadrature=quadrature, norm_contrast=config.norm_contrast,
        exponent=config.exponent)
