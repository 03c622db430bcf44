"""One optimiser step of contrastive training, and the bookkeeping of its losses on the device.

``train_step`` embeds a global batch (this rank's shard under ``torchrun``, see ``distributed``), adds the
weighted InfoNCE of every level and the model's own training loss when it has one (DINA's encoding head:
``forward``'s 'fit_loss'), and steps the optimiser. Its losses are returned as detached scalars left on the
device: ``EpochLosses`` keeps them until the loop reads them back, in one transfer (``loop.LOG_EVERY``).
"""

from __future__ import annotations

import math

import torch

from ..model.device import autocast
from ..model.two_tower import TwoTowerModel
from ..runs.config import TrainConfig
from ..runs.prepare import PreparedData
from .augment import random_shifts
from .distributed import SINGLE, Dist, average_buffers, gather_embeddings, sum_gradients
from .loss import multilevel_info_nce

FIT_LOSS = "encoding_fit"  # the per-level key of a model's own training loss (DINA's encoding head)
SHUFFLE_SEED = 7919  # added to the run's seed for the shuffled-pairing null's permutation
_NOT_WEIGHTS = (".mu", ".sigma")  # readout positions and their jitter: places, not weights to shrink


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices and kernels only: biases, norms, temperatures and readout positions are left alone
    (CLIP practice; decaying a position would pull every neuron's receptive field to the map's centre).

    Frozen parameters (``requires_grad`` False, e.g. DINA's fitted linear level) are left out."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            weight = p.ndim >= 2 and "logit_scale" not in name and not name.endswith(_NOT_WEIGHTS)
            (decay if weight else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def pairing(data: PreparedData, train: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """Image shown with each training trial; permuted among trials for the shuffled-pairing null.

    ``data`` needs only ``image_index`` (the encoding model's ``EncodingData`` is paired the same way)."""
    images = data.image_index[train]
    if config.shuffle_pairs:
        g = torch.Generator().manual_seed(config.seed + SHUFFLE_SEED)
        images = images[torch.randperm(len(images), generator=g).to(images.device)]
    return images


def train_step(model: TwoTowerModel, data: PreparedData, trials: torch.Tensor, paired_images: torch.Tensor,
               batch: torch.Tensor, optimizer: torch.optim.Optimizer, amp: bool = True,
               dist: Dist = SINGLE, shift_pixels: int = 0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimiser step on a global batch (this rank embeds its shard; see ``distributed``).

    Args:
        model: the model being trained, in train mode.
        data: the prepared recording.
        trials: (n_train,) rows of ``data`` of the train trials.
        paired_images: (n_train,) image row paired with each train trial.
        batch: (B,) positions in ``trials`` of the step's global batch, the same on every rank;
            B a multiple of the world size.
        optimizer: steps the model's parameters (its learning rate already set).
        amp: bf16 autocast on CUDA.
        dist: this process's rank (SINGLE: one process).
        shift_pixels: shift augmentation of the step's images (see ``augment.random_shifts``).
        generator: draws the shifts.

    Returns:
        The global batch's loss and its per-level losses (``FIT_LOSS``: the model's own training loss, when
        it has one), detached scalars left on the device (reading them back waits for the step to finish;
        see ``loop.LOG_EVERY``). Under ``torchrun`` the own loss is computed on this rank's shard: its
        share of the gradient is exact (scaled by shard / batch, then summed over ranks), and the value
        reported is this shard's mean.
    """
    local = dist.shard(batch)
    images = random_shifts(data.images[paired_images[local]], shift_pixels, generator)
    with autocast(data.images.device, amp):
        outputs = model(images, data.responses[trials[local]])
    own = outputs.pop("fit_loss", None)
    outputs = gather_embeddings(outputs, dist)
    loss, per_level = multilevel_info_nce(outputs, model.loss_weights, paired_images[batch])
    if own is not None:
        loss = loss + own * (len(local) / len(batch))
        per_level[FIT_LOSS] = own.detach()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    sum_gradients(model, dist)
    optimizer.step()
    average_buffers(model, dist)
    return loss.detach(), per_level


def read_back(scalars: list[torch.Tensor]) -> list[float]:
    """Host values of device scalars, in one transfer (one wait for the device for all of them)."""
    return torch.stack(scalars).tolist()


class EpochLosses:
    """An epoch's sums of step losses; each step's losses wait on the device until the next ``read``."""

    def __init__(self):
        self.pending: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []  # steps not read back yet
        self.total, self.levels = 0.0, {}  # host floats, added in step order

    def add(self, loss: torch.Tensor, per_level: dict[str, torch.Tensor]) -> None:
        self.pending.append((loss, per_level))

    def read(self) -> float:
        """Read the pending steps back (one transfer), add them to the sums; the last one's loss (NaN: none)."""
        last = math.nan
        if not self.pending:
            return last
        values = iter(read_back([t for loss, levels in self.pending for t in (loss, *levels.values())]))
        for _, levels in self.pending:
            last = next(values)
            self.total += last
            for level in levels:
                self.levels[level] = self.levels.get(level, 0.0) + next(values)
        self.pending.clear()
        return last
