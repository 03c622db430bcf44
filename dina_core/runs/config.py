"""Training configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DictConfig, why


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
    shift_pixels: int = why(2, "shift augmentation: each training image moves by up to this many pixels (same "
                               "response), so a few thousand images teach more than their exact pixels "
                               "(validation top-1 0.333 -> 0.369 on the simulator, 1,000 images)")
    behavior: bool = why(False, "correct each trial for the state its behaviour columns predict (per-neuron "
                                "offset and gain fit on train); ignored for recordings without behaviour")
    tune_level_weights: bool = why(True, "after training, weight each aligned level's retrieval score by what "
                                         "validation retrieval prefers (levels decode different things)")

