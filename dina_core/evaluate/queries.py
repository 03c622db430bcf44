"""N-way retrieval tasks built honestly from a test tier.

The candidates of every task are the N distinct test images (or one response per image),
so chance is always 1/N. Test images repeat unevenly (about 10 times in Sensorium
recordings, some only once); repeats are handled without Python loops over images.
Confidence intervals resample images, the independent unit, not trials.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dina_core.evaluate.retrieval import score_ranks, target_ranks

Encoder = Callable[[np.ndarray], "np.ndarray | torch.Tensor"]


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


def _encode(encoder: Encoder, inputs: np.ndarray, batch_size: int) -> torch.Tensor:
    """Run ``encoder`` over ``inputs`` in batches; (n, D) float32 CPU tensor."""
    parts = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            out = torch.as_tensor(encoder(inputs[i : i + batch_size])).detach()
            parts.append(out.to("cpu", torch.float32).reshape(out.shape[0], -1))
    return torch.cat(parts)


def evaluate_retrieval(
    encode_responses: Encoder,
    encode_images: Encoder,
    responses: np.ndarray,
    images: np.ndarray,
    image_index: np.ndarray,
    *,
    seed: int = 0,
    batch_size: int = 1024,
    chunk_size: int = 4096,
) -> list[dict]:
    """Image <-> response retrieval on a test tier, for any dot-product model.

    Args:
        encode_responses: maps (n, n_neurons) responses to (n, D) embeddings.
        encode_images: maps (n, ...) images to (n, D) embeddings; a pair's score is the
            dot product of the two embeddings.
        responses: (T, n_neurons) float, the test trials.
        images: (n_images, ...) stimuli that ``image_index`` indexes; only the images
            shown on test trials become candidates.
        image_index: (T,) int, stimulus row shown on each test trial.
        seed: seed of :func:`repeat_sets` offsets and of the bootstrap.
        batch_size: inputs per encoder call.
        chunk_size: block size of :func:`target_ranks`.

    Returns:
        Four dicts, each with keys ``direction`` ("neural_to_image" | "image_to_neural"),
        ``responses`` ("single_trial" | "averaged") and those of
        :meth:`RetrievalScores.to_dict`, in this order: each trial vs the N images; each
        averaged response vs the N images; each image vs the N averaged responses; each
        image vs the N trials of each :func:`repeat_sets` set, ranks pooled over sets.
    """
    candidates, trial_target = unique_targets(image_index)
    n = len(candidates)
    image_emb = _encode(encode_images, np.asarray(images)[candidates], batch_size)
    trial_emb = _encode(encode_responses, np.asarray(responses), batch_size)
    mean_emb = _encode(encode_responses, average_by_image(responses, image_index), batch_size)
    sets = repeat_sets(image_index, seed=seed)
    diagonal = np.arange(n)

    def rank(q: torch.Tensor, c: torch.Tensor, t: np.ndarray) -> np.ndarray:
        return target_ranks(q, c, t, chunk_size=chunk_size)

    single_i2n = np.concatenate([rank(image_emb, trial_emb[s], diagonal) for s in sets])
    tasks = [
        ("neural_to_image", "single_trial", rank(trial_emb, image_emb, trial_target), trial_target),
        ("neural_to_image", "averaged", rank(mean_emb, image_emb, diagonal), None),
        ("image_to_neural", "averaged", rank(image_emb, mean_emb, diagonal), None),
        ("image_to_neural", "single_trial", single_i2n, np.tile(diagonal, len(sets))),
    ]
    return [
        {"direction": d, "responses": r, **score_ranks(ranks, n, seed=seed, groups=g).to_dict()}
        for d, r, ranks, g in tasks
    ]
