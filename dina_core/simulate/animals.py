"""Several animals of one simulated visual system: one image set, each animal its own neurons and session.

Every animal sees a fraction ``shared_fraction`` of its images in common with every other (in each tier: train,
validation and test), and the rest of its own; each has its own neurons (receptive fields, tuning, gains), noise,
behaviour and trial order, drawn from the same feature model (Gabor-like simple and complex cells,
``simulate.population``). The truth: their models' representations are consistent on the shared images. An animal
listed in ``different`` has neurons of another feature model (local luminance under the same envelopes, ON or OFF,
to which a Gabor cell is blind): it must be clearly less consistent with the others.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..data.format import DinaData
from .config import SimConfig
from .images import sample_crops
from .population import Population
from .recording import simulate_population, simulate_recording

LUMINANCE_SCALE = 0.6  # local mean grey (-0.5..0.5 around mid-grey) per unit of drive: mean responses as the Gabor cells'


@dataclass
class LuminancePopulation(Population):
    """A population driven by local mean luminance under each neuron's envelope: ``relu(sign * mean) / scale``."""

    sign: np.ndarray = None  # (n,) +1 ON, -1 OFF

    def normalised_drive(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32).reshape(len(images), -1) / np.float32(255.0) - np.float32(0.5)
        return np.maximum((x @ self.weights.T) * self.sign, 0.0) / np.float32(LUMINANCE_SCALE)


def _luminance(population: Population, seed: int) -> LuminancePopulation:
    sign = np.where(np.random.default_rng([seed, 11]).random(len(population.gain)) < 0.5, -1.0, 1.0)
    return LuminancePopulation(**vars(population), sign=sign.astype(np.float32))


def _tier_counts(config: SimConfig) -> tuple[int, int, int]:
    return config.n_train_images, config.n_validation_images, config.n_test_images


def simulate_animals(k: int, *, shared_fraction: float = 0.5, config: SimConfig | None = None,
                     different: tuple[int, ...] = ()) -> list[DinaData]:
    """``k`` recordings of one simulated visual system (module docstring); deterministic in ``config.seed``.

    Args:
        k: animals, at least 2.
        shared_fraction: share of each tier's images every animal sees (rounded per tier; the test tier keeps at
            least 2 shared images when the fraction is above 0).
        config: each animal's sizes and tuning ranges (``SimConfig()`` when None); animal i's own draws use the
            seed ``config.seed * 1000 + i + 1``.
        different: 0-based animals whose neurons follow the luminance feature model instead.
    """
    if k < 2 or not 0.0 <= shared_fraction <= 1.0 or any(not 0 <= i < k for i in different):
        raise ValueError(f"k {k} >= 2, shared_fraction {shared_fraction} in [0, 1], different {different} in 0..{k - 1}")
    base = config or SimConfig()
    counts = _tier_counts(base)
    shared = [int(round(shared_fraction * n)) for n in counts]
    if shared_fraction > 0:
        shared[2] = max(shared[2], min(2, counts[2]))
    own = [n - s for n, s in zip(counts, shared)]
    total = sum(shared) + k * sum(own)
    images, sources = sample_crops(np.random.default_rng([base.seed, 2024]), total, base.image_shape,
                                   base.crop_height_range, base.n_crop_scales)
    starts = np.cumsum([0] + shared + own * k)
    blocks = [slice(starts[i], starts[i + 1]) for i in range(len(starts) - 1)]  # shared tiers, then own per animal
    out = []
    for i in range(k):
        rows = np.concatenate([np.r_[blocks[t], blocks[3 + 3 * i + t]] for t in range(3)])
        animal = replace(base, seed=base.seed * 1000 + i + 1)
        population = simulate_population(animal)
        if i in different:
            population = _luminance(population, animal.seed)
        data = simulate_recording(animal, (images[rows], sources[rows]), population)
        data.attrs["name"] = f"simulated animal {i + 1} of {k} (study seed {base.seed})"
        data.attrs["study"] = {"animals": k, "animal": i, "shared_fraction": shared_fraction,
                               "feature_model": "luminance" if i in different else "gabor",
                               "shared_images_per_tier": dict(zip(("train", "validation", "test"), shared))}
        out.append(data)
    return out
