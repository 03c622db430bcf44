"""The fitted encoding-model baseline held as one of DINA's levels, frozen (``ModelConfig.encoding_model_level``).

The field's standard decoder (``model.encoding``: a convolutional core, a Gaussian readout per neuron, Poisson
rates; the benchmark's ``encoding`` row) identifies a response by the correlation over neurons of the observed
response and each candidate's predicted rates, or by the Poisson log-likelihood of the response under them. This
level is that decoder inside DINA, as the linear level is the linear two-tower: the encoding model is fitted first
on the same split (``train.encoding_model_level``), copied in and frozen, its rule chosen on validation, so
validation can weigh its score against the maps' (``train.level_weights``) and DINA's retrieval score holds the
baseline as its special case (every other level at weight 0).

The response enters on the scale the encoding model was fitted on: ``v = z + mean / std`` (the z-scored,
behaviour-corrected response DINA sees, plus the train mean over the train std: raw / std). A masked neuron is at
its train mean (z = 0), as on every level. ``l`` (B, n) are a candidate's rates at average behaviour.

* ``correlation``: image side ``l``, response side ``v``, each centred over neurons. After L2 normalisation their
  dot product is the Pearson correlation over neurons.
* ``log_likelihood``: response side ``[max(v, 0), 1, 0]``, image side ``[log l - a, -(l - b), p] / M`` (``a``,
  ``b`` the train images' mean log rate and rate per neuron, ``p`` padding). Their dot product is the Poisson
  log-likelihood ``sum (v log l - l)`` minus a constant of the response; the padding gives every image the same
  norm ``M`` (``image_norm``, twice the largest of the train images), so after L2 normalisation a response still
  ranks the images exactly by likelihood (an image beyond ``M``, none of the train images, is scored a little
  closer to 0). Ranking responses for one image (image -> neural) divides each likelihood by its response's norm:
  a normalised likelihood, not the baseline's posterior.

The fitted model's behaviour gain is left out: DINA corrects every level's responses for behaviour itself. The
architecture is ``EncodingConfig()``'s (``ARCHITECTURE``): should its defaults change, a run saved before must still
rebuild what it was trained with (pin its values, as ``model.config.LEGACY`` does for ``ModelConfig``'s fields).
"""

from __future__ import annotations

import torch
from torch import nn

from .encoding import IDENTIFICATION_RULES, LOG_FLOOR, EncodingConfig, EncodingModel

ARCHITECTURE = EncodingConfig()  # what the level is built as; its training fields are the fit's (train.*)


def centred(x: torch.Tensor) -> torch.Tensor:
    """(B, n) rows centred over neurons."""
    return x - x.mean(dim=1, keepdim=True)


class EncodingModelLevel(nn.Module):
    """A frozen encoding model, the response offset that puts DINA's responses on its scale, and its rule.

    Buffers (saved with the model):
        response_offset: (n,) float32, each neuron's train mean over its train std.
        rule: () int64, index in ``IDENTIFICATION_RULES`` (0 correlation, 1 log-likelihood).
        log_rate_mean, rate_mean: (n,) float32 means over the train images of log rate and rate (``a``, ``b``).
        image_norm: () float32, the norm ``M`` every log-likelihood image embedding is padded to.
    """

    def __init__(self, n_neurons: int, config: EncodingConfig = ARCHITECTURE):
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # its random start is overwritten by ``load_fitted``: the global
            self.model = EncodingModel(config, n_neurons, 0)  # random state is left as it was found
        for name, shape in (("response_offset", (n_neurons,)), ("log_rate_mean", (n_neurons,)),
                            ("rate_mean", (n_neurons,)), ("image_norm", ())):
            self.register_buffer(name, torch.zeros(shape))
        self.register_buffer("rule", torch.zeros((), dtype=torch.int64))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "EncodingModelLevel":
        """Frozen: always in eval mode (never batch statistics, never a running-stat update), whatever ``mode``."""
        return super().train(False)

    def check_state(self) -> None:
        """Refuse loaded buffers no fit writes (a hand-edited checkpoint): ValueError naming the buffer."""
        if not 0 <= int(self.rule) < len(IDENTIFICATION_RULES):
            raise ValueError(f"encoding_model.rule: expected 0 (correlation) or 1 (log-likelihood), found {int(self.rule)}")
        if self.rule_name == "log_likelihood" and not float(self.image_norm) > 0:
            raise ValueError(f"encoding_model.image_norm: expected a positive norm, found {float(self.image_norm)}")

    @property
    def rule_name(self) -> str:
        return IDENTIFICATION_RULES[int(self.rule)]

    @torch.no_grad()
    def load_fitted(self, fitted: EncodingModel, response_offset, train_images: torch.Tensor,
                    batch_size: int = 512) -> None:
        """Copy a fitted model's core and readout (its behaviour gain is left out) and set the buffers.

        Args:
            fitted: the fitted encoding model.
            response_offset: (n,) train mean over train std per neuron.
            train_images: (N, 1, H, W) normalised train images: their rates set ``a``, ``b`` and ``M``.
        """
        self.model.load_state_dict({k: v for k, v in fitted.state_dict().items() if not k.startswith("gain.")})
        self.response_offset.copy_(torch.as_tensor(response_offset, dtype=torch.float32))
        rates = torch.cat([self.model.image_rates(train_images[i : i + batch_size].to(self.rate_mean.device)).float()
                           for i in range(0, len(train_images), batch_size)])
        self.log_rate_mean.copy_(rates.clamp_min(LOG_FLOOR).log().mean(0))
        self.rate_mean.copy_(rates.mean(0))
        self.image_norm.fill_(2.0 * float(self._likelihood_rows(rates).norm(dim=1).max().clamp_min(1e-6)))

    def set_rule(self, rule: str) -> None:
        """Score by ``rule`` ('correlation' | 'log_likelihood') from now on."""
        self.rule.fill_(IDENTIFICATION_RULES.index(rule))

    def _likelihood_rows(self, rates: torch.Tensor) -> torch.Tensor:
        """(B, n) rates -> (B, 2n) ``[log l - a, -(l - b)]``, before padding."""
        return torch.cat([rates.clamp_min(LOG_FLOOR).log() - self.log_rate_mean, -(rates - self.rate_mean)], 1)

    def image_embedding(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) normalised images -> (B, n) centred rates (correlation) or (B, 2n + 1) padded rows."""
        rates = self.model.image_rates(images).float()
        if self.rule_name == "correlation":
            return centred(rates)
        rows = self._likelihood_rows(rates)
        pad = (self.image_norm**2 - rows.square().sum(1, keepdim=True)).clamp_min(0.0).sqrt()
        return torch.cat([rows, pad], 1) / self.image_norm

    def response_embedding(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n) z-scored responses and a (B, n) or (n,) 0/1 mask (masked neurons set to their train mean, 0)
        -> (B, n) (correlation) or (B, 2n + 1) (log-likelihood)."""
        z = responses.float() if neuron_mask is None else responses.float() * neuron_mask.to(torch.float32)
        v = z + self.response_offset
        if self.rule_name == "correlation":
            return centred(v)
        return torch.cat([v.clamp_min(0.0), torch.ones_like(v), torch.zeros_like(v[:, :1])], 1)
