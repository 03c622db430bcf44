"""Predictions of a fitted encoding model: rates per image, gains per trial, and the correlations that score them.

Every prediction runs without gradients, in eval mode (training mode restored after), and stays on the
model's device. A tier's distinct images are predicted once each (``TierPrediction``); a trial's predicted
response is its image's rates times its behaviour gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.encoding import EncodingModel
from .encoding_data import EncodingData
from .repeats import unique_targets


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
