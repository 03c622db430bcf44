"""How reliably each neuron answers the same image: oracle and split-half estimates.

Both estimates use only images shown at least twice among the trials picked by ``mask``
and are vectorised over neurons. A neuron whose responses (or repeat means) do not vary
gets NaN: its reliability cannot be computed, which is not the same as zero.

Neuron selection must never see test trials: ``reliability_without_test`` uses train and
validation repeats only and refuses, with an explanation, when there are none.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from dina_core.data.format import DinaData
from dina_core.errors import DinaError


def _repeated_trials(image_index: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masked trials whose image is shown >= 2 times among them, sorted by image.

    Returns:
        trials: (n,) int trial numbers; groups: (n,) int 0..n_groups-1, the image of each.
    """
    trials = np.flatnonzero(mask)
    _, groups, counts = np.unique(image_index[trials], return_inverse=True, return_counts=True)
    trials = trials[counts[groups] >= 2]
    _, groups = np.unique(image_index[trials], return_inverse=True)
    order = np.argsort(groups, kind="stable")
    return trials[order], groups.ravel()[order]


def _group_sums(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(n_groups, n_neurons) float64 sums of the rows of ``values`` per group."""
    n_groups = int(groups.max()) + 1 if groups.size else 0
    indicator = sparse.csr_matrix((np.ones(groups.size), (groups, np.arange(groups.size))),
                                  shape=(n_groups, groups.size))
    return np.asarray(indicator @ values.astype(np.float64, copy=False))


def _pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of each column of ``a`` with the same column of ``b``; NaN if either
    column is constant or has fewer than 2 rows."""
    out = np.full(a.shape[1], np.nan)
    if a.shape[0] < 2:
        return out
    ok = (np.ptp(a, axis=0) > 0) & (np.ptp(b, axis=0) > 0)
    a, b = a[:, ok] - a[:, ok].mean(0), b[:, ok] - b[:, ok].mean(0)
    out[ok] = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
    return out


def oracle_correlation(responses: np.ndarray, image_index: np.ndarray,
                       mask: np.ndarray) -> np.ndarray:
    """Leave-one-out oracle correlation per neuron (as in Sensorium).

    For every masked trial whose image is repeated among the masked trials, the response
    is paired with the mean response to the *other* repeats of that image; the oracle is
    the correlation of these pairs across all such trials.

    Args:
        responses: (n_trials, n_neurons) responses, any unit.
        image_index: (n_trials,) int image shown on each trial.
        mask: (n_trials,) bool trials allowed in the estimate.

    Returns:
        (n_neurons,) float64 correlation in [-1, 1]; NaN where not computable.
    """
    trials, groups = _repeated_trials(image_index, mask)
    if trials.size == 0:
        return np.full(responses.shape[1], np.nan)
    values = responses[trials].astype(np.float64)
    counts = np.bincount(groups)[groups][:, None]
    others_mean = (_group_sums(values, groups)[groups] - values) / (counts - 1)
    return _pearson_columns(values, others_mean)


def split_halves(image_index: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Randomly split each repeated image's masked trials into two equal halves.

    An image with ``k`` repeats gives ``k // 2`` trials to each half (an odd one out is
    left unused), so both halves average the same number of repeats.

    Returns:
        half_a, half_b: (n_pairs,) int trial numbers; group: (n_pairs,) int image group
        (0..n_images_repeated-1) of each pair, identical for ``half_a[i]`` and ``half_b[i]``.
    """
    trials, groups = _repeated_trials(image_index, mask)
    order = np.lexsort((rng.random(trials.size), groups))  # shuffle within each image
    trials, groups = trials[order], groups[order]
    counts = np.bincount(groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rank = np.arange(trials.size) - starts[groups]
    half = (counts // 2)[groups]
    in_a, in_b = rank < half, (rank >= half) & (rank < 2 * half)
    return trials[in_a], trials[in_b], groups[in_a]


def split_half_reliability(responses: np.ndarray, image_index: np.ndarray, mask: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """Spearman-Brown corrected split-half reliability per neuron.

    Each repeated image's trials are split in two (``split_halves``); the per-image mean
    responses of the two halves are correlated across images (r) and corrected to the
    full number of repeats: 2 r / (1 + r).

    Args:
        responses: (n_trials, n_neurons) responses, any unit.
        image_index: (n_trials,) int image shown on each trial.
        mask: (n_trials,) bool trials allowed in the estimate.
        rng: random generator for the split.

    Returns:
        (n_neurons,) float64 reliability <= 1; NaN where not computable (fewer than two
        repeated images, or no variation across images).
    """
    half_a, half_b, group = split_halves(image_index, mask, rng)
    if group.size == 0:
        return np.full(responses.shape[1], np.nan)
    sizes = np.bincount(group)[:, None]
    mean_a = _group_sums(responses[half_a], group) / sizes
    mean_b = _group_sums(responses[half_b], group) / sizes
    r = _pearson_columns(mean_a, mean_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > -1, 2 * r / (1 + r), np.nan)


def reliability_without_test(data: DinaData) -> np.ndarray:
    """Oracle correlation per neuron from train and validation repeats only.

    Returns:
        (n_neurons,) float64; NaN for neurons whose reliability cannot be computed.

    Raises:
        DinaError: if no image is repeated outside the test tier.
    """
    mask = data.tiers != "test"
    if mask.sum() == 0 or np.bincount(data.image_index[mask]).max() < 2:
        raise DinaError(
            "Cannot estimate neuron reliability without the test tier: no image is shown "
            "more than once on train or validation trials (in Sensorium recordings only "
            "test images repeat). DINA never uses test trials to choose neurons, since that "
            "would leak test data into the model. Keep all neurons (no reliability "
            "threshold), or use a recording with repeated train/validation images.")
    return oracle_correlation(data.responses, data.image_index, mask)


def select_neurons(reliability: np.ndarray, threshold: float | None = None,
                   top_k: int | None = None) -> np.ndarray:
    """Indices of the neurons to keep, in increasing order.

    Args:
        reliability: (n_neurons,) reliability; NaN neurons are never kept.
        threshold: keep neurons with reliability >= threshold.
        top_k: then keep at most the ``top_k`` most reliable of those.

    Returns:
        (n_kept,) int64 neuron indices (all non-NaN neurons if both are None).

    Raises:
        DinaError: if no neuron is kept.
    """
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, not {top_k}")
    keep = np.isfinite(reliability)
    if threshold is not None:
        keep &= np.where(keep, reliability, -np.inf) >= threshold
    chosen = np.flatnonzero(keep)
    if top_k is not None and chosen.size > top_k:
        best = np.argsort(-reliability[chosen], kind="stable")[:top_k]
        chosen = np.sort(chosen[best])
    if chosen.size == 0:
        best = np.max(reliability[np.isfinite(reliability)], initial=-np.inf)
        raise DinaError(f"No neuron passes the selection (threshold={threshold}, top_k="
                        f"{top_k}): the best reliability is {best:.3f}. Lower the threshold.")
    return chosen.astype(np.int64)
