"""From a DinaData recording to normalised tensors resident on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.behavior import BehaviorCorrection
from ..data.format import DinaData
from ..errors import DatasetError
from ..data.preprocess import ImageNormalizer, ResponseNormalizer, fit_normalizers


@dataclass
class Preprocessing:
    """Everything fit on the train tier that evaluation must apply identically.

    Attributes:
        response_normalizer: per-neuron z-scoring fit on train trials.
        image_normalizer: scalar pixel mean/std fit on train images.
        neuron_indices: (n_selected,) columns of the recording the model sees, or None for all.
        behavior: state correction of the z-scored responses (``data.behavior``), or None.
    """

    response_normalizer: ResponseNormalizer
    image_normalizer: ImageNormalizer
    neuron_indices: np.ndarray | None = None
    behavior: BehaviorCorrection | None = None

    @classmethod
    def fit(cls, data: DinaData, neuron_indices: np.ndarray | None = None,
            behavior: bool = False) -> "Preprocessing":
        """Fit the normalisers on the train tier of ``data`` (see ``fit_normalizers``), on ``neuron_indices`` only.

        ``behavior=True`` also fits the state correction on the train tier when ``data`` carries
        behaviour (``data.behavior``); a recording without it gets none.
        """
        indices = None if neuron_indices is None else np.asarray(neuron_indices, dtype=np.int64)
        pre = cls(*fit_normalizers(data, neuron_indices), indices)
        if behavior and data.behavior is not None and data.behavior.shape[1] > 0:
            train = data.tier_mask("train")
            pre.behavior = BehaviorCorrection.fit(pre.responses(data.responses[train]), data.behavior[train])
        return pre

    def responses(self, responses: np.ndarray, behavior: np.ndarray | None = None,
                  source: str = "recording") -> np.ndarray:
        """(n, n_neurons) raw (and (n, k) behaviour when the state is corrected) -> (n, n_selected) float32."""
        if self.neuron_indices is not None:
            responses = responses[:, self.neuron_indices]
        z = self.response_normalizer.transform(responses).astype(np.float32, copy=False)
        if self.behavior is None:
            return z
        expected = (f"({len(z)}, {self.behavior.mean.size}) behaviour columns, as the model corrects "
                    f"responses for behaviour")
        behavior = None if behavior is None else np.asarray(behavior)
        if behavior is None or behavior.shape != (len(z), self.behavior.mean.size):
            raise DatasetError(source, "/trials/behavior", expected,
                               "none" if behavior is None else f"shape {behavior.shape}")
        return self.behavior.transform(z, behavior)

    def images(self, images: np.ndarray) -> np.ndarray:
        """(n, H, W) grey levels -> (n, 1, H, W) float32 normalised."""
        return self.image_normalizer.transform(images).astype(np.float32, copy=False)[:, None]

    def to_dict(self) -> dict:
        return {
            "response_normalizer": self.response_normalizer.to_dict(),
            "image_normalizer": self.image_normalizer.to_dict(),
            "neuron_indices": None if self.neuron_indices is None else self.neuron_indices.tolist(),
            "behavior": None if self.behavior is None else self.behavior.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        indices, behavior = values.get("neuron_indices"), values.get("behavior")
        return cls(ResponseNormalizer.from_dict(values["response_normalizer"]),
                   ImageNormalizer.from_dict(values["image_normalizer"]),
                   None if indices is None else np.asarray(indices, dtype=np.int64),
                   None if behavior is None else BehaviorCorrection.from_dict(behavior))


@dataclass
class PreparedData:
    """Normalised recording on one device.

    Attributes:
        images: (n_images, 1, H, W) float32 normalised stimuli.
        responses: (n_trials, n_selected) float32 normalised responses.
        image_index: (n_trials,) int64 row of ``images`` per trial.
        tier_trials: {'train' | 'validation' | 'test': (n,) int64 trial indices}.
    """

    images: torch.Tensor
    responses: torch.Tensor
    image_index: torch.Tensor
    tier_trials: dict[str, np.ndarray]

    @property
    def n_neurons(self) -> int:
        return int(self.responses.shape[1])

    @property
    def image_shape(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])


def split_trials(data: DinaData, validation_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Trial indices per tier; when the file has no validation trials, hold out whole train images."""
    tiers = {t: np.flatnonzero(data.tier_mask(t)) for t in ("train", "validation", "test")}
    if len(tiers["validation"]) == 0:
        train_images = np.unique(data.image_index[tiers["train"]])
        rng = np.random.default_rng(seed)
        n_held = max(1, int(round(validation_fraction * len(train_images))))
        held = rng.choice(train_images, size=n_held, replace=False)
        is_held = np.isin(data.image_index[tiers["train"]], held)
        tiers["validation"] = tiers["train"][is_held]
        tiers["train"] = tiers["train"][~is_held]
    return tiers


def prepare(data: DinaData, preprocessing: Preprocessing, device: torch.device | str = "cpu",
            validation_fraction: float = 0.1, seed: int = 0) -> PreparedData:
    """Normalise the whole recording once and move it to ``device`` (no per-batch host work)."""
    device = torch.device(device)
    return PreparedData(
        images=torch.from_numpy(preprocessing.images(data.images)).to(device),
        responses=torch.from_numpy(preprocessing.responses(data.responses, data.behavior,
                                                           str(data.attrs.get("name", "recording")))).to(device),
        image_index=torch.from_numpy(np.asarray(data.image_index, dtype=np.int64)).to(device),
        tier_trials=split_trials(data, validation_fraction, seed),
    )
