"""Training a run: recording in, run folder out (``model.pt`` + ``run.json``), resumable.

The folder layout and the :class:`~dina_core.runs.run.Run` it holds live in :mod:`dina_core.runs.run`;
what a training may write over, and what a resume must match, in :mod:`dina_core.runs.folder`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..data.checked import check_recording
from ..data.fingerprint import recording_identity
from ..data.format import DinaData
from ..evaluate.encoding import EncodingFit
from ..model import ModelConfig, build_model
from ..model.device import resolve_device
from ..runs.checkpoint import atomic_save, load_checkpoint
from ..runs.folder import check_resume_state, check_target, identity, remove_temp_files
from ..runs.lock import run_lock
from ..runs.prepare import Preprocessing, prepare
from ..runs.run import STATE_FILE, Run, save_run
from ..runs.config import TrainConfig
from .distributed import current, rank_device
from .loop import FitResult, StepInfo, fit
from .memory import check_training_fits
from .stages import NothingTrainedError, finish_levels, fit_first_levels, is_staged, maps_alone


def train_run(data: DinaData, out_dir: str | os.PathLike | None, *, kind: str = "dina",
              model_config: dict | None = None, train_config: TrainConfig | None = None,
              resume: bool = False, overwrite: bool = False,
              metadata: dict | None = None, on_step: Callable[[StepInfo], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              encoding_fit: EncodingFit | None = None, transfer=None) -> tuple[Run, FitResult]:
    """Fit preprocessing on the train tier, build a model, train it, save it.

    Args:
        data: the recording (see dina_core.data.format).
        out_dir: run folder to write, or None to keep everything in memory.
        kind: 'dina' or 'linear'.
        model_config: dict of the kind's config fields (defaults when None).
        train_config: TrainConfig (defaults when None).
        resume: continue from ``out_dir/state.pt`` when present (a fresh start when the folder is new
            or empty); refused when the folder holds a finished run or a training of other data, kind
            or configuration (only ``train_config.device`` may change).
        overwrite: start afresh in a folder holding a finished or interrupted run.
        metadata: extra entries for the run's metadata (e.g. the data file's path).
        on_step, should_stop: forwarded to ``fit``.
        encoding_fit: for a DINA model with the encoding-model level, the encoding model already fitted on this
            recording with this run's seed and validation fraction (the benchmark's encoding row), copied in
            instead of fitting it again; None: fitted here.
        transfer: for a DINA model, a ``transfer.Transfer``: its image side starts as a trained model's, frozen or
            fine-tuned (recorded in ``metadata['transfer']``, and a resume must match it).

    Raises:
        DatasetError: ``data`` breaks a rule a DINA file must keep (``data.checked.validate_data``: test images
            shown on other trials, identical images, NaN/Inf, ...), checked as for a file read from disk.
        SizeError, DinaError: a model size above its maximum, or a training that would not fit in the memory
            free now (``train.memory``).
        DinaError: ``out_dir`` may not be written (see ``runs.folder.check_target``); RunBusyError:
            another training holds it; CheckpointError: its state cannot be resumed by this training;
            NothingTrainedError: stopped before the first epoch finished (nothing is saved).

    One writer per folder: the writer's lock (``runs.lock``) is held from the folder check to the
    last save. Under ``torchrun`` (see ``distributed``) every rank trains on its own device and
    checks the folder, only rank 0 takes the lock, reports through ``on_step`` and writes
    ``out_dir``; every rank returns the same run.
    """
    train_config = (train_config or TrainConfig()).resolved(kind)
    check_recording(data)
    dist = current()
    check_training_fits(kind, model_config, data.n_neurons, data.image_shape,  # before any folder or lock
                        str(rank_device(resolve_device(train_config.device), dist)))
    writes = out_dir is not None and dist.is_main
    if out_dir is not None:  # refuse before taking the lock or any work; other ranks: rank 0 holds the lock
        check_target(out_dir, resume=resume, overwrite=overwrite, locked=not dist.is_main)
    with run_lock(out_dir) if writes else contextlib.nullcontext():
        found = ("missing" if out_dir is None else  # checked again: it may have changed before we held the lock
                 check_target(out_dir, resume=resume, overwrite=overwrite, locked=True))
        state_path = Path(out_dir) / STATE_FILE if out_dir is not None else None
        if writes:
            remove_temp_files(out_dir)  # we hold the lock: any temporary file there is an orphan
            if not resume:
                state_path.unlink(missing_ok=True)  # overwrite: an old interrupted state must not be resumed later

        model_config = dict(model_config or (ModelConfig().to_dict() if kind == "dina" else {}))
        device = rank_device(resolve_device(train_config.device), dist)
        preprocessing = Preprocessing.fit(data, behavior=train_config.behavior == "on")
        prepared = prepare(data, preprocessing, device, train_config.validation_fraction, train_config.seed)
        torch.manual_seed(train_config.seed)
        # channels-last convolution kernels while training: a 256-pair DINA step 0.57 -> 0.50 s on 2 CPU cores
        # (bench/results/ablation_cpu.md); the usual layout for convolutions under AMP too
        model = build_model(kind, model_config, prepared.n_neurons, prepared.image_shape).to(
            device, memory_format=torch.channels_last)
        model_config = model.config.to_dict()
        if transfer is not None:
            transfer.apply(model)
        recording = recording_identity(data)
        fingerprint = recording["data_fingerprint"]
        started_from = {} if transfer is None else {"transfer": transfer.describe()}
        wanted = identity(kind, model_config, {**train_config.to_dict(), **started_from}, fingerprint,
                          preprocessing.to_dict()["neuron_indices"])
        val_trials = prepared.tier_trials["validation"]  # what the validation top-1 is a fraction of (evaluate.chance)
        metadata = {"dina_version": __version__, "torch_version": str(torch.__version__), **recording,
                    "data_name": str(data.attrs.get("name", "")), "device": str(device),
                    "processes": dist.world_size, "validation_trials": int(len(val_trials)),
                    "validation_images": int(len(np.unique(data.image_index[val_trials]))), **started_from,
                    **(metadata or {})}

        resume_state = None
        if resume and found == "interrupted":
            resume_state = check_resume_state(load_checkpoint(state_path, expect_format=False), state_path, wanted)

        def save_state(state: dict) -> None:
            if writes:
                atomic_save({**state, "data_fingerprint": fingerprint, "identity": wanted,
                             "linear_level": metadata.get("linear_level"),
                             "encoding_model_level": metadata.get("encoding_model_level")}, state_path)

        started = time.perf_counter()
        fit_first_levels(model, data, prepared, preprocessing, train_config, metadata, resume_state,
                         where=str(out_dir or "training"), encoding_fit=encoding_fit, should_stop=should_stop,
                         on_step=on_step if dist.is_main else None)
        with maps_alone([model]):
            result = fit(model, prepared, train_config, on_step=on_step if dist.is_main else None,
                         should_stop=should_stop, save_state=save_state, resume_state=resume_state,
                         stage="maps" if is_staged(model) else "train")
        model.to(memory_format=torch.contiguous_format)  # a loaded run's layout: it scores as saved, bit for bit
        if not result.history:
            raise NothingTrainedError(f"{out_dir or 'training'}: stopped before the first epoch finished; "
                                      "no model was saved")
        model_config = finish_levels(model, prepared, train_config, device, result, metadata, started)
        run = Run(model, kind, model_config, train_config, preprocessing, result.history, metadata)
        if writes:
            save_run(run, out_dir)
            if not result.interrupted:
                state_path.unlink(missing_ok=True)
    return run, result
