"""The training loop: AdamW, warm-up + cosine, early stopping on validation retrieval.

The loop knows nothing of any UI: it reports through ``on_step`` (the CLI draws a
progress bar from it, the app an ``st.progress``) and polls ``should_stop``.
Batches are index tensors into data already resident on the device, so a step has
no host-side work beyond indexing, and its losses stay on the device until the next
read-back (every ``LOG_EVERY`` steps and at the end of an epoch): a GPU runs ahead of
the host in between. Per-epoch seeds make CPU runs reproducible and a resumed run
identical to an uninterrupted one. A loss that turns NaN or infinite (a learning rate far too high)
stops training at the next read-back with :class:`TrainingDiverged`: no step waits for the host to
look, and the epoch is never saved.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..errors import DinaError
from ..model.device import autocast
from ..model.two_tower import TwoTowerModel
from ..runs.config import TrainConfig
from ..runs.prepare import PreparedData
from .distributed import broadcast_parameters, current
from .schedule import epoch_schedule, turns_per_epoch
from .step import EpochLosses, pairing, param_groups, train_step
from .validation import validation_top1

# Steps between read-backs of the training loss to the host. A read-back waits for every queued kernel, so one per
# step would stall a GPU at each step (nanoGPT reads at its log_interval). Only what ``on_step`` shows waits for it:
# every step's loss stays on the device until the next read-back, so the epoch's history is exact whatever this is.
LOG_EVERY = 10


@dataclass
class StepInfo:
    """What ``on_step`` receives after every optimiser step."""

    epoch: int  # 0-based epoch of this step
    step: int  # 1-based global step
    total_steps: int  # steps if training runs all epochs
    loss: float  # total training loss of step ``loss_step``, the last one read back: refreshed every LOG_EVERY
    # steps, on fit's first step and on each epoch's last; the steps between repeat it
    lr: float
    elapsed_s: float  # wall time since this call to fit started
    eta_s: float  # estimated seconds left if training runs all epochs
    val_top1: float | None = None  # set on the last step of an epoch
    loss_step: int = 0  # the step whose loss ``loss`` is (== step when it was read back at this step; 0: none yet)
    stage: str = "train"  # which fit of a run this is: 'train', or DINA's 'linear level' then its 'maps'


@dataclass
class FitResult:
    """Outcome of ``fit``; the model holds the best weights (by validation top-1) on return."""

    history: list[dict] = field(default_factory=list)  # one row per epoch
    best_epoch: int = -1
    best_val_top1: float = float("-inf")
    stopped_early: bool = False
    interrupted: bool = False


def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to zero."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class TrainingDiverged(DinaError):
    """The training loss became NaN or infinite: the weights are lost, nothing of the epoch is saved."""


def _check_finite(losses: EpochLosses, step: int, total_steps: int, epoch: int, lr: float,
                  config: TrainConfig) -> None:
    """Raise TrainingDiverged when a loss read back so far this epoch is NaN/Inf (their sum is then too)."""
    if not math.isfinite(losses.total):
        raise TrainingDiverged(
            f"training diverged: the training loss became {'NaN' if math.isnan(losses.total) else 'infinite'} by "
            f"step {step} of {total_steps} (epoch {epoch + 1}; learning rate {config.lr:g}, at this step {lr:.3g}); "
            "training stopped and saved no model. Train again with a lower learning rate")


@dataclass
class Task:
    """One recording's part of a fit: its model (sharing its image side with the others' in a joint fit) and data."""

    name: str
    model: TwoTowerModel
    data: PreparedData


def _validate(tasks: list[Task], config: TrainConfig) -> tuple[float, dict[str, float]]:
    """Validation top-1 under the training's autocast (on CUDA the run stays bf16 end to end): the recordings' mean,
    and each recording's."""
    scores = {}
    for task in tasks:
        with autocast(task.data.images.device, config.amp):
            scores[task.name] = validation_top1(task.model, task.data)
    return sum(scores.values()) / len(scores), scores


def fit(model: TwoTowerModel, data: PreparedData, config: TrainConfig, *,
        on_step: Callable[[StepInfo], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        save_state: Callable[[dict], None] | None = None,
        resume_state: dict | None = None, stage: str = "train") -> FitResult:
    """Train ``model`` contrastively on the train tier of ``data``.

    Args:
        model: any TwoTowerModel, already on the device of ``data``.
        data: prepared recording; its 'validation' trials drive early stopping.
        config: training hyper-parameters.
        on_step: called after every step with a StepInfo (its loss is read back every ``LOG_EVERY`` steps).
        should_stop: polled every step; True ends training cleanly (best weights kept).
        save_state: called at the end of every epoch with a resumable state dict
            (tensors and plain types only, loadable with ``weights_only=True``).
        resume_state: a dict previously given to ``save_state``; training continues after it.
        stage: names this fit in every StepInfo (``StepInfo.stage``).

    Returns:
        FitResult; the model is left in eval mode holding the best weights.

    Raises:
        TrainingDiverged: the loss read back became NaN or infinite (checked every ``LOG_EVERY`` steps and at
            each epoch's end, before the epoch's ``save_state``).

    Under ``torchrun`` every rank calls ``fit`` alike; ``config.batch_size`` is the global batch
    (see ``distributed``), and only the caller decides which rank reports and saves.
    """
    return fit_tasks(model, [Task("", model, data)], config, on_step=on_step, should_stop=should_stop,
                     save_state=save_state, resume_state=resume_state, stage=stage)


def fit_tasks(root: torch.nn.Module, tasks: list[Task], config: TrainConfig, *,
              on_step: Callable[[StepInfo], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              save_state: Callable[[dict], None] | None = None,
              resume_state: dict | None = None, stage: str = "train", alpha: float = 1.0) -> FitResult:
    """``fit`` over one or several recordings: each step trains one task's model on a batch of its own recording,
    in the order ``schedule.epoch_schedule`` gives (``alpha``: its turns' exponent).

    Args:
        root: the module holding every task's parameters once (one task: its model; several: a ModuleDict of the
            models, whose shared image side it holds once): what the optimiser steps, the state saves and the best
            weights restore.
        tasks: the recordings, in a fixed order (the schedule's recording index).
        The rest as ``fit``; early stopping follows the tasks' mean validation top-1, and with several tasks each
        epoch's history row also holds each one's (``val_top1_by_recording``).
    """
    dist = current()
    device = tasks[0].data.images.device
    trains = [torch.as_tensor(t.data.tier_trials["train"], device=device) for t in tasks]
    paired = [pairing(t.data, train, config) for t, train in zip(tasks, trains)]
    steps_per_epoch = sum(turns_per_epoch([len(t) for t in trains], config.batch_size, alpha))
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = max(1, int(config.warmup_epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW(param_groups(root, config.weight_decay), lr=config.lr)

    result, best_state, bad_epochs, start_epoch = FitResult(), None, 0, 0
    if resume_state is not None:
        root.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        best_state = resume_state["best_model"]
        result.history = list(resume_state["history"])
        result.best_epoch = int(resume_state["best_epoch"])
        result.best_val_top1 = float(resume_state["best_val_top1"])
        bad_epochs = int(resume_state["bad_epochs"])
        start_epoch = int(resume_state["epoch"]) + 1
    broadcast_parameters(root, dist)

    start_time, start_step = time.perf_counter(), start_epoch * steps_per_epoch
    step, shown = start_step, (math.nan, 0)  # (loss, its step) as last read back, for on_step
    for epoch in range(start_epoch, config.epochs):
        root.train()
        torch.manual_seed(config.seed * 100_003 + epoch + 1_000_003 * dist.rank)  # dropout draws, per epoch and rank
        schedule = epoch_schedule([len(t) for t in trains], config.batch_size, config.seed, epoch, alpha, device)
        shifts = torch.Generator(device=device).manual_seed(config.seed * 100_003 + epoch + 7 + 1_000_003 * dist.rank)
        epoch_start, losses, val = time.perf_counter(), EpochLosses(), None
        for b, (k, positions) in enumerate(schedule):
            batch = dist.usable(positions)
            if len(batch) < 2:
                continue
            lr = lr_at(step, total_steps, warmup_steps, config.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, per_level = train_step(tasks[k].model, tasks[k].data, trains[k], paired[k], batch, optimizer,
                                         config.amp, dist, max(config.shift_pixels, 0), shifts)
            step += 1
            losses.add(loss, per_level)
            last = b == len(schedule) - 1
            if last or step % LOG_EVERY == 0 or step == start_step + 1:
                shown = losses.read(), step
                _check_finite(losses, step, total_steps, epoch, lr, config)
            val, by_recording = _validate(tasks, config) if last else (None, None)
            if on_step is not None:
                elapsed = time.perf_counter() - start_time
                eta = elapsed / (step - start_step) * (total_steps - step)
                on_step(StepInfo(epoch, step, total_steps, shown[0], lr, elapsed, eta, val, shown[1], stage))
            if should_stop is not None and should_stop():
                result.interrupted = True
                break
        if result.interrupted:
            break
        losses.read()  # an epoch whose last batch was too small to train has steps still pending
        _check_finite(losses, step, total_steps, epoch, lr, config)
        if val is None:
            val, by_recording = _validate(tasks, config)
        result.history.append({
            "epoch": epoch, "train_loss": losses.total / steps_per_epoch, "val_top1": val, "lr": lr,
            "seconds": time.perf_counter() - epoch_start,
            **{f"loss_{k}": v / steps_per_epoch for k, v in losses.levels.items()},
            **({"val_top1_by_recording": by_recording} if len(tasks) > 1 else {}),
        })
        if val > result.best_val_top1:
            result.best_val_top1, result.best_epoch, bad_epochs = val, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in root.state_dict().items()})
        else:
            bad_epochs += 1
        if save_state is not None:
            save_state({"epoch": epoch, "model": root.state_dict(), "optimizer": optimizer.state_dict(),
                        "best_model": best_state, "best_epoch": result.best_epoch,
                        "best_val_top1": result.best_val_top1, "bad_epochs": bad_epochs,
                        "history": result.history})
        if bad_epochs >= config.patience:
            result.stopped_early = True
            break
    if best_state is not None:
        root.load_state_dict(best_state)
    root.eval()
    return result
