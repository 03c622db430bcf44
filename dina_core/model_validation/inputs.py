"""How grey stimuli are fed to a network: channels, size and normalisation, all recorded in the outputs.

A recording's grey levels (any range) are first mapped to [0, 1] by the recording's own minimum and maximum over
all its images (one affine map: contrast is kept), resized with bilinear interpolation and antialiasing, replicated
to the network's channels and normalised per channel: ``(grey01 - mean[c]) / std[c]``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DinaError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation: what its trained weights expect
IMAGENET_STD = (0.229, 0.224, 0.225)
# Shorter side of the network's input, in pixels. ImageNet networks are trained at 224; 112 keeps a ResNet-18 over
# a few thousand stimuli within minutes on 2 CPU cores, and a 36 x 64 stimulus is only upsampled either way.
DEFAULT_SHORT_SIDE = 112


@dataclass(frozen=True)
class InputSpec:
    """Input of one network.

    Attributes:
        channels: 1 or 3 (grey replicated).
        size: None (the stimulus's own size), (h, w) exactly, or via ``short_side`` (aspect ratio kept).
        short_side: the shorter side in pixels when ``size`` is None and this is not None.
        mean, std: per-channel normalisation of the [0, 1] grey levels (length ``channels``).
        grey_range: (lo, hi) grey levels of the recording mapped to 0 and 1 (set by :meth:`for_recording`).
    """

    channels: int = 3
    size: tuple[int, int] | None = None
    short_side: int | None = DEFAULT_SHORT_SIDE
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    grey_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise DinaError(f"--input-channels {self.channels}: expected 1 or 3")
        if len(self.mean) != self.channels or len(self.std) != self.channels or min(self.std) <= 0:
            raise DinaError(f"input normalisation mean {self.mean} / std {self.std}: expected {self.channels} "
                            "values each, std > 0")

    def for_recording(self, images: np.ndarray) -> "InputSpec":
        """This spec with ``grey_range`` set to (min, max) of a recording's (n, H, W) images."""
        lo, hi = float(np.min(images)), float(np.max(images))
        return InputSpec(**{**asdict(self), "grey_range": (lo, hi if hi > lo else lo + 1.0)})

    def input_shape(self, image_shape: tuple[int, int]) -> tuple[int, int]:
        """(h, w) fed to the network for stimuli of ``image_shape``."""
        if self.size is not None:
            return tuple(self.size)
        if self.short_side is None:
            return tuple(image_shape)
        scale = self.short_side / min(image_shape)
        return max(1, round(image_shape[0] * scale)), max(1, round(image_shape[1] * scale))

    def batch(self, images: np.ndarray) -> torch.Tensor:
        """(B, H, W) grey levels -> (B, channels, h, w) float32 network input."""
        lo, hi = self.grey_range
        x = (torch.as_tensor(np.asarray(images, dtype=np.float32)) - lo) / (hi - lo)
        x = x[:, None]
        shape = self.input_shape(tuple(x.shape[2:]))
        if shape != tuple(x.shape[2:]):
            x = F.interpolate(x, size=shape, mode="bilinear", align_corners=False,
                              antialias=shape[0] < x.shape[2] or shape[1] < x.shape[3])
        x = x.expand(-1, self.channels, -1, -1)
        mean = torch.tensor(self.mean, dtype=torch.float32)[None, :, None, None]
        std = torch.tensor(self.std, dtype=torch.float32)[None, :, None, None]
        return ((x - mean) / std).contiguous()

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def parse_size(text: str | None) -> dict:
    """``--input-size`` value -> InputSpec fields: 'native', N (shorter side) or HxW."""
    if text is None:
        return {}
    text = str(text).strip().lower()
    if text == "native":
        return {"size": None, "short_side": None}
    if re.fullmatch(r"\d{1,4}", text) and 8 <= int(text) <= 2048:
        return {"size": None, "short_side": int(text)}
    match = re.fullmatch(r"(\d{1,4})x(\d{1,4})", text)
    if match and all(8 <= int(v) <= 2048 for v in match.groups()):
        return {"size": (int(match[1]), int(match[2])), "short_side": None}
    raise DinaError(f"--input-size {text!r}: expected 'native', a shorter side N or HxW (8 to 2048 pixels)")


def default_input(kind: str, channels: int | None = None, size: str | None = None,
                  declared: dict | None = None) -> InputSpec:
    """The input a network of ``kind`` gets, with the command line's overrides.

    torchvision and TorchScript: 3 channels, shorter side ``DEFAULT_SHORT_SIDE``, ImageNet normalisation. A python
    factory's module may declare its own (``declared``: the returned module's ``dina_input`` attribute, a dict of
    InputSpec fields). One channel without a declared normalisation: mean 0.5, std 0.25 of the [0, 1] grey levels.
    """
    fields = dict(declared or {})
    if channels is not None:
        fields["channels"] = int(channels)
    fields.update(parse_size(size))
    c = int(fields.get("channels", 3))
    if "mean" not in fields or len(fields["mean"]) != c:
        fields["mean"] = IMAGENET_MEAN if c == 3 else (0.5,)
        fields["std"] = IMAGENET_STD if c == 3 else (0.25,)
    for key in ("mean", "std", "size"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    try:
        return InputSpec(**{k: v for k, v in fields.items() if k in InputSpec.__dataclass_fields__})
    except (TypeError, ValueError) as exc:
        raise DinaError(f"network input for {kind}: {exc}") from None
