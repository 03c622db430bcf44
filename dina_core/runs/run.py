"""A trained run: the model with what is needed to apply it, and its folder on disk.

Run folder layout:
    RUN/model.pt    best weights and everything needed to rebuild and apply the model (a seed
                    ensemble holds its K members' weights, ``members``, in place of ``state_dict``)
    RUN/run.json    the same configs, history and metadata, for humans and scripts
    RUN/state.pt    only while training: the last finished epoch, for ``resume=True``
    RUN/.dina-writer.lock  only while training: the writer's lock (see ``lock``)
What a training may write over is decided in ``folder``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_path, temp_files
from ..data.format import DinaData
from ..errors import CheckpointError, DinaError
from ..model import TwoTowerModel, build_model
from ..model.device import resolve_device
from .config import TrainConfig
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, atomic_save, check_weights, load_checkpoint
from .ensemble import EnsembleModel
from .folder import MODEL_FILE, STATE_FILE, SUMMARY_FILE, remove_temp_files
from .lock import run_lock
from .prepare import PreparedData, Preprocessing, prepare


@dataclass
class Run:
    """A trained model with what is needed to apply it to a recording."""

    model: TwoTowerModel
    kind: str
    model_config: dict
    train_config: TrainConfig
    preprocessing: Preprocessing
    history: list[dict] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def prepare(self, data: DinaData) -> PreparedData:
        """Normalise ``data`` with this run's train-fitted preprocessing, on the model's device."""
        device = next(self.model.parameters()).device
        return prepare(data, self.preprocessing, device, self.train_config.validation_fraction,
                       self.train_config.seed)


def _weights(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def _payload(run: Run) -> dict:
    model = run.model
    weights = ({"members": [_weights(m) for m in model.members], "seeds": model.seeds}
               if isinstance(model, EnsembleModel) else {"state_dict": _weights(model)})
    return {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "kind": run.kind,
        "model_config": run.model_config, "train_config": run.train_config.to_dict(),
        "n_neurons": model.n_neurons, "image_shape": list(model.image_shape),
        "preprocessing": run.preprocessing.to_dict(), **weights,
        "history": run.history, "metadata": run.metadata,
    }


def save_run(run: Run, run_dir: str | os.PathLike) -> Path:
    """Write ``model.pt`` (atomic) and ``run.json`` into ``run_dir``."""
    run_dir = Path(run_dir)
    payload = _payload(run)
    path = atomic_save(payload, run_dir / MODEL_FILE)
    summary = {k: v for k, v in payload.items() if k not in ("state_dict", "members", "preprocessing")}
    with atomic_path(run_dir / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=float))
    return path


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run from a run folder or a ``model.pt`` file (weights-only load).

    Raises:
        CheckpointError: naming the file and the field: not a DINA checkpoint, weights that are not the model's
            (integer, NaN/Inf, misshapen: ``checkpoint.check_weights``), or preprocessing that does not fit its
            neurons (``Preprocessing.from_dict``).
    """
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    _remove_orphans(file.parent)
    payload = load_checkpoint(file)

    def rebuilt(state_dict: dict, field: str) -> TwoTowerModel:
        model = build_model(payload["kind"], payload["model_config"], int(payload["n_neurons"]),
                            tuple(payload["image_shape"]), saved=True)
        check_weights(file, field, state_dict, model.state_dict())
        model.load_state_dict(state_dict)
        if getattr(model, "encoding_model", None) is not None:
            model.encoding_model.check_state()  # a ValueError: refused below, naming the buffer
        return model

    try:
        model = (EnsembleModel([rebuilt(sd, f"members[{i}]") for i, sd in enumerate(payload["members"])],
                               list(payload["seeds"]))
                 if "members" in payload else rebuilt(payload["state_dict"], "state_dict"))
        parts = (TrainConfig.from_dict(payload["train_config"]),
                 Preprocessing.from_dict(payload["preprocessing"], int(payload["n_neurons"]), str(file)),
                 list(payload["history"]), dict(payload["metadata"]))
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as exc:  # a field of the wrong type
        raise CheckpointError(f"{file}: checkpoint does not rebuild a model ({type(exc).__name__}: {exc})") from exc
    # the config as rebuilt: fields the checkpoint predates filled with the values it was trained with
    return Run(model.to(resolve_device(str(device))).eval(), payload["kind"], model.config.to_dict(), *parts)


def _remove_orphans(folder: Path) -> None:
    """Delete temporary files a killed save left in ``folder``, unless a training is writing it now."""
    if not temp_files(folder):
        return
    try:
        with run_lock(folder):
            remove_temp_files(folder)
    except (DinaError, OSError):  # busy (its writer cleans up when it starts) or a read-only folder
        pass


def check_compatible(run: Run, data: DinaData, source: str = "data") -> None:
    """Raise CheckpointError when ``data`` cannot be fed to ``run`` (neuron count, image size)."""
    indices = run.preprocessing.neuron_indices
    fits = (data.n_neurons == run.model.n_neurons if indices is None else
            int(indices.min()) >= 0 and int(indices.max()) < data.n_neurons)
    if not fits:
        raise CheckpointError(f"{source}: the model was trained on {run.model.n_neurons} neurons, "
                              f"the recording has {data.n_neurons}"
                              + ("" if indices is None else f" (the model reads columns {indices.min()} to "
                                 f"{indices.max()})"))
    if tuple(data.image_shape) != tuple(run.model.image_shape):
        raise CheckpointError(f"{source}: the model expects {run.model.image_shape} images, "
                              f"the recording has {data.image_shape}")
