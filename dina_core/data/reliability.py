"""How reliably each neuron answers the same image: the leave-one-out oracle correlation.

The estimate uses only images shown at least twice among the trials picked by ``mask``
and is vectorised over neurons. A neuron whose responses (or repeat means) do not vary
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
