"""Device choice and mixed precision."""

from __future__ import annotations

import contextlib

import torch

from ..errors import DinaError


class DeviceError(DinaError):
    """A device name torch does not know, or a device this machine does not have; ``reason`` says which."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"device {name!r}: {reason}")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; any other string is passed to torch.device.

    Raises:
        DeviceError: ``name`` is not a device torch knows, or one this machine does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(name, "expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(name, "CUDA is not available on this machine; expected 'cpu' or 'auto'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(name, f"this machine has {torch.cuda.device_count()} CUDA device(s); "
                                    f"expected an index below that")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(name, "MPS is not available on this machine; expected 'cpu' or 'auto'")
    return device


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA; a no-op context on CPU (CPU bf16 is slower than fp32 for these sizes)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
