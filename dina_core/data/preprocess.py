"""Response and image normalisation, fit on the train tier only.

Statistics come from train trials (and the images shown on them) so that nothing about
validation or test leaks into the model. The ``meta/statistics`` shipped with Sensorium
folders are not used: they were computed over all tiers.

Both normalisers round-trip through plain dicts of floats (``to_dict``/``from_dict``) so
they can live in a checkpoint loaded with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dina_core.data.format import DinaData
from dina_core.errors import DinaError

_ABS_FLOOR = 1e-6  # keeps the divisor positive even when every value is identical


@dataclass
class ResponseNormalizer:
    """Per-neuron z-scoring: ``(r - mean) / std``.

    ``std`` is floored at ``rel_floor`` x the mean std across neurons (1 %, as in
    neuralpredictors). Why: Sensorium recordings contain neurons that are silent on
    almost every train trial; their std is ~0, and dividing by it would turn a single
    spurious event into a z-score of hundreds that dominates the loss. With the floor such
    neurons stay near 0 after normalisation.

    Attributes:
        mean: (n_neurons,) float32 train-tier mean, in the recording's response unit.
        std: (n_neurons,) float32 train-tier std after the floor (always > 0).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, responses_train: np.ndarray, rel_floor: float = 0.01) -> ResponseNormalizer:
        """Fit on train-tier responses.

        Args:
            responses_train: (n_train_trials, n_neurons) responses of train trials only.
            rel_floor: std floor as a fraction of the mean std across neurons.
        """
        if responses_train.ndim != 2 or responses_train.shape[0] == 0:
            raise ValueError(f"need (n_trials>0, n_neurons) responses, got "
                             f"{responses_train.shape}")
        values = responses_train.astype(np.float64, copy=False)
        std = values.std(axis=0)
        floor = max(rel_floor * float(std.mean()), _ABS_FLOOR)
        return cls(values.mean(axis=0).astype(np.float32),
                   np.maximum(std, floor).astype(np.float32))

    def transform(self, responses: np.ndarray) -> np.ndarray:
        """(..., n_neurons) responses -> (..., n_neurons) float32 z-scores."""
        if responses.shape[-1] != self.mean.size:
            raise ValueError(f"normaliser fit on {self.mean.size} neurons, got "
                             f"{responses.shape[-1]}")
        return ((responses - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> ResponseNormalizer:
        return cls(np.asarray(state["mean"], dtype=np.float32),
                   np.asarray(state["std"], dtype=np.float32))


@dataclass
class ImageNormalizer:
    """Scalar pixel standardisation: ``(x - mean) / std`` over all train-image pixels.

    One scalar pair (not per pixel) keeps spatial contrast intact, and grey levels of
    any range (0..255 or 0..1) come out comparable.

    Attributes:
        mean: mean grey level of the images shown on train trials.
        std: their pixel std (floored at 1e-6 so a blank stimulus set cannot divide by 0).
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, images_train: np.ndarray) -> ImageNormalizer:
        """Fit on (n_train_images, H, W) images shown on train trials (each image once)."""
        if images_train.size == 0:
            raise ValueError("need at least one train image")
        values = images_train.astype(np.float64, copy=False)
        return cls(float(values.mean()), max(float(values.std()), _ABS_FLOOR))

    def transform(self, images: np.ndarray) -> np.ndarray:
        """(..., H, W) grey levels -> float32 standardised pixels."""
        return ((images - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, state: dict) -> ImageNormalizer:
        return cls(float(state["mean"]), float(state["std"]))


def check_neuron_indices(neuron_indices, n_neurons: int) -> None:
    """A neuron subset must be a non-empty 1-D list of distinct columns in ``[0, n_neurons)``.

    A repeated index would feed one neuron to the model several times while claiming a larger
    population; an index out of range would fail later, or wrap around when negative.

    Raises:
        DinaError: naming the offending indices.
    """
    indices = np.asarray(neuron_indices)
    if indices.ndim != 1 or indices.size == 0 or indices.dtype.kind not in "iu":
        raise DinaError(f"neuron subset: expected a non-empty 1-D list of integer neuron indices, "
                        f"found shape {indices.shape}, type {indices.dtype}")
    outside = indices[(indices < 0) | (indices >= n_neurons)]
    if outside.size:
        raise DinaError(f"neuron subset: expected indices in [0, {n_neurons}), found {outside[:5].tolist()}")
    values, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise DinaError(f"neuron subset: expected distinct neurons, found {int((counts > 1).sum())} repeated "
                        f"(e.g. neuron {values[counts > 1][0]} {counts.max()} times): a repeated neuron is one "
                        "neuron counted several times")


def fit_normalizers(data: DinaData, neuron_indices: np.ndarray | None = None, *,
                    rel_floor: float = 0.01) -> tuple[ResponseNormalizer, ImageNormalizer]:
    """Fit both normalisers on the train tier of ``data`` (never validation or test).

    Images are counted once each, however often they were shown on train trials.

    Args:
        data: the recording.
        neuron_indices: (n_selected,) columns the model sees, or None for all; the std floor
            is relative to the mean std of these columns only.
        rel_floor: see :meth:`ResponseNormalizer.fit`.
    """
    train = data.tier_mask("train")
    if neuron_indices is not None:
        check_neuron_indices(neuron_indices, data.n_neurons)
    responses = data.responses[train] if neuron_indices is None else data.responses[train][:, neuron_indices]
    return (ResponseNormalizer.fit(responses, rel_floor),
            ImageNormalizer.fit(data.images[np.unique(data.image_index[train])]))
