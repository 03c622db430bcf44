"""Assemble a simulated recording into a :class:`~dina_core.data.format.DinaData`."""

from __future__ import annotations

import numpy as np

from dina_core.data.fingerprint import SIMULATOR_SOURCE_PREFIX
from dina_core.data.format import DinaData
from dina_core.limits import check_memory
from dina_core.simulate.config import SimConfig
from dina_core.simulate.images import sample_crops
from dina_core.simulate.population import Population, make_population
from dina_core.simulate.trials import (BEHAVIOR_COLUMNS, behavior, group_gains, noisy_responses,
                                       schedule, trial_gains)

SIMULATOR_VERSION = "1.0"  # bump when the same config would give different data


def _attrs(config: SimConfig) -> dict:
    return {
        "name": f"DINA simulated V1 recording (seed {config.seed})",
        "source": f"{SIMULATOR_SOURCE_PREFIX}{SIMULATOR_VERSION} (seed {config.seed})",
        "citation": ("Simulated data (no animal was recorded): DINA simulator, "
                     "dina_core.simulate. Stimuli are crops of photographs bundled with "
                     "scikit-image: van der Walt et al. (2014), scikit-image: image processing "
                     "in Python, PeerJ 2:e453."),
        "license": "CC0 for simulated responses; images: see /stimuli/source",
        "response_unit": "simulated deconvolved events (a.u.)",
        "simulator_config": config.to_dict(),  # written as JSON, read back as a dict
    }


def _ground_truth(population: Population, mean_response: np.ndarray,
                  trial_gain: np.ndarray) -> dict[str, np.ndarray]:
    p = population
    return {
        "rf_masks": p.rf_masks,
        "rf_centers": p.rf_centers,
        "rf_sigma": p.rf_sigma,
        "orientation": p.orientation,
        "spatial_frequency": p.spatial_frequency,
        "phase": p.phase,
        "cell_type": np.where(p.is_complex, "complex", "simple"),
        "strong_responder": p.strong_responder,
        "interaction_group": p.interaction_group,
        "gain": p.gain,
        "mean_response": mean_response,
        "trial_gain": trial_gain,
    }


def _streams(config: SimConfig) -> list[np.random.SeedSequence]:
    """Independent seeds for stimuli, population, session and noise, all from ``config.seed``."""
    return np.random.SeedSequence(config.seed).spawn(4)


def simulate_population(config: SimConfig) -> Population:
    """The population of ``simulate_recording(config)``, without simulating a session."""
    return make_population(config, np.random.default_rng(_streams(config)[1]))


def simulate_recording(config: SimConfig, stimuli: tuple[np.ndarray, np.ndarray] | None = None,
                       population: Population | None = None) -> DinaData:
    """Simulate a whole V1 recording with its ground truth; deterministic in ``config``.

    Args:
        config: sizes, tuning, noise and seed (see :class:`SimConfig`).
        stimuli: (images (config.n_images, H, W) 0..255, their sources) to show instead of drawing them (several
            animals shown one image set, ``simulate.animals``); train first, then validation, then test.
        population: the neurons instead of ``simulate_population(config)`` (an animal of another feature model).

    Returns:
        DinaData with images (n_images, H, W) float32 0..255; responses (n_trials,
        n_neurons) float32 events; per-trial behaviour; neurons' ids, cortical positions
        and area; and ``ground_truth`` as documented in :mod:`dina_core.simulate`.

    Raises:
        DinaError: the simulation would need more memory than is free (``SimConfig.simulation_bytes``).
    """
    check_memory(config.simulation_bytes(), f"simulation (n_neurons {config.n_neurons:,}, {config.n_trials:,} trials "
                 f"of {config.n_images:,} images, image_shape {config.image_shape[0]} x {config.image_shape[1]})",
                 "fewer neurons, images or test repeats")
    stim_seed, _, session_seed, noise_seed = _streams(config)
    if stimuli is None:
        images, sources = sample_crops(np.random.default_rng(stim_seed), config.n_images, config.image_shape,
                                       config.crop_height_range, config.n_crop_scales)
    else:
        images, sources = stimuli
        if images.shape != (config.n_images, *config.image_shape):
            raise ValueError(f"stimuli of shape {images.shape}, expected {(config.n_images, *config.image_shape)}")
    population = population or simulate_population(config)
    mean_response = population.expected_responses(images)

    session = np.random.default_rng(session_seed)
    image_index, tiers = schedule(session, config.n_train_images, config.n_validation_images,
                                  config.n_test_images, config.n_test_repeats)
    arousal, behaviour = behavior(session, len(image_index))
    trial_gain = trial_gains(session, arousal, config.shared_gain_sd, config.gain_behavior_corr)

    noise = np.random.default_rng(noise_seed)
    rate = mean_response[image_index] * trial_gain[:, None]
    rate *= group_gains(noise, len(image_index), population.interaction_group, config.group_noise_sd)
    responses = noisy_responses(noise, rate, config.fano_factor)

    return DinaData(
        images=images, responses=responses, image_index=image_index, tiers=tiers,
        attrs=_attrs(config), image_source=sources,
        neurons={"ids": np.arange(config.n_neurons, dtype=np.int64),
                 "positions_um": population.positions_um,
                 "area": np.full(config.n_neurons, "V1")},
        behavior=behaviour, behavior_columns=list(BEHAVIOR_COLUMNS),
        ground_truth=_ground_truth(population, mean_response, trial_gain))
