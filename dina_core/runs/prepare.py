"""From a DinaData recording to normalised tensors resident on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.behavior import BehaviorCorrection
from ..data.format import DinaData
from ..errors import CheckpointError, DatasetError
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
    def from_dict(cls, values: dict, n_neurons: int | None = None, source: str = "checkpoint") -> "Preprocessing":
        """Rebuild from :meth:`to_dict`; with ``n_neurons`` (the model's input width), refuse what would not fit it.

        Raises:
            CheckpointError: naming ``source`` and the field (``preprocessing.response_normalizer.mean``, ...):
                a normaliser of another length than the model's neurons, non-finite statistics or a standard
                deviation <= 0, or ``neuron_indices`` that are not ``n_neurons`` distinct indices >= 0.
        """
        indices, behavior = values.get("neuron_indices"), values.get("behavior")
        if n_neurons is not None:
            _check(values, indices, behavior, int(n_neurons), source)
        return cls(ResponseNormalizer.from_dict(values["response_normalizer"]),
                   ImageNormalizer.from_dict(values["image_normalizer"]),
                   None if indices is None else np.asarray(indices, dtype=np.int64),
                   None if behavior is None else BehaviorCorrection.from_dict(behavior))


def _check(values: dict, indices, behavior, n: int, source: str) -> None:
    """The checks of ``Preprocessing.from_dict``: every array fits a model reading ``n`` neurons."""
    def refuse(field: str, expected: str, found: str) -> CheckpointError:
        return CheckpointError(f"{source}: field 'preprocessing.{field}': expected {expected}, found {found}")

    def numbers(field: str, value, shape: tuple, positive: bool = False) -> None:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise refuse(field, f"numbers of shape {shape}", type(value).__name__) from None
        if array.shape != shape:
            raise refuse(field, f"shape {shape} (the model reads {n} neurons)", f"shape {array.shape}")
        bad = np.flatnonzero(~np.isfinite(array) | ((array <= 0) if positive else False))
        if bad.size:
            expected = ("a finite value" if array.ndim == 0 else "finite values") + (" > 0 (it divides)" * positive)
            raise refuse(field, expected, f"{array.item()}" if array.ndim == 0 else
                         f"{bad.size} that are not, the first {array.ravel()[bad[0]]} at position {bad[0]}")

    responses, images = values["response_normalizer"], values["image_normalizer"]
    numbers("response_normalizer.mean", responses["mean"], (n,))
    numbers("response_normalizer.std", responses["std"], (n,), positive=True)
    numbers("image_normalizer.mean", images["mean"], ())
    numbers("image_normalizer.std", images["std"], (), positive=True)
    if indices is not None:
        array = np.asarray(indices)
        if array.shape != (n,) or array.dtype.kind not in "iu":
            raise refuse("neuron_indices", f"{n} integer columns of the recording, one per neuron the model reads",
                         f"shape {array.shape}, type {array.dtype}")
        distinct, counts = np.unique(array, return_counts=True)
        if array.min() < 0 or (counts > 1).any():
            found = (f"negative indices {distinct[distinct < 0][:5].tolist()}" if array.min() < 0 else
                     f"{int((counts > 1).sum())} repeated, e.g. column {distinct[counts > 1][0]}")
            raise refuse("neuron_indices", "distinct columns >= 0 (a negative one would wrap to the last neurons)",
                         found)
    if behavior is not None:
        k = np.size(behavior.get("mean", []))
        for field, shape, positive in (("mean", (k,), False), ("std", (k,), True), ("offset", (k + 1, n), False),
                                       ("log_gain", (k, n), False)):
            numbers(f"behavior.{field}", behavior.get(field), shape, positive)


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
