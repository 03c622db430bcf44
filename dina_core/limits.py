"""Upper bounds on the size settings, and the memory check behind them.

A size setting is bounded twice, because no single number knows the recording:

* each model size field has a documented maximum (``MODEL_MAXIMA``; the simulator's are in
  ``simulate.config``), far beyond any useful value, so a slip (``trunk_dim`` 1e7 for 256) is refused
  at once, naming the field, before anything is allocated: each config's ``__post_init__`` calls
  :func:`check_sizes`, so every path that makes one (forms, ``--config``, the API, a checkpoint) is bounded;
* the memory the model or the simulation would take is estimated before it is allocated and compared
  with the memory free now (:func:`check_memory`): within the maxima, 100,000 neurons and a wide trunk
  can still need more than the machine has.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import ConfigError
from .errors import DinaError, DiskFullError

# {config class: {field: maximum}}; a tuple field's maximum holds for each of its items, and
# "<field>:length" bounds its number of items. The model kinds' configs live in dina_core.model.
MODEL_MAXIMA: dict[str, dict[str, int]] = {
    "ModelConfig": {
        "stage_channels": 2048, "stage_channels:length": 8,  # 8 halvings take a 36 x 64 image below a pixel
        "latent_channels": 1024, "global_dim": 16384, "trunk_dim": 16384, "linear_dim": 16384,
        "stage0_pool": 64, "stage0_filters": 256,
    },
    "LinearConfig": {"embed_dim": 16384},
    "EncodingConfig": {"core_channels": 2048, "core_layers": 64, "input_kernel": 63, "hidden_kernel": 63},
}


class SizeError(ConfigError, DinaError):
    """A size field above its maximum: a ConfigError (the forms and ``--config`` name its field) and a DinaError
    (a training that meets it reports it as the user's mistake)."""


def check_sizes(config):
    """Refuse a model config whose size fields exceed ``MODEL_MAXIMA``; returns ``config``.

    Raises:
        SizeError: naming the class, the field, the bound and the value.
    """
    owner = type(config).__name__
    for name, maximum in MODEL_MAXIMA.get(owner, {}).items():
        field, _, what = name.partition(":")
        value = getattr(config, field)
        if what == "length":
            if len(value) > maximum:
                raise SizeError(owner, field, f"a list of at most {maximum} items", value)
        elif any(v > maximum for v in (value if isinstance(value, tuple) else (value,))):
            items = "integers" if isinstance(value, tuple) else "an integer"
            raise SizeError(owner, field, f"{items} >= 1 and <= {maximum}", value)
    return config


def available_memory(device: str = "cpu") -> int | None:
    """Bytes that can be allocated now on ``device`` ('cpu', 'cuda', 'cuda:1', 'mps'), or None when unknown."""
    if device.startswith("cuda"):
        import torch
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 / 10 else f"{n / 2**20:,.0f} MB"


def check_memory(need: float, what: str, expected: str, device: str = "cpu") -> None:
    """Refuse work that would need more memory than ``device`` has free now.

    Args:
        need: the estimated bytes.
        what: the work and its sizes, as the message starts ("simulating 100,000 neurons x 3,750 trials").
        expected: what would fit ("fewer neurons or images").
        device: where the memory is taken.

    Raises:
        DinaError: ``what: needs about X of memory, Y is free on device; expected ...``.
    """
    free = available_memory(device)
    if free is not None and need > free:
        raise DinaError(f"{what}: needs about {gigabytes(need)} of memory and {gigabytes(free)} is free on "
                        f"{device}; expected {expected}")


def check_disk(target: str | os.PathLike, total: float, largest: float, what: str) -> None:
    """Refuse files of ``total`` bytes (the largest ``largest``) under ``target`` that its disk (that of its nearest
    existing folder), or this process's file size limit, cannot take now: said before any is written, as the full
    disk they would meet.

    Raises:
        DiskFullError: naming ``target`` and the sizes.
    """
    import shutil

    folder = Path(target).absolute()
    while not folder.is_dir():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if total > free:
        raise DiskFullError(target, f"{what} need about {gigabytes(total)} and {gigabytes(free)} is free",
                            earlier=False)
    try:
        import resource
    except ImportError:  # Windows: no per-process file size limit
        return
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and largest > limit:
        raise DiskFullError(target, f"{what} hold a file of about {gigabytes(largest)} and files are limited "
                            f"to {gigabytes(limit)}", earlier=False)
