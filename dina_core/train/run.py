"""A training run: recording in, run folder out (``model.pt`` + ``run.json``), resumable.

Run folder layout:
    RUN/model.pt    best weights and everything needed to rebuild and apply the model
    RUN/run.json    the same configs, history and metadata, for humans and scripts
    RUN/state.pt    only while training: the last finished epoch, for ``resume=True``
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..atomic import atomic_path
from ..data.fingerprint import data_fingerprint
from ..data.format import DinaData
from ..errors import CheckpointError
from ..model import ModelConfig, TwoTowerModel, build_model
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, atomic_save, load_checkpoint
from .config import TrainConfig
from .device import resolve_device
from .distributed import current, rank_device
from .loop import FitResult, StepInfo, fit
from .prepare import PreparedData, Preprocessing, prepare

MODEL_FILE, STATE_FILE, SUMMARY_FILE = "model.pt", "state.pt", "run.json"


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


def _payload(run: Run) -> dict:
    model = run.model
    return {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "kind": run.kind,
        "model_config": run.model_config, "train_config": run.train_config.to_dict(),
        "n_neurons": model.n_neurons, "image_shape": list(model.image_shape),
        "preprocessing": run.preprocessing.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": run.history, "metadata": run.metadata,
    }


def save_run(run: Run, run_dir: str | os.PathLike) -> Path:
    """Write ``model.pt`` (atomic) and ``run.json`` into ``run_dir``."""
    run_dir = Path(run_dir)
    path = atomic_save(_payload(run), run_dir / MODEL_FILE)
    summary = {k: v for k, v in _payload(run).items() if k not in ("state_dict", "preprocessing")}
    with atomic_path(run_dir / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=float))
    return path


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run from a run folder or a ``model.pt`` file (weights-only load)."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    payload = load_checkpoint(file)
    try:
        model = build_model(payload["kind"], payload["model_config"], int(payload["n_neurons"]),
                            tuple(payload["image_shape"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{file}: checkpoint does not rebuild a model ({exc})") from exc
    return Run(model.to(resolve_device(str(device))).eval(), payload["kind"], payload["model_config"],
               TrainConfig.from_dict(payload["train_config"]), Preprocessing.from_dict(payload["preprocessing"]),
               list(payload["history"]), dict(payload["metadata"]))


def check_compatible(run: Run, data: DinaData, source: str = "data") -> None:
    """Raise CheckpointError when ``data`` cannot be fed to ``run`` (neuron count, image size)."""
    indices = run.preprocessing.neuron_indices
    fits = data.n_neurons == run.model.n_neurons if indices is None else int(indices.max()) < data.n_neurons
    if not fits:
        raise CheckpointError(f"{source}: the model was trained on {run.model.n_neurons} neurons, "
                              f"the recording has {data.n_neurons}")
    if tuple(data.image_shape) != tuple(run.model.image_shape):
        raise CheckpointError(f"{source}: the model expects {run.model.image_shape} images, "
                              f"the recording has {data.image_shape}")


def train_run(data: DinaData, out_dir: str | os.PathLike | None, *, kind: str = "dina",
              model_config: dict | None = None, train_config: TrainConfig | None = None,
              neuron_indices: np.ndarray | None = None, resume: bool = False, metadata: dict | None = None,
              on_step: Callable[[StepInfo], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> tuple[Run, FitResult]:
    """Fit preprocessing on the train tier, build a model, train it, save it.

    Args:
        data: the recording (see dina_core.data.format).
        out_dir: run folder to write, or None to keep everything in memory.
        kind: 'dina' or 'linear'.
        model_config: dict of the kind's config fields (defaults when None).
        train_config: TrainConfig (defaults when None).
        neuron_indices: optional subset of neurons the model sees.
        resume: continue from ``out_dir/state.pt`` when present.
        metadata: extra entries for the run's metadata (e.g. the data file's path).
        on_step, should_stop: forwarded to ``fit``.

    Under ``torchrun`` (see ``distributed``) every rank trains on its own device and only rank 0
    reports through ``on_step`` and writes ``out_dir``; every rank returns the same run.
    """
    train_config = train_config or TrainConfig()
    model_config = dict(model_config or (ModelConfig().to_dict() if kind == "dina" else {}))
    dist = current()
    device = rank_device(resolve_device(train_config.device), dist)
    preprocessing = Preprocessing.fit(data, neuron_indices)
    prepared = prepare(data, preprocessing, device, train_config.validation_fraction, train_config.seed)
    torch.manual_seed(train_config.seed)
    model = build_model(kind, model_config, prepared.n_neurons, prepared.image_shape).to(device)
    model_config = model.config.to_dict()
    fingerprint = data_fingerprint(data)
    metadata = {"dina_version": __version__, "torch_version": str(torch.__version__), "data_fingerprint": fingerprint,
                "data_name": str(data.attrs.get("name", "")), "device": str(device),
                "processes": dist.world_size, **(metadata or {})}

    writes = out_dir is not None and dist.is_main
    state_path = Path(out_dir) / STATE_FILE if out_dir is not None else None
    resume_state = None
    if resume and state_path is not None and state_path.exists():
        resume_state = load_checkpoint(state_path, expect_format=False)
        if resume_state.get("data_fingerprint") != fingerprint:
            raise CheckpointError(f"{state_path}: was written for other data "
                                  f"(fingerprint {resume_state.get('data_fingerprint')}, this data {fingerprint})")

    def save_state(state: dict) -> None:
        if writes:
            atomic_save({**state, "data_fingerprint": fingerprint}, state_path)

    started = time.perf_counter()
    result = fit(model, prepared, train_config, on_step=on_step if dist.is_main else None, should_stop=should_stop,
                 save_state=save_state, resume_state=resume_state)
    metadata.update(train_seconds=time.perf_counter() - started, best_epoch=result.best_epoch,
                    best_val_top1=result.best_val_top1, stopped_early=result.stopped_early,
                    interrupted=result.interrupted)
    run = Run(model, kind, model_config, train_config, preprocessing, result.history, metadata)
    if writes:
        save_run(run, out_dir)
        if not result.interrupted:
            state_path.unlink(missing_ok=True)
    return run, result
