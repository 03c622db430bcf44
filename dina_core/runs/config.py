"""Training configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DictConfig


@dataclass
class TrainConfig(DictConfig):
    """How a model is fitted. Defaults suit a few thousand training images on 2 CPU cores."""

    epochs: int = 25  # upper bound; early stopping usually ends sooner
    batch_size: int = 256  # pairs per step: each pair's negatives are the other pairs in the batch
    lr: float = 2e-3  # peak AdamW learning rate, reached after warm-up
    weight_decay: float = 0.1  # decoupled weight decay: capacity must match a few thousand images
    warmup_epochs: float = 1.0  # linear warm-up before the cosine decay
    patience: int = 5  # epochs without validation improvement before stopping
    seed: int = 0  # seeds initialisation, batch order and dropout; CPU runs are bit-reproducible
    device: str = "auto"  # 'auto' picks CUDA when present, else CPU
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    shuffle_pairs: bool = False  # train on permuted image-response pairs: the leakage-guarding null
    validation_fraction: float = 0.1  # share of train images held out when the file has no validation tier

