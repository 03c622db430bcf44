"""A noise ceiling for retrieval: how well one response identifies another response to the same image.

No model is involved: the query is a response and the candidates are other responses, compared by
Pearson correlation across neurons, in the same N-way tasks with the same pessimistic tie rule as
every model (:func:`~dina_core.evaluate.retrieval.target_ranks`).

* **averaged**: each image's repeats are split at random into two halves; each half's average is
  ranked among the other halves' averages of the N images (both ways, ``n_splits`` random splits,
  ranks pooled).
* **single-trial**, neural -> image: each trial is ranked among the N images' averages, its own
  image's average leaving that trial out (the leave-one-out average of its image's other repeats).
* **single-trial**, image -> neural: the model's task ranks an image among the N single trials of a
  :func:`~dina_core.evaluate.repeats.repeat_sets` set; here the "image" is the leave-one-out average of
  its other repeats, ranked among the same sets' trials (ranks pooled over the sets).

The averaged task is symmetric (half against half), so both directions report the same split-half
ranks; the single-trial tasks differ as the models' do (a trial among averages, an average among trials).

It is a response-to-response bound: it says how distinguishable the images are *from the recorded
responses alone* with a simple correlation readout, not that no model can do better (a model
that learns which neurons to trust, or that averages noise differently, can exceed it). Images shown
only once cannot take part; they are left out and counted.
"""

from __future__ import annotations

import numpy as np
import torch

from ..runs.prepare import PreparedData
from .repeats import repeat_sets, unique_targets
from .retrieval import score_ranks, target_ranks
from .tasks import tier_task

CEILING = "ceiling"
_EPS32 = float(np.finfo(np.float32).eps)


def _pearson_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float64): their dot product is the Pearson correlation."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _repeated(responses: np.ndarray, image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials of images shown at least twice: (responses (T', n), target column (T',), counts (N',))."""
    _, target = unique_targets(image_index)
    counts = np.bincount(target)
    keep_images = counts >= 2
    if keep_images.sum() < 2:
        raise ValueError(f"a noise ceiling needs at least 2 test images shown at least twice; "
                         f"found {int(keep_images.sum())}")
    new_column = np.cumsum(keep_images) - 1
    keep = keep_images[target]
    return np.asarray(responses)[keep], new_column[target[keep]], counts[keep_images]


def single_trial_ranks(responses: np.ndarray, image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank of each trial's own image (leave-one-out average) among the N images' averages.

    Args:
        responses: (T, n_neurons) float test trials, normalised as the models see them.
        image_index: (T,) int stimulus row of each trial.

    Returns:
        ranks: (T',) int 0-based ranks (trials of images shown at least twice).
        target: (T',) int image column of each ranked trial (for the per-image bootstrap).
        n: the number of candidate images.
    """
    x, target, counts = _repeated(responses, image_index)
    n = len(counts)
    sums = np.zeros((n, x.shape[1]))
    np.add.at(sums, target, x.astype(np.float64))
    means = sums / counts[:, None]
    loo = (sums[target] - x) / (counts[target] - 1)[:, None]
    q, c, own = _pearson_rows(x), _pearson_rows(means), _pearson_rows(loo)
    scores = q @ c.T
    correct = np.einsum("ij,ij->i", q, own)
    scores[np.arange(len(q)), target] = -np.inf  # the own image is scored by its leave-one-out average
    slack = _EPS32 * np.linalg.norm(np.vstack([c, own]), axis=1).max() * np.linalg.norm(q, axis=1)
    ranks = (scores >= (correct - slack)[:, None]).sum(axis=1)
    return ranks.astype(np.int64), target, n


def image_to_trial_ranks(responses: np.ndarray, image_index: np.ndarray, *, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank of each image's own trial among the N trials of each repeat set, the image standing as the
    leave-one-out average of its other repeats.

    Returns:
        ranks: (n_sets * N,) int 0-based ranks, set by set; target: (same,) image column; n: N.
    """
    x, target, counts = _repeated(responses, image_index)
    n = len(counts)
    sums = np.zeros((n, x.shape[1]))
    np.add.at(sums, target, x.astype(np.float64))
    diagonal, all_ranks = np.arange(n), []
    for trials in repeat_sets(target, seed=seed):  # trials[j] shows image j
        loo = (sums - x[trials]) / (counts - 1)[:, None]
        all_ranks.append(target_ranks(_pearson_rows(loo), _pearson_rows(x[trials]), diagonal, dtype=torch.float64))
    return np.concatenate(all_ranks), np.tile(diagonal, len(all_ranks)), n


def averaged_ranks(responses: np.ndarray, image_index: np.ndarray, *, n_splits: int = 10,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Ranks of split-half averages among the other halves' averages, pooled over random splits.

    Returns:
        ranks: (2 * N * n_splits,) int 0-based ranks; target: (same,) image column; n: N.
    """
    x, target, counts = _repeated(responses, image_index)
    n, rng = len(counts), np.random.default_rng(seed)
    order = np.argsort(target, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    all_ranks, all_targets = [], []
    for _ in range(n_splits):
        # Each image's repeats in a random order; the first floor(n_j / 2) form half A.
        position = np.empty(len(x), dtype=np.int64)
        for j in range(n):
            position[order[starts[j]: starts[j] + counts[j]]] = rng.permutation(counts[j])
        in_a = position < (counts[target] // 2)
        halves = []
        for mask in (in_a, ~in_a):
            sums = np.zeros((n, x.shape[1]))
            np.add.at(sums, target[mask], x[mask].astype(np.float64))
            halves.append(sums / np.bincount(target[mask], minlength=n)[:, None])
        a, b = (_pearson_rows(h) for h in halves)
        diagonal = np.arange(n)
        all_ranks += [target_ranks(a, b, diagonal, dtype=torch.float64),
                      target_ranks(b, a, diagonal, dtype=torch.float64)]
        all_targets += [diagonal, diagonal]
    return np.concatenate(all_ranks), np.concatenate(all_targets), n


def noise_ceiling(responses: np.ndarray, image_index: np.ndarray, *, seed: int = 0,
                  n_splits: int = 10) -> list[dict]:
    """The ceiling rows of a test tier: ``{'model': 'ceiling', 'direction', 'responses', ...scores}``.

    Four rows, one per task of the models (see the module docstring); both averaged rows hold the
    same (symmetric) split-half scores.

    Args:
        responses: (T, n_neurons) float test trials, normalised as the models see them.
        image_index: (T,) int stimulus row of each trial.
        seed: seed of the half splits and of the bootstrap.
        n_splits: random half splits pooled for the averaged ceiling.
    """
    rows = []
    for (direction, kind), (ranks, target, n) in ceiling_ranks(responses, image_index, seed=seed,
                                                               n_splits=n_splits).items():
        scores = score_ranks(ranks, n, seed=seed, groups=target).to_dict()
        rows.append({"model": CEILING, "direction": direction, "responses": kind, **scores})
    return rows


def ceiling_ranks(responses: np.ndarray, image_index: np.ndarray, *, seed: int = 0, n_splits: int = 10
                  ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, int]]:
    """{(direction, responses): (ranks, image column of each rank, N)} of the four ceiling tasks (top-k curves)."""
    averaged = averaged_ranks(responses, image_index, n_splits=n_splits, seed=seed)
    return {("neural_to_image", "averaged"): averaged,
            ("neural_to_image", "single_trial"): single_trial_ranks(responses, image_index),
            ("image_to_neural", "averaged"): averaged,
            ("image_to_neural", "single_trial"): image_to_trial_ranks(responses, image_index, seed=seed)}


def tier_ceiling(prepared: PreparedData, tier: str = "test", *, seed: int = 0) -> list[dict]:
    """:func:`noise_ceiling` of a prepared tier's responses (normalised as the models see them).

    Raises:
        ValueError: fewer than 2 of the tier's images are shown at least twice (no ceiling exists).
    """
    task = tier_task(prepared, tier)
    return noise_ceiling(task.responses.cpu().numpy(), task.image_index, seed=seed)


def add_fraction_of_ceiling(rows: list[dict], ceiling: list[dict]) -> list[dict]:
    """Each row with ``fraction_of_ceiling``: its top-1 over the ceiling's top-1 in the same task.

    None where the task has no ceiling (no repeats) or the ceiling's top-1 is 0.
    """
    bound = {(c["direction"], c["responses"]): c["top1"] for c in ceiling}
    out = []
    for row in rows:
        top = bound.get((row["direction"], row["responses"]))
        out.append({**row, "fraction_of_ceiling": row["top1"] / top if top else None})
    return out
