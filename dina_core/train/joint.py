"""Training one DINA model over several recordings: one image side, one neural side per recording.

Every recording gets its own DINA model (its neural tower over its neurons, its behaviour correction, its linear
and encoding-model levels fitted first on it alone, its level weights chosen on its own validation tier) and all of
them hold the same image side (``model.image_side``: image tower and image-side projections). The maps then train
together: each step is a batch of one recording (``schedule``: turns proportional to trials^alpha), so InfoNCE's
negatives come from that recording, and early stopping follows the recordings' mean validation top-1. Images are
never matched across recordings here (each recording's batches use its own images); the recordings need one image
size, and the same recording twice is refused by its fingerprint. The run is saved as in ``runs.joint``.

As in ``run.train_run``: resumable (``state.pt`` holds the joint fit), one writer per folder, and under
``torchrun`` every rank trains the same schedule on its shard of each batch and rank 0 writes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..data.checked import check_recording
from ..data.fingerprint import recording_identity
from ..data.format import DinaData
from ..errors import DinaError
from ..model import ModelConfig, build_model
from ..model.device import resolve_device
from ..model.image_side import check_same_image_side, share_image_side
from ..runs.checkpoint import atomic_save, load_checkpoint
from ..runs.folder import MODEL_FILE, check_resume_state, check_target, identity, remove_temp_files
from ..runs.joint import JointRun, save_joint_run
from ..runs.lock import run_lock
from ..runs.names import ALLOWED, is_folder_name
from ..runs.prepare import Preprocessing, prepare
from ..runs.run import STATE_FILE, Run
from ..runs.config import TrainConfig
from .distributed import current, rank_device
from .loop import FitResult, StepInfo, Task, fit_tasks
from .memory import check_training_fits
from .stages import FIRST_LEVEL_KEYS, NothingTrainedError, finish_levels, fit_first_levels, is_staged, maps_alone


def check_recordings(recordings: dict[str, DinaData]) -> None:
    """Refuse a set of recordings one model cannot train on: fewer than two, a name that is no folder name, the
    same recording twice (by content fingerprint), or other image sizes."""
    if len(recordings) < 2:
        raise DinaError(f"a joint run needs at least two recordings, got {len(recordings)}; train one alone")
    folded = {}
    for name in recordings:
        if not is_folder_name(name):
            raise DinaError(f"recording name {name!r}: not a folder name; use {ALLOWED}")
        if name.casefold() in folded:
            raise DinaError(f"recording names {folded[name.casefold()]!r} and {name!r}: the same folder name")
        folded[name.casefold()] = name
    seen, shapes = {}, {}
    for name, data in recordings.items():
        check_recording(data, name)
        fingerprint = recording_identity(data)["data_fingerprint"]
        if fingerprint in seen:
            raise DinaError(f"{seen[fingerprint]} and {name}: the same recording (fingerprint {fingerprint}); "
                            "a joint run takes each recording once")
        seen[fingerprint] = name
        shapes[name] = tuple(data.image_shape)
    if len(set(shapes.values())) > 1:
        raise DinaError("one image tower needs one image size; the recordings have "
                        + ", ".join(f"{n}: {h} x {w}" for n, (h, w) in shapes.items())
                        + " (resize the stimuli of some at import, or train them apart)")


def train_joint(recordings: dict[str, DinaData], out_dir: str | os.PathLike | None, *,
                model_config: dict | None = None, train_config: TrainConfig | None = None, alpha: float = 1.0,
                resume: bool = False, overwrite: bool = False, metadata: dict[str, dict] | None = None,
                on_step: Callable[[StepInfo], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> tuple[JointRun, FitResult]:
    """Train one DINA model over ``recordings`` and save it as a joint run (``runs.joint``) in ``out_dir``.

    Args:
        recordings: {name: recording}, two or more; a name is the recording's folder in the run.
        out_dir: the joint run's folder, or None to keep everything in memory.
        model_config, train_config: as ``train_run``'s for a DINA model (the same for every recording).
        alpha: the recordings' turns per epoch go as trials^alpha (``schedule``; 1: one pass over each).
        resume, overwrite: as ``train_run``'s (the state must be of these recordings and settings).
        metadata: extra metadata per recording name (e.g. its file's path), stored in that recording's run.
        on_step: after every step; a first level's steps are labelled with the recording ('B: linear level').
        should_stop: polled every step.

    Raises:
        DinaError: the recordings cannot share a model (``check_recordings``), or as ``train_run``.
    """
    train_config = (train_config or TrainConfig()).resolved("dina")
    check_recordings(recordings)
    if not np.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise DinaError(f"alpha {alpha}: expected a number from 0 (equal turns) to 1 (turns proportional to trials)")
    names, dist = list(recordings), current()
    device = rank_device(resolve_device(train_config.device), dist)
    shapes = {tuple(d.image_shape) for d in recordings.values()}
    check_training_fits("dina", model_config, [d.n_neurons for d in recordings.values()], shapes.pop(), str(device))
    writes = out_dir is not None and dist.is_main
    if out_dir is not None:
        check_target(out_dir, resume=resume, overwrite=overwrite, locked=not dist.is_main)
    with run_lock(out_dir) if writes else contextlib.nullcontext():
        found = "missing" if out_dir is None else check_target(out_dir, resume=resume, overwrite=overwrite, locked=True)
        state_path = Path(out_dir) / STATE_FILE if out_dir is not None else None
        if writes:
            remove_temp_files(out_dir)
            if not resume:
                state_path.unlink(missing_ok=True)
        model_config = dict(model_config or ModelConfig().to_dict())
        torch.manual_seed(train_config.seed)  # the first recording's model starts as a single run's would
        members = {}
        for name, data in recordings.items():
            preprocessing = Preprocessing.fit(data, behavior=train_config.behavior == "on")
            prepared = prepare(data, preprocessing, device, train_config.validation_fraction, train_config.seed)
            model = build_model("dina", model_config, prepared.n_neurons, prepared.image_shape).to(
                device, memory_format=torch.channels_last)
            members[name] = (data, preprocessing, prepared, model)
        models = [m[3] for m in members.values()]
        check_same_image_side(models, names)
        share_image_side(models)
        root = nn.ModuleDict({f"r{i}": model for i, model in enumerate(models)})  # names may hold '.'
        model_config = models[0].config.to_dict()
        fingerprints = [recording_identity(d)["data_fingerprint"] for d in recordings.values()]
        wanted = identity("joint", model_config, {**train_config.to_dict(), "alpha": alpha}, "+".join(fingerprints),
                          [m[1].to_dict()["neuron_indices"] for m in members.values()])
        resume_state = None
        if resume and found == "interrupted" and state_path.is_file():
            resume_state = check_resume_state(load_checkpoint(state_path, expect_format=False), state_path, wanted)
        levels_saved = (resume_state or {}).get("levels") or {}
        metas = {name: _member_metadata(name, names, data, prepared, device, dist.world_size, alpha,
                                        (metadata or {}).get(name))
                 for name, (data, _, prepared, _) in members.items()}

        def save_state(state: dict) -> None:
            if writes:
                atomic_save({**state, "identity": wanted, "data_fingerprint": "+".join(fingerprints),
                             "levels": {n: {k: metas[n].get(k) for k in FIRST_LEVEL_KEYS} for n in names}}, state_path)

        started = time.perf_counter()
        for name, (data, preprocessing, prepared, model) in members.items():
            fit_first_levels(model, data, prepared, preprocessing, train_config, metas[name],
                             levels_saved.get(name, {}) if resume_state is not None else None,
                             where=f"{out_dir or 'training'}: {name}", should_stop=should_stop,
                             on_step=_labelled(on_step, name) if dist.is_main else None)
        tasks = [Task(name, m[3], m[2]) for name, m in members.items()]
        with maps_alone(models):
            result = fit_tasks(root, tasks, train_config, on_step=on_step if dist.is_main else None,
                               should_stop=should_stop, save_state=save_state, resume_state=resume_state,
                               stage="maps" if any(is_staged(m) for m in models) else "train", alpha=alpha)
        root.to(memory_format=torch.contiguous_format)
        if not result.history:
            raise NothingTrainedError(f"{out_dir or 'training'}: stopped before the first epoch finished; "
                                      "no model was saved")
        runs = {}
        for name, (data, preprocessing, prepared, model) in members.items():
            config = finish_levels(model, prepared, train_config, device, result, metas[name], started)
            history = [{**{k: v for k, v in row.items() if k != "val_top1_by_recording"},
                        "val_top1": row["val_top1_by_recording"][name]} for row in result.history]
            runs[name] = Run(model, "dina", config, train_config, preprocessing, history, metas[name])
        joint = JointRun(runs, [_entry(name, m[0], m[2]) for name, m in members.items()], train_config,
                         result.history, {"dina_version": __version__, "torch_version": str(torch.__version__),
                                          "alpha": alpha, "device": str(device), "processes": dist.world_size,
                                          "train_seconds": time.perf_counter() - started,
                                          "best_epoch": result.best_epoch, "best_val_top1": result.best_val_top1,
                                          "interrupted": result.interrupted, "model_config": model_config})
        if writes:
            save_joint_run(joint, out_dir)
            (Path(out_dir) / MODEL_FILE).unlink(missing_ok=True)  # a single run this one was asked to replace
            if not result.interrupted:
                state_path.unlink(missing_ok=True)
    return joint, result


def _labelled(on_step: Callable[[StepInfo], None] | None, name: str) -> Callable[[StepInfo], None] | None:
    return None if on_step is None else (lambda info: on_step(replace(info, stage=f"{name}: {info.stage}")))


def _member_metadata(name: str, names: list[str], data: DinaData, prepared, device, processes: int, alpha: float,
                     extra: dict | None) -> dict:
    val_trials = prepared.tier_trials["validation"]
    return {"dina_version": __version__, "torch_version": str(torch.__version__), **recording_identity(data),
            "data_name": str(data.attrs.get("name", "")), "device": str(device), "processes": processes,
            "validation_trials": int(len(val_trials)),
            "validation_images": int(len(np.unique(data.image_index[val_trials]))),
            "joint": {"recording": name, "recordings": names, "alpha": alpha,
                      "shared": "image tower and image-side projections"}, **(extra or {})}


def _entry(name: str, data: DinaData, prepared) -> dict:
    """A recording's line in the joint run's ``run.json``."""
    return {"name": name, **recording_identity(data), "data_name": str(data.attrs.get("name", "")),
            "neurons": data.n_neurons, "image_shape": list(data.image_shape),
            "trials": {tier: int(len(t)) for tier, t in prepared.tier_trials.items()}}
