"""Fitting the encoding-model baseline (``model.encoding``): Poisson loss, AdamW, early stopping on validation.

The data are prepared by ``encoding_data.prepare_encoding`` (responses scaled for the Poisson loss, the other
models' tiers). Early stopping: after each epoch, the mean over neurons of the Pearson correlation between
predicted and observed single-trial responses of the validation trials (``encoding_predict``); the best
epoch's weights are kept. On CUDA a step stays on the device under bf16 autocast, and its loss is read back
only every ``LOG_EVERY`` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..data.format import DinaData
from ..model.device import autocast
from ..model.encoding import EncodingConfig, EncodingModel
from .encoding_data import EncodingData, prepare_encoding
from .encoding_predict import neuron_correlations, tier_prediction, zscore_rows
from .retrieval import target_ranks, topk_accuracy

# Steps between read-backs of the loss (as train.loop.LOG_EVERY): a read-back waits for the device's queue.
LOG_EVERY = 10
_EPS = 1e-8  # keeps log(rate) finite


def poisson_loss(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Mean over trials and neurons of the Poisson negative log-likelihood, without its rate-free term."""
    return (rates - responses * torch.log(rates + _EPS)).mean()


def _validation(model: EncodingModel, data: EncodingData) -> tuple[float, float]:
    """Mean per-neuron single-trial correlation on validation, and single-trial top-1 by correlation (N-way)."""
    p = tier_prediction(model, data, "validation")
    correlation = float(neuron_correlations(p.trials(), p.observed).mean())
    ranks = target_ranks(zscore_rows(p.observed / p.gains), zscore_rows(p.rates), p.target)
    return correlation, topk_accuracy(ranks, 1)


@dataclass
class EncodingStep:
    """What ``on_step`` receives after every optimiser step (the fields of ``train.loop.StepInfo``)."""

    epoch: int  # 0-based
    step: int  # 1-based within this fit
    total_steps: int  # steps if training runs all epochs
    loss: float  # training loss of step ``loss_step``, the last one read back (every LOG_EVERY steps)
    lr: float
    elapsed_s: float
    eta_s: float
    val_top1: float | None = None  # on an epoch's last step: single-trial validation top-1 by correlation
    loss_step: int = 0


@dataclass
class EncodingFit:
    """A fitted encoding model (best validation epoch's weights, eval mode) and the data it was fitted on."""

    model: EncodingModel
    data: EncodingData
    config: EncodingConfig
    history: list[dict] = field(default_factory=list)  # per epoch: loss, val_correlation, val_top1, seconds
    best_epoch: int = -1
    best_val_correlation: float = float("-inf")
    interrupted: bool = False  # stopped by ``should_stop`` before the epochs or early stopping ended it


def _lr(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1.0 + math.cos(math.pi * min((step - warmup) / max(1, total - warmup), 1.0)))


def fit_encoding(data: DinaData | EncodingData, config: EncodingConfig | None = None, *, seed: int = 0,
                 device: torch.device | str = "cpu", amp: bool = True, validation_fraction: float = 0.1,
                 epochs: int | None = None, on_step: Callable[[EncodingStep], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> EncodingFit:
    """Train on the train tier, early-stopped on the validation correlation.

    Args:
        data: a recording, or one already prepared by :func:`prepare_encoding` (then ``device`` is its own).
        config: architecture and training (``EncodingConfig()`` when None).
        seed: initialisation, batch order and readout jitter; CPU runs are reproducible.
        amp: bf16 autocast on CUDA.
        epochs: caps ``config.epochs`` (the benchmark's ``--epochs``), None: the config's.
        on_step: called after every step.
        should_stop: polled after every step; True ends the fit there, keeping the best finished epoch's weights
            (``interrupted`` set; with no epoch finished, ``best_epoch`` stays -1 and the weights are the
            initial ones).
    """
    config = config or EncodingConfig()
    if isinstance(data, DinaData):
        data = prepare_encoding(data, device, validation_fraction, seed)
    device = data.responses.device
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train = torch.as_tensor(data.tier_trials["train"], device=device)
    model = EncodingModel(config, data.responses.shape[1], data.behavior.shape[1]).to(device)
    model.init_rates(data.responses[train].mean(0))
    kernels = [p for name, p in model.named_parameters() if name.startswith("core.") and p.ndim >= 2]
    others = [p for name, p in model.named_parameters() if not (name.startswith("core.") and p.ndim >= 2)]
    optimizer = torch.optim.AdamW([{"params": kernels, "weight_decay": config.weight_decay},
                                   {"params": others, "weight_decay": 0.0}], lr=config.lr)
    n_epochs = min(config.epochs, epochs or config.epochs)
    per_epoch = max(1, len(train) // config.batch_size)  # full batches only: batch norm needs two trials or more
    total, result, started = n_epochs * per_epoch, EncodingFit(model, data, config), time.perf_counter()
    best_state, step, loss_value, loss_step, since_best = None, 0, float("nan"), 0, 0
    for epoch in range(n_epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=generator).to(device)]
        losses = []
        for i in range(per_epoch):
            lr = _lr(step, total, per_epoch, config.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = order[i * config.batch_size : (i + 1) * config.batch_size]
            with autocast(device, amp):
                rates = model(data.images[data.image_index[batch]], data.behavior[batch])
            loss = poisson_loss(rates.float(), data.responses[batch]) + config.readout_l1 * model.readout.l1()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            step += 1
            last = i == per_epoch - 1
            val_corr = val_top1 = None
            if last:
                val_corr, val_top1 = _validation(model, data)
            if on_step is not None:
                if step % LOG_EVERY == 0 or last or step == 1:
                    loss_value, loss_step = float(loss.detach()), step
                elapsed = time.perf_counter() - started
                on_step(EncodingStep(epoch, step, total, loss_value, lr, elapsed, elapsed / step * (total - step),
                                     val_top1, loss_step))
            if should_stop is not None and should_stop():
                result.interrupted = True
                break
        if result.interrupted and val_corr is None:  # stopped within the epoch: it is not scored
            break
        result.history.append({"epoch": epoch, "loss": float(torch.stack(losses).mean()), "val_correlation": val_corr,
                               "val_top1": val_top1, "seconds": time.perf_counter() - started})
        if val_corr > result.best_val_correlation:
            result.best_val_correlation, result.best_epoch, since_best = val_corr, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if since_best >= config.patience:
                break
        if result.interrupted:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result
