"""Training configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import ConfigError, DictConfig, check_bool, check_float, check_int, why

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")  # what torch.device understands and DINA supports
SEED_LIMIT = 2**32  # numpy and torch generators take seeds in [0, 2**32) everywhere DINA seeds them


@dataclass
class TrainConfig(DictConfig):
    """How a model is fitted. Defaults suit a few thousand training images on 2 CPU cores."""

    epochs: int = why(25, "upper bound; early stopping usually ends sooner")
    batch_size: int = why(256, "pairs per step: each pair's negatives are the other pairs in the batch")
    lr: float = why(2e-3, "peak AdamW learning rate, reached after warm-up")
    weight_decay: float = why(0.1, "decoupled weight decay: capacity must match a few thousand images")
    warmup_epochs: float = why(1.0, "linear warm-up before the cosine decay")
    patience: int = why(5, "epochs without validation improvement before stopping")
    seed: int = why(0, "seeds initialisation, batch order and dropout; CPU runs are bit-reproducible")
    device: str = why("auto", "'auto' picks CUDA when present, else CPU")
    amp: bool = why(True, "bf16 autocast on CUDA (ignored on CPU)")
    shuffle_pairs: bool = why(False, "train on permuted image-response pairs: the leakage-guarding null")
    validation_fraction: float = why(0.1, "share of train images held out when the file has no validation tier")

    def __post_init__(self) -> None:
        check_int(self, "epochs", lo=1)  # a run of no epoch would save an untrained model
        check_int(self, "batch_size", lo=2)  # a batch of one pair has no negatives: InfoNCE has nothing to contrast
        check_float(self, "lr", lo=0.0, lo_open=True)
        check_float(self, "weight_decay", lo=0.0)
        check_float(self, "warmup_epochs", lo=0.0)
        check_int(self, "patience", lo=1)
        check_int(self, "seed", lo=0, hi=SEED_LIMIT - 1)
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(type(self).__name__, "device", "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'", self.device)
        check_bool(self, "amp")
        check_bool(self, "shuffle_pairs")
        check_float(self, "validation_fraction", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
