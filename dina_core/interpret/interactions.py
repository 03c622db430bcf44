"""How do the most important neurons act together? Pair ablations, correlations, map reconstruction.

* ``ablation_synergy``: for each pair among m chosen neurons, the retrieval drop when both
  are masked minus the two single-neuron drops (all masks in one evaluator batch);
* ``signal_noise_correlations``: the classic pair statistics of the same neurons;
* ``reconstruction_r2``: how well the neural tower's predicted feature maps are rebuilt
  from the top-k neurons alone, as k grows.
"""

from __future__ import annotations

import numpy as np
import torch

from ..evaluate.repeats import average_by_image, unique_targets
from ..model import DinaModel
from ..model.inference import eval_mode
from .masked_eval import MaskedEvaluator
from .neurons import order

METRICS = ("top1", "margin")


def ablation_synergy(evaluator: MaskedEvaluator, neurons: np.ndarray, *, metric: str = "top1") -> np.ndarray:
    """Pairwise ablation interaction among ``neurons``.

    ``S[i, j] = drop({i, j}) - drop({i}) - drop({j})`` with ``drop(A)`` the loss of
    ``metric`` when the neurons in A are masked (set to their train mean) and all others kept.

    * S > 0: masking both costs more than the two separate costs: the neurons back each
      other up (redundant: either one suffices for part of the match);
    * S < 0: masking both costs less than the sum: they carry a shared contribution that
      either one's loss already removes;
    * S = 0 on the diagonal by convention (a neuron paired with itself is no interaction).

    Args:
        evaluator: retrieval under neuron masks.
        neurons: (m,) int distinct neuron indices, e.g. the top-m of a ranking.
        metric: 'top1' (accuracy, steps of 1/Q) or 'margin' (continuous; see ``MaskedEvaluator.margin``).

    Returns:
        (m, m) float64 symmetric matrix, rows/columns in the order of ``neurons``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    neurons = np.asarray(neurons, dtype=np.int64)
    m, n = len(neurons), evaluator.n_neurons
    if len(np.unique(neurons)) != m:
        raise ValueError("neurons must be distinct")
    rows, cols = np.triu_indices(m, k=1)
    masks = np.ones((1 + m + len(rows), n), dtype=np.float32)
    masks[1 + np.arange(m), neurons] = 0.0
    masks[1 + m + np.arange(len(rows)), neurons[rows]] = 0.0
    masks[1 + m + np.arange(len(rows)), neurons[cols]] = 0.0
    values = np.asarray(getattr(evaluator, metric)(masks), dtype=np.float64)
    drop = values[0] - values[1:]
    single, pair = drop[:m], drop[m:]
    synergy = np.zeros((m, m))
    synergy[rows, cols] = pair - single[rows] - single[cols]
    return synergy + synergy.T


def _correlation_matrix(x: np.ndarray) -> np.ndarray:
    """(samples, m) -> (m, m) Pearson correlations; NaN rows/columns for constant variables."""
    x = x - x.mean(axis=0)
    norms = np.sqrt((x * x).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(norms > 0, x / norms, np.nan)
    return np.clip(z.T @ z, -1.0, 1.0)


def signal_noise_correlations(responses: np.ndarray, image_index: np.ndarray, neurons: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Signal and noise correlations of ``neurons`` on a set of trials with repeated images.

    Signal correlation: Pearson correlation across images of repeat-averaged responses
    (which still hold a 1/repeats share of the noise, the usual uncorrected estimate).
    Noise correlation: Pearson correlation, across trials, of each trial's deviation from
    its image's mean response; only images shown at least twice contribute.

    Args:
        responses: (T, n_neurons) responses (any unit; correlations ignore per-neuron scale).
        image_index: (T,) int image shown on each trial.
        neurons: (m,) int columns of ``responses``.

    Returns:
        signal, noise: (m, m) float64 with ones on the diagonal; NaN for a neuron that does not vary.
    """
    x = np.asarray(responses, dtype=np.float64)[:, np.asarray(neurons, dtype=np.int64)]
    image_index = np.asarray(image_index)
    means = average_by_image(x, image_index)
    _, target = unique_targets(image_index)
    repeated = np.bincount(target)[target] >= 2
    residuals = (x - means[target])[repeated]
    if len(means) < 2 or len(residuals) < 2:
        raise ValueError("need at least two images, and repeated ones for noise correlations")
    return _correlation_matrix(means), _correlation_matrix(residuals)


@torch.no_grad()
def reconstruction_r2(model: DinaModel, responses: torch.Tensor, ranking: np.ndarray, ks: list[int]) -> list[dict]:
    """R^2 of the neural tower's predicted feature maps rebuilt from the top-k neurons only.

    For each aligned stage, ``R^2 = 1 - sum (P_k - P)^2 / sum (P - mean_images P)^2`` over
    images, channels and locations, with P the maps predicted from all neurons and P_k
    from the k best-ranked neurons (the others at their train mean). 1: the subset predicts
    the same maps; 0: no better than the mean map; negative: worse.

    Args:
        model: a DINA model.
        responses: (N, n_neurons) normalised responses, e.g. repeat-averaged test responses.
        ranking: (n_neurons,) importance, higher first (see ``neurons.order``).
        ks: subset sizes.

    Returns:
        [{'k', 'r2' (mean over stages), 'stages': {stage: r2}}] in the order of ``ks``.
    """
    if not isinstance(model, DinaModel):
        raise TypeError(f"reconstruction needs a DinaModel's predicted maps, not {type(model).__name__}")
    device = next(model.parameters()).device
    responses = responses.to(device)
    ranked = torch.as_tensor(order(ranking), device=device)
    with eval_mode(model):
        full = {s: p.double() for s, p in model.response_latent_maps(responses)[1].items()}
        total = {s: ((p - p.mean(dim=0)) ** 2).sum() for s, p in full.items()}
        rows = []
        for k in ks:
            mask = torch.zeros(model.n_neurons, device=device)
            mask[ranked[:k]] = 1.0
            predicted = model.response_latent_maps(responses, mask)[1]
            stages = {s: float(1.0 - ((predicted[s].double() - full[s]) ** 2).sum() / total[s]) for s in full}
            rows.append({"k": int(k), "r2": float(np.mean(list(stages.values()))), "stages": stages})
    return rows
