"""Fitting the encoding-model baseline (``model.encoding``): Poisson loss, AdamW, early stopping on validation.

Responses: the Poisson loss needs non-negative targets on the recording's own scale, so the model sees each
neuron's raw responses divided by its train-tier standard deviation (``ResponseNormalizer``'s std, floored the
same way) and clipped at 0 (deconvolved events are non-negative; a recording with negative values loses them),
with no mean subtracted: the mean is what a rate predicts. Scaling by the std alone keeps every neuron's
Poisson loss on a comparable scale and leaves correlations and FEVE unchanged. Images are normalised as every
other model sees them (``runs.prepare.Preprocessing``); behaviour columns are standardised on train trials,
missing values at the mean. The tiers (and the validation split when the file has none) are the other
models' (``runs.prepare.split_trials``).

Early stopping: after each epoch, the mean over neurons of the Pearson correlation between predicted and
observed single-trial responses of the validation trials; the best epoch's weights are kept. On CUDA a step
stays on the device under bf16 autocast, and its loss is read back only every ``LOG_EVERY`` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.format import DinaData
from ..model.device import autocast
from ..model.encoding import EncodingConfig, EncodingModel
from ..runs.prepare import Preprocessing, split_trials
from .repeats import unique_targets
from .retrieval import target_ranks, topk_accuracy

# Steps between read-backs of the loss (as train.loop.LOG_EVERY): a read-back waits for the device's queue.
LOG_EVERY = 10
_EPS = 1e-8  # keeps log(rate) finite


@dataclass
class EncodingData:
    """A recording as the encoding model sees it, on one device.

    Attributes:
        images: (n_images, 1, H, W) float32, normalised as every model sees them.
        responses: (n_trials, n_neurons) float32 raw responses / ``scale``, clipped at 0.
        behavior: (n_trials, k) float32 behaviour standardised on train trials, missing at 0 (k = 0: none).
        image_index: (n_trials,) int64 row of ``images`` per trial.
        tier_trials: {'train' | 'validation' | 'test': (n,) int64 trial indices}.
        scale: (n_neurons,) float32 train-tier std that divides each neuron's raw responses.
    """

    images: torch.Tensor
    responses: torch.Tensor
    behavior: torch.Tensor
    image_index: torch.Tensor
    tier_trials: dict[str, np.ndarray]
    scale: np.ndarray


def _standardised_behavior(data: DinaData) -> np.ndarray:
    """(n_trials, k) behaviour z-scored with train statistics; missing values become 0 (the train mean)."""
    if data.behavior is None or data.behavior.shape[1] == 0:
        return np.zeros((data.n_trials, 0), np.float32)
    b = np.asarray(data.behavior, dtype=np.float64)
    train = b[data.tier_mask("train")]
    mean = np.nanmean(np.where(np.isfinite(train), train, np.nan), axis=0)
    std = np.nanstd(np.where(np.isfinite(train), train, np.nan), axis=0)
    mean, std = np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
    z = (b - mean) / std
    return np.where(np.isfinite(z), z, 0.0).astype(np.float32)


def prepare_encoding(data: DinaData, device: torch.device | str = "cpu", validation_fraction: float = 0.1,
                     seed: int = 0) -> EncodingData:
    """The recording scaled for the Poisson loss (see the module doc) and moved to ``device`` once."""
    device = torch.device(device)
    pre = Preprocessing.fit(data)
    scale = pre.response_normalizer.std
    responses = np.clip(np.asarray(data.responses, dtype=np.float32) / scale, 0.0, None)
    return EncodingData(torch.from_numpy(pre.images(data.images)).to(device), torch.from_numpy(responses).to(device),
                        torch.from_numpy(_standardised_behavior(data)).to(device),
                        torch.from_numpy(np.asarray(data.image_index, dtype=np.int64)).to(device),
                        split_trials(data, validation_fraction, seed), scale)


def poisson_loss(rates: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Mean over trials and neurons of the Poisson negative log-likelihood, without its rate-free term."""
    return (rates - responses * torch.log(rates + _EPS)).mean()


@torch.no_grad()
def image_rates(model: EncodingModel, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """(N, 1, H, W) images -> (N, n_neurons) float32 rates at average behaviour, in eval mode, on the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        parts = [model.image_rates(torch.as_tensor(images[i : i + batch_size]).to(device)).float()
                 for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts)


@torch.no_grad()
def trial_gains(model: EncodingModel, behavior: torch.Tensor) -> torch.Tensor:
    """(T, k) standardised behaviour -> (T, n_neurons) float32 gain of each trial's rates (ones without a gain)."""
    return model.log_gain(behavior.to(next(model.parameters()).device)).float().exp()


def neuron_correlations(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(T, n) and (T, n) -> (n,) Pearson correlation per column; a constant column gives 0."""
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    denominator = (x.square().sum(0) * y.square().sum(0)).sqrt()
    return torch.where(denominator > 0, (x * y).sum(0) / denominator.clamp_min(1e-300), torch.zeros_like(denominator))


@dataclass(frozen=True, eq=False)
class TierPrediction:
    """The model's predictions for one tier, on the model's device.

    Attributes:
        rates: (N, n_neurons) float32 rates of the tier's N distinct images at average behaviour.
        gains: (T, n_neurons) float32 behaviour gain of each trial (ones without a gain).
        target: (T,) int64 column of each trial's image among the N.
        observed: (T, n_neurons) float32 observed responses (scaled as the model sees them).
    """

    rates: torch.Tensor
    gains: torch.Tensor
    target: torch.Tensor
    observed: torch.Tensor

    def trials(self) -> torch.Tensor:
        """(T, n_neurons) predicted single-trial responses: each trial's image's rates times its gain."""
        return self.rates[self.target] * self.gains


@torch.no_grad()
def tier_prediction(model: EncodingModel, data: EncodingData, tier: str) -> TierPrediction:
    """Predict every distinct image of ``tier`` once, and each of its trials' gains."""
    device = next(model.parameters()).device
    trials = torch.as_tensor(data.tier_trials[tier], device=data.responses.device)
    candidates, target = unique_targets(data.image_index[trials].cpu().numpy())
    rates = image_rates(model, data.images[torch.as_tensor(candidates, device=data.images.device)])
    return TierPrediction(rates, trial_gains(model, data.behavior[trials]), torch.as_tensor(target, device=device),
                          data.responses[trials].to(device))


def zscore_rows(x: torch.Tensor) -> torch.Tensor:
    """(n, k) rows z-scored and divided by sqrt(k): dot products of two rows are Pearson correlations."""
    x = x.double() - x.double().mean(1, keepdim=True)
    norm = x.square().sum(1, keepdim=True).sqrt()
    return torch.where(norm > 0, x / norm.clamp_min(1e-300), torch.zeros_like(x)).float()


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


def _lr(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1.0 + math.cos(math.pi * min((step - warmup) / max(1, total - warmup), 1.0)))


def fit_encoding(data: DinaData | EncodingData, config: EncodingConfig | None = None, *, seed: int = 0,
                 device: torch.device | str = "cpu", amp: bool = True, validation_fraction: float = 0.1,
                 epochs: int | None = None, on_step: Callable[[EncodingStep], None] | None = None) -> EncodingFit:
    """Train on the train tier, early-stopped on the validation correlation.

    Args:
        data: a recording, or one already prepared by :func:`prepare_encoding` (then ``device`` is its own).
        config: architecture and training (``EncodingConfig()`` when None).
        seed: initialisation, batch order and readout jitter; CPU runs are reproducible.
        amp: bf16 autocast on CUDA.
        epochs: caps ``config.epochs`` (the benchmark's ``--epochs``), None: the config's.
        on_step: called after every step.
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
                    loss_value, loss_step = float(loss), step
                elapsed = time.perf_counter() - started
                on_step(EncodingStep(epoch, step, total, loss_value, lr, elapsed, elapsed / step * (total - step),
                                     val_top1, loss_step))
        result.history.append({"epoch": epoch, "loss": float(torch.stack(losses).mean()), "val_correlation": val_corr,
                               "val_top1": val_top1, "seconds": time.perf_counter() - started})
        if val_corr > result.best_val_correlation:
            result.best_val_correlation, result.best_epoch, since_best = val_corr, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return result
