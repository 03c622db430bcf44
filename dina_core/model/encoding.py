"""The field's standard encoding model: a convolutional core, a Gaussian readout per neuron, Poisson rates.

The Sensorium 2022 baseline (Willeke et al. 2022; neuralpredictors' ``Stacked2dCore`` and ``FullGaussian2d``)
in DINA's own code, sized for 2 CPU cores: a few convolutions with batch norm and ELU map the stimulus to
feature maps; each neuron reads the maps at one learned position (Lurz et al. 2021): its mean ``mu`` in
[-1, 1]^2 is sampled with ``grid_sample``, jittered while training by a learned ``sigma`` (the readout
explores around its position, then settles), and its learned feature weights and bias give the input of
``ELU + 1``, a positive rate. With behaviour, a per-neuron gain ``exp(behaviour . w_i)`` multiplies the rate
(arousal scales V1 responses; Sensorium+). Module names follow neuralpredictors' (``core.features.layer0.conv``,
``readout.mu``) so analyses can address layers by name.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError, DictConfig, check_bool, check_float, check_int, why
from ..limits import check_sizes

IDENTIFICATION_RULES = ("correlation", "log_likelihood")
LOG_FLOOR = 1e-8  # log(rate) of a rate that underflowed to 0 stays finite when a likelihood is scored
_GAIN_LIMIT = 3.0  # |log gain| is clipped here: an outlying behaviour value cannot blow a trial's rates up


@dataclass
class EncodingConfig(DictConfig):
    """Architecture, training and identification rule of the encoding-model baseline.

    Sized for 2 CPU cores at Sensorium scale (5,335 neurons, ~4,500 train images of 36 x 64); its training time
    and scores there are measured by ``bench/bench_encoding.py`` (figures in ``bench/results/encoding_cpu.md``).
    """

    core_channels: int = why(32, "feature maps per core layer (Sensorium's baseline uses 64; 32 fits 2 CPU cores)")
    core_layers: int = why(4, "convolutions in the core, the input layer included (as the Sensorium baseline)")
    input_kernel: int = why(7, "the first layer's kernel side: V1 receptive fields span several pixels at 36 x 64")
    input_stride: int = why(2, "stride of the first layer: the core then runs at half resolution (18 x 32), four "
                               "times fewer operations; the readout interpolates between locations anyway")
    hidden_kernel: int = why(3, "kernel side of the later layers")
    depth_separable: bool = why(True, "later layers as a depthwise then a 1 x 1 convolution (as the Sensorium "
                                      "baseline): far fewer weights and operations than a full convolution")
    init_mu_range: float = why(0.3, "readout positions start uniform in [-r, r]^2 of the map (neuralpredictors)")
    init_sigma: float = why(0.1, "readout jitter at start, in map units; learned, used only while training")
    readout_l1: float = why(0.01, "L1 penalty on each neuron's feature weights (mean absolute weight): each neuron "
                                  "reads few features, as Lurz et al.'s readout regulariser")
    behavior_gain: bool = why(True, "multiply each neuron's rate by exp(behaviour . w_i) fitted with the model "
                                    "(Sensorium+ uses behaviour; no effect without behaviour columns)")
    epochs: int = why(12, "upper bound on passes over the train images; early stopping usually ends sooner")
    batch_size: int = why(64, "trials per step")
    lr: float = why(5e-3, "peak AdamW learning rate (warm-up over one epoch, then cosine decay)")
    weight_decay: float = why(1e-4, "decoupled weight decay of the core's kernels")
    patience: int = why(3, "epochs without a better validation correlation before stopping")
    identification: str = why("auto", "how a response picks its image: 'correlation' (Pearson over neurons of the "
                                      "observed and predicted responses), 'log_likelihood' (Poisson) or 'auto': "
                                      "the one with the higher single-trial validation top-1")

    def __post_init__(self) -> None:
        for size in ("core_channels", "core_layers", "input_kernel", "hidden_kernel", "epochs", "batch_size",
                     "patience"):
            check_int(self, size, lo=1)
        check_int(self, "input_stride", lo=1, hi=4)
        check_bool(self, "depth_separable")
        check_bool(self, "behavior_gain")
        check_float(self, "init_mu_range", lo=0.0, hi=1.0)
        check_float(self, "init_sigma", lo=0.0)
        check_float(self, "readout_l1", lo=0.0)
        check_float(self, "lr", lo=0.0, lo_open=True)
        check_float(self, "weight_decay", lo=0.0)
        if self.identification not in (*IDENTIFICATION_RULES, "auto"):
            raise ConfigError(type(self).__name__, "identification",
                              f"one of {', '.join((*IDENTIFICATION_RULES, 'auto'))}", self.identification)
        check_sizes(self)  # the documented maxima (limits.MODEL_MAXIMA), wherever a config is made


def _layer(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=conv, norm=nn.BatchNorm2d(channels), nonlin=nn.ELU()))


class Core(nn.Module):
    """Stacked convolutions with batch norm and ELU: (B, 1, H, W) -> (B, C, ceil(H/s), ceil(W/s))."""

    def __init__(self, config: EncodingConfig):
        super().__init__()
        c, k, kh = config.core_channels, config.input_kernel, config.hidden_kernel
        layers = [_layer(nn.Conv2d(1, c, k, stride=config.input_stride, padding=k // 2, bias=False), c)]
        for _ in range(config.core_layers - 1):
            if config.depth_separable:
                conv = nn.Sequential(OrderedDict(depthwise=nn.Conv2d(c, c, kh, padding=kh // 2, groups=c, bias=False),
                                                 pointwise=nn.Conv2d(c, c, 1, bias=False)))
            else:
                conv = nn.Conv2d(c, c, kh, padding=kh // 2, bias=False)
            layers.append(_layer(conv, c))
        self.features = nn.Sequential(OrderedDict((f"layer{i}", layer) for i, layer in enumerate(layers)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)


class GaussianReadout(nn.Module):
    """Each neuron reads the core's maps at one learned position (Lurz et al. 2021).

    Attributes:
        mu: (n_neurons, 2) position (x = column, y = row) in grid_sample's [-1, 1] coordinates.
        sigma: (n_neurons, 2) jitter sd of the position while training (per axis).
        features: (C, n_neurons) feature weights (channels first: the product with the sampled maps is then
            contiguous, several times faster on CPU than an einsum or a transposed weight).
        bias: (n_neurons,) input of the output nonlinearity when every feature reads 0.
    """

    def __init__(self, n_neurons: int, channels: int, init_mu_range: float, init_sigma: float):
        super().__init__()
        self.mu = nn.Parameter(torch.empty(n_neurons, 2).uniform_(-init_mu_range, init_mu_range))
        self.sigma = nn.Parameter(torch.full((n_neurons, 2), float(init_sigma)))
        self.features = nn.Parameter(torch.randn(channels, n_neurons) / channels)
        self.bias = nn.Parameter(torch.zeros(n_neurons))

    def grid(self, batch: int, sample: bool) -> torch.Tensor:
        """(batch, n_neurons, 1, 2) read-out positions: ``mu``, plus Gaussian jitter when ``sample``, in [-1, 1]."""
        mu = self.mu.unsqueeze(0).expand(batch, -1, -1)
        if sample:
            mu = mu + torch.randn_like(mu) * self.sigma
        return mu.clamp(-1.0, 1.0).unsqueeze(2)

    def forward(self, maps: torch.Tensor, sample: bool | None = None) -> torch.Tensor:
        """maps: (B, C, h, w) -> (B, n_neurons) pre-nonlinearity drive; ``sample`` defaults to training mode."""
        sample = self.training if sample is None else sample
        grid = self.grid(len(maps), sample).to(maps.dtype)
        values = F.grid_sample(maps, grid, align_corners=True).squeeze(-1)  # (B, C, n_neurons)
        return (values * self.features.to(values.dtype)).sum(1) + self.bias

    def l1(self) -> torch.Tensor:
        """Mean absolute feature weight: the readout's sparsity penalty before its weight."""
        return self.features.abs().mean()


class EncodingModel(nn.Module):
    """Image -> per-neuron Poisson rates, optionally scaled by a per-neuron gain from behaviour."""

    def __init__(self, config: EncodingConfig, n_neurons: int, n_behavior: int = 0):
        super().__init__()
        self.config, self.n_neurons = config, int(n_neurons)
        self.core = Core(config)
        self.readout = GaussianReadout(n_neurons, config.core_channels, config.init_mu_range, config.init_sigma)
        self.n_behavior = int(n_behavior) if config.behavior_gain else 0
        self.gain = nn.Linear(self.n_behavior, n_neurons, bias=False) if self.n_behavior else None
        if self.gain is not None:
            nn.init.zeros_(self.gain.weight)  # start at gain 1: behaviour must earn its effect

    def init_rates(self, mean_rates: torch.Tensor) -> None:
        """Set the readout bias so an all-zero drive gives each neuron its (n_neurons,) mean train rate."""
        m = mean_rates.clamp_min(1e-3).to(self.readout.bias)
        with torch.no_grad():  # the inverse of ELU + 1: log(m) below 1, m - 1 above
            self.readout.bias.copy_(torch.where(m < 1, m.log(), m - 1))

    def image_rates(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 1, H, W) normalised -> (B, n_neurons) rates at average behaviour (gain 1)."""
        return F.elu(self.readout(self.core(images))) + 1.0

    def log_gain(self, behavior: torch.Tensor) -> torch.Tensor:
        """behavior: (B, k) standardised columns -> (B, n_neurons) log gain (zeros without a gain)."""
        if self.gain is None:
            return torch.zeros(len(behavior), self.n_neurons, device=behavior.device)
        return self.gain(behavior.to(self.gain.weight.dtype)).clamp(-_GAIN_LIMIT, _GAIN_LIMIT)

    def forward(self, images: torch.Tensor, behavior: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) images and (B, k) standardised behaviour -> (B, n_neurons) rates of those trials."""
        rates = self.image_rates(images)
        if self.gain is None or behavior is None:
            return rates
        return rates * self.log_gain(behavior).exp().to(rates.dtype)
