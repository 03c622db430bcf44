"""An epoch's batches when one model trains on several recordings: which recording's batch comes next.

Each step trains on a batch of one recording, so InfoNCE's negatives are that recording's other pairs (each
recording has its own neurons, noise and state: a pair from another animal would be a trivial negative). The rule,
for recordings with t_1 .. t_K train trials and batch size b:

* one epoch has S = sum_k ceil(t_k / b) steps (one pass over every recording, as a single recording's epoch);
* recording k takes n_k = max(1, round(S * t_k^alpha / sum_j t_j^alpha)) of them: ``alpha`` = 1 (the default) is
  exactly one pass over each recording (turns proportional to trials), ``alpha`` = 0 gives every recording equal
  turns (a small recording is then revisited within the epoch), values between trade the two;
* the turns are shuffled by a seeded permutation of the epoch, so recordings interleave;
* each recording walks seeded permutations of its own train trials, batch by batch as a single recording does,
  starting a fresh permutation when its turns outrun one pass.

With one recording this is exactly the single-recording loop's order (the permutation seeded ``seed + epoch``).
"""

from __future__ import annotations

import math

import torch

RECORDING_SEED = 104_729  # per-recording offset of the trial permutation's seed (recording 0: the single-run seed)
PASS_SEED = 1_299_709  # per-pass offset, for a recording revisited within an epoch
TURN_SEED = 15_485_863  # seeds the interleaving of the recordings' turns


def turns_per_epoch(train_sizes: list[int], batch_size: int, alpha: float = 1.0) -> list[int]:
    """Steps each recording takes per epoch (see the module docstring); ``train_sizes``: train trials per recording."""
    steps = sum(max(1, math.ceil(t / batch_size)) for t in train_sizes)
    if len(train_sizes) == 1:
        return [steps]
    shares = [t ** alpha for t in train_sizes]
    return [max(1, round(steps * s / sum(shares))) for s in shares]


def epoch_schedule(train_sizes: list[int], batch_size: int, seed: int, epoch: int, alpha: float = 1.0,
                   device: torch.device | str = "cpu") -> list[tuple[int, torch.Tensor]]:
    """The epoch's steps in order, as (recording index, (<= batch_size,) positions in that recording's train trials).

    Args:
        train_sizes: train trials per recording.
        batch_size: pairs per step.
        seed, epoch: the run's seed and the 0-based epoch (each epoch its own permutations).
        alpha: the turns' exponent (see the module docstring).
        device: where the position tensors live.
    """
    steps = []
    for k, (size, turns) in enumerate(zip(train_sizes, turns_per_epoch(train_sizes, batch_size, alpha))):
        per_pass = max(1, math.ceil(size / batch_size))
        passes = [torch.randperm(size, generator=torch.Generator().manual_seed(
            seed + epoch + RECORDING_SEED * k + PASS_SEED * c)).to(device) for c in range(math.ceil(turns / per_pass))]
        steps.append([(k, passes[j // per_pass][(j % per_pass) * batch_size:(j % per_pass + 1) * batch_size])
                      for j in range(turns)])
    if len(steps) == 1:
        return steps[0]
    flat = [step for recording in steps for step in recording]
    order = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed + epoch + TURN_SEED))
    return [flat[i] for i in order.tolist()]
