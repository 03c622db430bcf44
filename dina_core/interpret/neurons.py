"""Which neurons carry the match? Rankings, pruning curves and the smallest sufficient subset.

A ranking is an (n_neurons,) float array over the neurons the model sees (the run's
``neuron_indices`` columns of the recording), higher = more important; NaN means "no
score" and ranks last.

* ``attribution_importance``: mean |integrated gradients| of the true pair's similarity
  to each neuron, over the repeat-averaged pairs of a tier
  (``attribution.mean_neuron_importance``). On test pairs it is the least noisy (repeats
  average out trial noise); a pruning curve scored on the same test images is then
  mildly optimistic, so pass ``tier='validation'`` where the subset size must be honest;
* ``response_strength``: raw mean response on train trials (the mean *normalised*
  response is 0 for every neuron by construction, so it cannot rank);
* ``reliability``: oracle correlation on train/validation repeats, when there are any.

Pruning keeps k neurons (the rest set to their train mean) and re-scores retrieval
through a ``MaskedEvaluator``.
"""

from __future__ import annotations

import numpy as np

from ..data.format import DinaData
from ..data.reliability import reliability_without_test
from ..errors import DinaError
from ..evaluate.tasks import tier_task
from ..runs.prepare import PreparedData
from ..runs.run import Run
from .masked_eval import MaskedEvaluator


def model_columns(run: Run, data: DinaData) -> np.ndarray:
    """(n_model_neurons,) int64 columns of ``data.responses`` (and of neuron ground truth) the model sees."""
    indices = run.preprocessing.neuron_indices
    return np.arange(data.n_neurons, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)


def attribution_importance(run: Run, data: DinaData, *, tier: str = "test", batch_size: int = 64,
                           prepared: PreparedData | None = None) -> np.ndarray:
    """Mean |integrated-gradients attribution| of each neuron over the repeat-averaged pairs of ``tier``.

    Returns:
        (n_neurons,) float32 >= 0, in similarity units.
    """
    from .attribution import mean_neuron_importance  # imports captum: only needed here

    prepared = prepared if prepared is not None else run.prepare(data)
    task = tier_task(prepared, tier)
    return mean_neuron_importance(run.model, task.images, task.averaged(), batch_size)


def response_strength(run: Run, data: DinaData) -> np.ndarray:
    """(n_neurons,) float64 raw mean response over train trials, in ``data.attrs['response_unit']``."""
    return data.responses[data.tier_mask("train")][:, model_columns(run, data)].mean(axis=0, dtype=np.float64)


def reliability(run: Run, data: DinaData) -> tuple[np.ndarray, str | None]:
    """Oracle correlation per neuron on train/validation repeats (never test).

    Returns:
        (n_neurons,) float64 (NaN where not computable) and None, or all-NaN and the reason
        (e.g. Sensorium recordings repeat only test images).
    """
    try:
        return reliability_without_test(data)[model_columns(run, data)], None
    except DinaError as exc:
        return np.full(len(model_columns(run, data)), np.nan), str(exc)


def order(ranking: np.ndarray) -> np.ndarray:
    """(n,) int64 neuron indices from most to least important; NaN last, ties by index."""
    ranking = np.asarray(ranking, dtype=np.float64)
    return np.argsort(-np.nan_to_num(ranking, nan=-np.inf), kind="stable")


def default_ks(n_neurons: int) -> list[int]:
    """Subset sizes 1, 2, 5, 10, 20, 50, ... below ``n_neurons``, then ``n_neurons`` itself."""
    steps = [m * 10 ** e for e in range(int(np.log10(max(n_neurons, 1))) + 1) for m in (1, 2, 5)]
    return [k for k in steps if k < n_neurons] + [int(n_neurons)]


def _keep_masks(orders: np.ndarray, ks: list[int], n: int) -> np.ndarray:
    """(len(orders) * len(ks), n) float32: for each order, keep its first k neurons for each k."""
    masks = np.zeros((len(orders), len(ks), n), dtype=np.float32)
    for j, k in enumerate(ks):
        np.put_along_axis(masks[:, j], orders[:, :k], 1.0, axis=1)
    return masks.reshape(-1, n)


def pruning_curve(evaluator: MaskedEvaluator, ranking: np.ndarray, ks: list[int], *, keep: str = "top"
                  ) -> list[dict]:
    """Top-1 when only the ``k`` highest (``keep='top'``) or lowest (``'bottom'``) ranked neurons are kept.

    Returns:
        [{'k', 'top1'}] in the order of ``ks``.
    """
    if keep not in ("top", "bottom"):
        raise ValueError(f"keep must be 'top' or 'bottom', got {keep!r}")
    ranked = order(ranking)
    ranked = ranked if keep == "top" else ranked[::-1]
    top1 = evaluator.top1(_keep_masks(ranked[None], ks, evaluator.n_neurons))
    return [{"k": int(k), "top1": float(t)} for k, t in zip(ks, top1)]


def random_pruning_curve(evaluator: MaskedEvaluator, ks: list[int], *, n_draws: int = 20, seed: int = 0
                         ) -> list[dict]:
    """Top-1 with ``k`` neurons drawn at random (``n_draws`` draws per k, one batch of masks).

    Returns:
        [{'k', 'top1' (mean over draws), 'top1_std' (sd over draws)}] in the order of ``ks``.
    """
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((n_draws, evaluator.n_neurons)), axis=1)
    top1 = evaluator.top1(_keep_masks(orders, ks, evaluator.n_neurons)).reshape(n_draws, len(ks))
    return [{"k": int(k), "top1": float(top1[:, j].mean()), "top1_std": float(top1[:, j].std())}
            for j, k in enumerate(ks)]


def smallest_subset(curve: list[dict], full_top1: float, fraction: float = 0.9) -> int | None:
    """Smallest ``k`` of a pruning curve whose top-1 reaches ``fraction`` x ``full_top1``; None if none does."""
    reached = [row["k"] for row in curve if row["top1"] >= fraction * full_top1]
    return min(reached) if reached else None


def strong_responder_auc(importance: np.ndarray, strong_flags: np.ndarray) -> float:
    """ROC AUC of ``importance`` as a detector of the simulator's strong responders.

    0.5: the ranking ignores response strength; 1: every strong responder outranks every
    weak neuron. NaN scores are left out; NaN when only one class remains.
    """
    from sklearn.metrics import roc_auc_score  # scikit-learn is slow to import: only this needs it

    importance, flags = np.asarray(importance, dtype=np.float64), np.asarray(strong_flags, dtype=bool)
    ok = np.isfinite(importance)
    if len(np.unique(flags[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(flags[ok], importance[ok]))
