"""Inputs the Python API takes from a user's own arrays and files, checked with one-line ``DinaError`` messages."""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from ..data.format import DinaData
from ..errors import DinaError, DinaWarning
from ..model import DinaModel, TwoTowerModel
from ..runs.ensemble import EnsembleModel, first_member
from ..runs.run import Run


def as_recording(recording, what: str) -> tuple[DinaData, str | None]:
    """(recording, its file path or None) from a ``DinaData`` or the path of a DINA file (read and validated)."""
    if isinstance(recording, DinaData):
        return recording, None
    if isinstance(recording, (str, os.PathLike)):
        from ..data.io import read_dataset
        return read_dataset(recording), os.fspath(recording)
    raise DinaError(f"{what}: expected a recording (dina_core.load(path), a DinaData) or the path of a DINA file, "
                    f"found {type(recording).__name__}")


def finite_array(values, what: str, shape: tuple[int | None, ...], expected: str) -> np.ndarray:
    """``values`` as a float32 array of ``shape`` (None: any length there), every value finite.

    Args:
        values: array-like from the user.
        what: how to name it in the message ('DINA.transform: responses').
        shape: expected shape; None entries match any size.
        expected: the expected layout in words, e.g. '(n, 1000) responses, one column per neuron'.
    """
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DinaError(f"{what}: expected {expected} (numbers), found {type(values).__name__} ({exc})") from None
    if array.ndim != len(shape) or any(n is not None and n != s for n, s in zip(shape, array.shape)):
        raise DinaError(f"{what}: expected {expected}, found shape {array.shape}")
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(axis=1)) if array.ndim else [0]
        raise DinaError(f"{what}: expected finite values, found NaN/Inf in rows {list(bad[:5])}"
                        + (" ..." if len(bad) > 5 else ""))
    return array


def positive_int(value, what: str) -> int:
    """``value`` as an int >= 1, refused with a one-line message otherwise (a bool is not a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DinaError(f"{what}: expected an integer >= 1, found {value!r}")
    return int(value)


def _device(run: Run) -> torch.device:
    return next(run.model.parameters()).device


def responses_tensor(run: Run, responses, behavior, what: str) -> torch.Tensor:
    """(n, n_neurons) raw responses (and (n, k) behaviour) -> the run's normalised (n, n_model) tensor.

    The run's own preprocessing (``Run.preprocessing``: neuron subset, train-fitted z-scoring, behaviour
    correction) is applied, so the towers see what they saw in training.
    """
    indices = run.preprocessing.neuron_indices
    n = run.model.n_neurons if indices is None else None
    raw = finite_array(responses, f"{what}: responses", (None, n),
                       f"(n, {n or 'n_neurons'}) raw responses, one column per neuron of the recording")
    if indices is not None and raw.shape[1] <= int(indices.max()):
        raise DinaError(f"{what}: responses: expected at least {int(indices.max()) + 1} columns (the run reads "
                        f"neurons {indices[:3].tolist()}...), found {raw.shape[1]}")
    if behavior is not None:
        behavior = finite_array(behavior, f"{what}: behavior", (len(raw), None), f"({len(raw)}, k) behaviour")
    return torch.from_numpy(run.preprocessing.responses(raw, behavior, source=what)).to(_device(run))


def images_tensor(run: Run, images, what: str) -> torch.Tensor:
    """(n, H, W) raw grey-level images -> the run's normalised (n, 1, H, W) tensor."""
    h, w = run.model.image_shape
    raw = finite_array(images, f"{what}: images", (None, h, w), f"(n, {h}, {w}) grey-level images")
    return torch.from_numpy(run.preprocessing.images(raw)).to(_device(run))


def interpreted_model(run: Run, what: str, dina_only: bool = True) -> TwoTowerModel:
    """The network to look inside: the run's model, or an ensemble's first member (with a ``DinaWarning``).

    Raises:
        DinaError: ``dina_only`` and the model has no feature maps (the linear two-tower).
    """
    if isinstance(run.model, EnsembleModel):
        warnings.warn(f"{what}: a {len(run.model.members)}-seed ensemble; using its first member "
                      f"(seed {run.model.seeds[0]})", DinaWarning, stacklevel=3)
        run = first_member(run)
    if dina_only and not isinstance(run.model, DinaModel):
        raise DinaError(f"{what}: predicted feature maps exist only in a DINA model, this is a {run.kind} model")
    return run.model
