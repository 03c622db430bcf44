"""A test tier's images and their repeats: candidate columns, repeat averages, repeat sets.

Test images repeat unevenly (about 10 times in Sensorium recordings, some only once); the
index arithmetic here handles repeats without Python loops over images. Every N-way task of
:mod:`dina_core.evaluate.tasks` is built on it.
"""

from __future__ import annotations

import numpy as np


def unique_targets(image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct test images and, for each trial, the column of its image.

    Args:
        image_index: (T,) int, stimulus row shown on each test trial.

    Returns:
        candidate_images: (N,) int64 sorted distinct stimulus rows.
        trial_target: (T,) int64 with ``candidate_images[trial_target] == image_index``.
    """
    image_index = np.asarray(image_index)
    if image_index.ndim != 1 or image_index.size == 0:
        raise ValueError(f"image_index must be a non-empty 1-D array, got shape {image_index.shape}")
    candidates, inverse = np.unique(image_index, return_inverse=True)
    return candidates.astype(np.int64), inverse.ravel().astype(np.int64)


def _grouped_trials(image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials sorted by image (trial order kept within an image), group starts and counts."""
    _, target = unique_targets(image_index)
    order = np.argsort(target, kind="stable")
    counts = np.bincount(target)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, counts


def average_by_image(responses: np.ndarray, image_index: np.ndarray) -> np.ndarray:
    """Repeat-averaged responses, one row per distinct image.

    Args:
        responses: (T, n_neurons) float, one row per test trial.
        image_index: (T,) int, stimulus row shown on each trial.

    Returns:
        (N, n_neurons) mean response to each image, rows in :func:`unique_targets` order;
        float32 for float32 input (accumulated in float64).
    """
    responses = np.asarray(responses)
    if responses.ndim != 2 or len(responses) != len(image_index):
        raise ValueError(f"responses must be (T={len(image_index)}, n_neurons), got {responses.shape}")
    order, starts, counts = _grouped_trials(image_index)
    sums = np.add.reduceat(responses[order].astype(np.float64), starts, axis=0)
    return (sums / counts[:, None]).astype(np.result_type(responses.dtype, np.float32))


def repeat_sets(image_index: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sets of single trials holding exactly one trial of every test image.

    Set ``r`` holds the ``r``-th repeat (in trial order) of each image. There are as many
    sets as the largest repeat count; an image with fewer repeats ``n_j`` cycles through
    its trials, starting at a random offset (drawn from ``seed``) so that reused trials
    are not always its first presentations. Ranking an image among the N trials of one
    set is thus an N-way task with chance 1/N, like every other task here.

    Args:
        image_index: (T,) int, stimulus row shown on each test trial.
        seed: seed of the per-image offsets.

    Returns:
        (n_sets, N) int64 trial indices; column ``j`` shows image ``candidate_images[j]``.
    """
    order, starts, counts = _grouped_trials(image_index)
    offsets = np.random.default_rng(seed).integers(0, counts)
    offsets[counts == counts.max()] = 0  # fully repeated images use each trial once, in order
    repeat = (np.arange(counts.max())[:, None] + offsets[None, :]) % counts[None, :]
    return order[starts[None, :] + repeat].astype(np.int64)
