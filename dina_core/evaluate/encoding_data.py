"""The recording as the encoding-model baseline (``model.encoding``) sees it: scaled for the Poisson loss, on one device.

Responses: the Poisson loss needs non-negative targets on the recording's own scale, so the model sees each
neuron's raw responses divided by its train-tier standard deviation (``ResponseNormalizer``'s std, floored the
same way) and clipped at 0 (deconvolved events are non-negative; a recording with negative values loses them),
with no mean subtracted: the mean is what a rate predicts. Scaling by the std alone keeps every neuron's
Poisson loss on a comparable scale and leaves correlations and FEVE unchanged. Images are normalised as every
other model sees them (``runs.prepare.Preprocessing``); behaviour columns are standardised on train trials,
missing values at the mean. The tiers (and the validation split when the file has none) are the other
models' (``runs.prepare.split_trials``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.format import DinaData
from ..runs.prepare import Preprocessing, split_trials


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
