"""The session: trial order, behaviour, shared gain fluctuations and response noise."""

from __future__ import annotations

import numpy as np

BEHAVIOR_COLUMNS = ["pupil", "dpupil", "running"]


def schedule(rng: np.random.Generator, n_train: int, n_validation: int, n_test: int,
             n_repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Trial order of a session: train and validation images once, test images repeated.

    Images are numbered train first, then validation, then test. Trials are shuffled, so
    test repeats are interleaved with everything else as in a real session.

    Returns:
        image_index: (n_trials,) int64 image row shown on each trial, in session order.
        tiers: (n_trials,) str tier of each trial.
    """
    counts = (n_train, n_validation, n_test)
    image_index = np.concatenate([np.arange(n_train + n_validation),
                                  np.repeat(np.arange(n_test) + n_train + n_validation, n_repeats)])
    tier_of_image = np.repeat(np.array(["train", "validation", "test"]), counts)
    order = rng.permutation(len(image_index))
    return image_index[order].astype(np.int64), tier_of_image[image_index[order]]


def _recursive(drive: np.ndarray, keep: float) -> np.ndarray:
    """``y[t] = keep * y[t-1] + drive[t]`` (a loop: scipy.signal is slow to import)."""
    out = np.empty_like(drive)
    state = 0.0
    for t, value in enumerate(drive):
        state = keep * state + value
        out[t] = state
    return out


def _ar1(rng: np.random.Generator, n: int, keep: float) -> np.ndarray:
    """(n,) stationary AR(1) process with unit variance; ``keep`` is the lag-1 correlation."""
    innovations = rng.normal(size=n) * np.sqrt(1.0 - keep ** 2)
    innovations[0] = rng.normal()
    return _recursive(innovations, keep)


def behavior(rng: np.random.Generator, n_trials: int) -> tuple[np.ndarray, np.ndarray]:
    """Slow arousal state and the behaviour it drives, in session (trial) order.

    Returns:
        arousal: (n_trials,) float64, unit-variance latent state (ground truth).
        behavior: (n_trials, 3) float32 columns ``BEHAVIOR_COLUMNS``: pupil diameter (a.u.),
            its trial-to-trial change, running speed (cm/s, >= 0, in bouts).
    """
    arousal = _ar1(rng, n_trials, keep=0.97)
    running = np.maximum(0.0, 12.0 * (arousal - 0.4) + rng.normal(0.0, 1.0, n_trials))
    slow = _recursive(0.3 * arousal, 0.7)  # the pupil follows arousal with a lag
    pupil = 20.0 + 5.0 * slow + rng.normal(0.0, 0.3, n_trials)
    dpupil = np.diff(pupil, prepend=pupil[0])
    return arousal, np.column_stack([pupil, dpupil, running]).astype(np.float32)


def trial_gains(rng: np.random.Generator, arousal: np.ndarray, sd: float, corr: float) -> np.ndarray:
    """(n_trials,) float32 log-normal shared gain, mean 1, log-correlated ``corr`` with arousal."""
    log_gain = sd * (corr * arousal + np.sqrt(1.0 - corr ** 2) * rng.normal(size=len(arousal)))
    return np.exp(log_gain - sd ** 2 / 2.0).astype(np.float32)


def group_gains(rng: np.random.Generator, n_trials: int, group: np.ndarray, sd: float) -> np.ndarray:
    """(n_trials, n_neurons) float32 log-normal gain shared within each interaction group.

    Neurons outside any group (``group == -1``) get 1: only members are noise-coupled.
    """
    n_groups = int(group.max()) + 1 if group.size else 0
    per_group = np.exp(sd * rng.normal(size=(n_trials, n_groups)) - sd ** 2 / 2.0)
    gains = np.ones((n_trials, len(group)), dtype=np.float32)
    gains[:, group >= 0] = per_group[:, group[group >= 0]]
    return gains


def noisy_responses(rng: np.random.Generator, rate: np.ndarray, fano: float) -> np.ndarray:
    """Gamma noise with mean ``rate`` and variance ``fano * rate``: non-negative and skewed.

    Args:
        rate: (n_trials, n_neurons) positive mean activity, events.
        fano: variance / mean.

    Returns:
        (n_trials, n_neurons) float32.
    """
    return rng.gamma(rate / fano, fano).astype(np.float32)
