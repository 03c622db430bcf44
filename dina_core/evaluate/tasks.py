"""Every N-way retrieval task DINA scores, built from a tier in this one place.

The candidates of every task are the N distinct images shown on the tier's trials (or one
response per image), so chance is always 1/N. Two directions and two kinds of response
make the four ``TASKS``. Confidence intervals resample images, the independent unit, not
trials.

* ``unique_targets``, ``average_by_image``, ``repeat_sets``: the tasks' index arithmetic, in
  :mod:`dina_core.evaluate.repeats`.
* :class:`TierTask` (``tier_task`` for a prepared recording): trials, candidates, targets,
  single-trial and averaged responses, and the neural -> image queries of one tier.
* :class:`TierEmbeddings` (``TierTask.embed``): the ranks of any of the four tasks.
* ``evaluate_retrieval`` / ``score_tasks``: the four tasks scored, for any dot-product model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import warnings

import numpy as np
import torch

from ..errors import DinaError, DinaWarning
from ..runs.prepare import PreparedData
from .repeats import average_by_image, repeat_sets, unique_targets
from .retrieval import score_ranks, target_ranks

Encoder = Callable[[np.ndarray], "np.ndarray | torch.Tensor"]
RESPONSE_MODES = ("averaged", "single_trial")
# (direction, responses) in the order evaluate_retrieval reports them.
TASKS = (("neural_to_image", "single_trial"), ("neural_to_image", "averaged"),
         ("image_to_neural", "averaged"), ("image_to_neural", "single_trial"))
MIN_CANDIDATES = 2  # with one candidate every query is "correct": a 100% that means nothing
FEW_CANDIDATES = 10  # below this an N-way score is flagged as coarse (each image moves it by >= 10 points)


def check_candidates(n: int, what: str = "the tier") -> None:
    """Refuse an N-way task with N < 2; warn (:class:`DinaWarning`) when N < :data:`FEW_CANDIDATES`.

    Raises:
        DinaError: ``what`` shows fewer than two distinct images.
    """
    if n < MIN_CANDIDATES:
        raise DinaError(f"{what} shows {n} distinct image(s): N-way retrieval needs N >= {MIN_CANDIDATES} "
                        f"(with N = 1 every query is trivially correct, a meaningless 100%); refused")
    if n < FEW_CANDIDATES:
        warnings.warn(f"{what} shows only {n} distinct images: its N-way scores (chance 1/{n}) are coarse",
                      DinaWarning, stacklevel=3)


def _encode(encoder: Encoder, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """Run ``encoder`` over ``inputs`` in batches; (n, D) float32."""
    parts = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            out = torch.as_tensor(encoder(inputs[i : i + batch_size])).detach()
            parts.append(out.to("cpu", torch.float32).reshape(out.shape[0], -1))
    return torch.cat(parts).numpy()


@dataclass(frozen=True, eq=False)
class TierEmbeddings:
    """A tier's embeddings, ready for any of the four ``TASKS``; a pair scores their dot product.

    Attributes:
        images: (N, D) float32 embeddings of the candidate images.
        trials: (T, D) float32 embeddings of the single-trial responses.
        averaged: (N, D) float32 embeddings of the repeat-averaged responses, row j for image j.
        image_index: (T,) int64 stimulus row shown on each trial.
        candidates: (N,) int64 sorted distinct stimulus rows.
        trial_target: (T,) int64 column of each trial's image among the candidates.
    """

    images: np.ndarray
    trials: np.ndarray
    averaged: np.ndarray
    image_index: np.ndarray
    candidates: np.ndarray
    trial_target: np.ndarray

    def ranks(self, direction: str, responses: str, *, seed: int = 0, chunk_size: int = 4096) -> np.ndarray:
        """0-based rank of the correct candidate for every query of one task (0 = top-1).

        neural -> image: each trial (or averaged response) against the N images. image ->
        neural: each image against the N averaged responses, or against the N trials of each
        :func:`repeat_sets` set (drawn from ``seed``), ranks concatenated over the sets.
        """
        if (direction, responses) not in TASKS:
            raise ValueError(f"unknown task {(direction, responses)!r}; expected one of {TASKS}")
        diagonal = np.arange(len(self.candidates))

        def rank(q: np.ndarray, c: np.ndarray, t: np.ndarray) -> np.ndarray:
            return target_ranks(q, c, t, chunk_size=chunk_size)

        if direction == "neural_to_image":
            if responses == "averaged":
                return rank(self.averaged, self.images, diagonal)
            return rank(self.trials, self.images, self.trial_target)
        if responses == "averaged":
            return rank(self.images, self.averaged, diagonal)
        sets = repeat_sets(self.image_index, seed=seed)
        return np.concatenate([rank(self.images, self.trials[s], diagonal) for s in sets])

    def groups(self, direction: str, responses: str) -> np.ndarray | None:
        """(Q,) image column of each query of :meth:`ranks` for a clustered bootstrap; None when one query per image."""
        if responses == "averaged":
            return None
        if direction == "neural_to_image":
            return self.trial_target
        return np.tile(np.arange(len(self.candidates)), np.bincount(self.trial_target).max())


@dataclass(frozen=True, eq=False)
class TierTask:
    """One tier as N-way retrieval tasks; tensors on the device of the data they come from.

    Attributes:
        trials: (T,) int64 trial numbers of the tier.
        image_index: (T,) int64 stimulus row shown on each trial.
        candidates: (N,) int64 sorted distinct stimulus rows, the images of every task.
        trial_target: (T,) int64 column of each trial's image among ``candidates``.
        images: (N, ...) candidate images (``(N, 1, H, W)`` float32 normalised from ``tier_task``).
        responses: (T, n_neurons) single-trial responses (float32 normalised from ``tier_task``).
    """

    trials: np.ndarray
    image_index: np.ndarray
    candidates: np.ndarray
    trial_target: np.ndarray
    images: torch.Tensor
    responses: torch.Tensor

    @classmethod
    def from_arrays(cls, responses: np.ndarray | torch.Tensor, images: np.ndarray | torch.Tensor,
                    image_index: np.ndarray, trials: np.ndarray | None = None, what: str = "the test tier") -> TierTask:
        """The task of (T, n_neurons) ``responses`` to ``images[image_index]``, from all (n_images, ...) stimuli.

        Raises:
            DinaError: fewer than two distinct images (:func:`check_candidates`; ``what`` names the tier).
        """
        image_index = np.asarray(image_index)
        candidates, trial_target = unique_targets(image_index)
        check_candidates(len(candidates), what)
        images = torch.as_tensor(images)
        return cls(np.arange(len(image_index)) if trials is None else np.asarray(trials), image_index, candidates,
                   trial_target, images[torch.as_tensor(candidates, device=images.device)], torch.as_tensor(responses))

    def averaged(self) -> torch.Tensor:
        """(N, n_neurons) repeat-averaged responses, row j for image ``candidates[j]``."""
        averaged = average_by_image(self.responses.cpu().numpy(), self.image_index)
        return torch.from_numpy(averaged).to(self.responses.device)

    def queries(self, responses: str = "averaged") -> tuple[torch.Tensor, np.ndarray]:
        """The neural -> image task's queries: (Q, n_neurons) responses and (Q,) int64 target columns.

        Args:
            responses: 'averaged' (Q = N, one per image) or 'single_trial' (Q = T, one per trial).
        """
        if responses not in RESPONSE_MODES:
            raise ValueError(f"responses must be one of {RESPONSE_MODES}, got {responses!r}")
        if responses == "single_trial":
            return self.responses, self.trial_target
        return self.averaged(), np.arange(len(self.candidates))

    def embed(self, encode_responses: Encoder, encode_images: Encoder, batch_size: int = 1024) -> TierEmbeddings:
        """Encode images, trials and averaged responses (in that order) on CPU numpy batches of ``batch_size``."""
        responses = self.responses.cpu().numpy()
        return TierEmbeddings(_encode(encode_images, self.images.cpu().numpy(), batch_size),
                              _encode(encode_responses, responses, batch_size),
                              _encode(encode_responses, average_by_image(responses, self.image_index), batch_size),
                              self.image_index, self.candidates, self.trial_target)


def tier_task(prepared: PreparedData, tier: str = "test") -> TierTask:
    """The N-way task of one tier of a normalised recording ('test', or 'validation' to leave test untouched)."""
    trials = np.asarray(prepared.tier_trials[tier])
    if len(trials) == 0:
        raise ValueError(f"the {tier!r} tier has no trials")
    image_index = prepared.image_index[torch.as_tensor(trials, device=prepared.image_index.device)].cpu().numpy()
    responses = prepared.responses[torch.as_tensor(trials, device=prepared.responses.device)]
    return TierTask.from_arrays(responses, prepared.images, image_index, trials, what=f"the {tier!r} tier")


def score_tasks(embeddings: TierEmbeddings, *, seed: int = 0, chunk_size: int = 4096) -> list[dict]:
    """The four ``TASKS`` scored: dicts with ``direction``, ``responses`` and :meth:`RetrievalScores.to_dict`'s keys."""
    n = len(embeddings.candidates)
    return [{"direction": d, "responses": r,
             **score_ranks(embeddings.ranks(d, r, seed=seed, chunk_size=chunk_size), n, seed=seed,
                           groups=embeddings.groups(d, r)).to_dict()} for d, r in TASKS]


def evaluate_retrieval(encode_responses: Encoder, encode_images: Encoder, responses: np.ndarray, images: np.ndarray,
                       image_index: np.ndarray, *, seed: int = 0, batch_size: int = 1024,
                       chunk_size: int = 4096) -> list[dict]:
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
        Four dicts (see :func:`score_tasks`), in ``TASKS`` order: each trial vs the N images;
        each averaged response vs the N images; each image vs the N averaged responses; each
        image vs the N trials of each :func:`repeat_sets` set, ranks pooled over sets.
    """
    embeddings = TierTask.from_arrays(responses, images, image_index).embed(encode_responses, encode_images,
                                                                            batch_size)
    return score_tasks(embeddings, seed=seed, chunk_size=chunk_size)
