"""DINA's encoding level: every neuron's response predicted from one image-tower map, scored by correlation.

The field's standard decoder fits an encoding model (a CNN core, a per-neuron spatial readout) and picks
the candidate image whose predicted population response correlates best with the observed one. DINA holds
that decoder as one of its levels, on its own image tower:

* image side: a Gaussian readout (``model.encoding.GaussianReadout``, Lurz et al. 2021) of the map at
  ``ModelConfig.encoding_stage`` predicts each neuron's z-scored response, ``p`` (B, n); the level's image
  embedding is ``p`` centred over neurons;
* response side: the (masked) z-scored responses ``r`` (B, n) themselves, with no weights at all.

After L2 normalisation their dot product is ``r . (p - mean p) / (|r| |p - mean p|)``; the numerator is
the covariance over neurons of ``r`` and ``p`` (centring one side is enough), so for a given response the
candidates rank exactly by the Pearson correlation of observed and predicted responses (the constant
``|r|`` replaces ``|r - mean r|``). Training aligns the level with InfoNCE like any other, plus a
regression loss (:meth:`EncodingHead.fit_loss`) that keeps the head a per-neuron predictor.

A masked neuron is set to its train mean (0), as on every level: its observed term vanishes from the
covariance, its prediction stays in ``|p - mean p|``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoding import EncodingConfig, GaussianReadout

_DEFAULTS = EncodingConfig()  # the readout's initial positions and jitter: the encoding baseline's


class EncodingHead(nn.Module):
    """Image-tower map (B, C, h, w) -> (B, n_neurons) predicted z-scored responses."""

    def __init__(self, n_neurons: int, channels: int):
        super().__init__()
        self.readout = GaussianReadout(n_neurons, channels, _DEFAULTS.init_mu_range, _DEFAULTS.init_sigma)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """maps: (B, C, h, w) -> (B, n) predictions, centred over neurons (the level's image embedding)."""
        predicted = self.readout(maps)
        return predicted - predicted.mean(dim=1, keepdim=True)

    @staticmethod
    def response_embedding(responses: torch.Tensor, neuron_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n) z-scored responses (masked neurons at 0) -> the level's response embedding, (B, n)."""
        return responses if neuron_mask is None else responses * neuron_mask

    @staticmethod
    def fit_loss(centred_predictions: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Mean squared error over trials and neurons of the centred predictions and the responses, each
        centred over neurons (a trial's population-wide shift, e.g. arousal, is not the image's to predict).

        Args:
            centred_predictions: (B, n) :meth:`forward` output.
            responses: (B, n) z-scored responses of the same trials.

        Returns:
            Scalar: the mean over the B * n terms.
        """
        target = responses - responses.mean(dim=1, keepdim=True)
        return F.mse_loss(centred_predictions.float(), target.float())
