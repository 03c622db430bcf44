"""Training a seed ensemble: K runs of one configuration, seeds seed .. seed + K - 1, saved as one run.

Members train one after another in ``RUN/members/seed<S>/`` (each an ordinary, resumable run
folder), then ``RUN/model.pt`` is written holding all K (see :mod:`dina_core.runs.ensemble`) and
the member folders are removed. ``resume=True`` keeps finished members and resumes an interrupted
one. The ensemble's ``best_val_top1`` is its own validation score (the members' mean similarity);
each member's is in ``metadata['ensemble']``. ``history`` is the first member's.

An ensemble is an option of training (how many runs), not a field of :class:`TrainConfig`:
every member is one ordinary run whose config it records.

On a file without a validation tier each member holds out its own seed's 10% of the train images,
so the ensemble's validation score (on the first seed's held-out images) is then optimistic;
test-tier scores are unaffected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path


from ..data.format import DinaData
from ..model.device import autocast, resolve_device
from ..runs.config import TrainConfig
from ..runs.ensemble import EnsembleModel
from ..runs.folder import MEMBERS_DIR, check_target
from ..runs.lock import run_lock
from ..runs.run import MODEL_FILE, STATE_FILE, Run, load_run, save_run
from .distributed import current, rank_device
from .level_weights import set_level_weights
from .loop import FitResult, StepInfo
from .run import train_run
from .validation import validation_top1

def _finished_member(member_dir: Path, train_config: TrainConfig) -> Run | None:
    """The member trained to the end in ``member_dir``, or None (absent, or stopped before its end)."""
    if not (member_dir / MODEL_FILE).is_file() or (member_dir / STATE_FILE).exists():
        return None
    run = load_run(member_dir, device=rank_device(resolve_device(train_config.device), current()))
    return None if run.metadata.get("interrupted", True) else run


def train_ensemble(data: DinaData, out_dir: str | os.PathLike | None, k: int, *, kind: str = "dina",
                   model_config: dict | None = None, train_config: TrainConfig | None = None,
                   resume: bool = False, overwrite: bool = False,
                   metadata: dict | None = None, on_step: Callable[[int, StepInfo], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> tuple[Run, list[FitResult]]:
    """Train ``k`` members (seeds ``train_config.seed + i``) and save them as one run in ``out_dir``.

    Args:
        k: number of members (1 gives an ensemble of one, scored exactly like its member).
        on_step: called as ``on_step(member_index, info)`` after every step of every member (index from 0);
            ``info.step`` counts within the member's own training, from 1 again for each member, so a
            display counts the ensemble as a whole itself. A finished member reused by ``resume`` reports none.
        The rest as :func:`~dina_core.train.run.train_run`.

    Returns:
        The ensemble's run and each member's FitResult (an unfinished member's when stopped).
    """
    if int(k) < 1:
        raise ValueError(f"an ensemble needs at least 1 member, got {k}")
    train_config = train_config or TrainConfig()
    seeds = [train_config.seed + i for i in range(int(k))]
    writes = out_dir is not None and current().is_main
    if out_dir is not None:  # the folder rules of a single run (runs.folder); members are checked again inside
        check_target(out_dir, resume=resume, overwrite=overwrite, locked=not current().is_main)
    with run_lock(out_dir) if writes else contextlib.nullcontext():  # one writer for the whole ensemble
        return _train_members(data, out_dir, seeds, kind=kind, model_config=model_config, train_config=train_config,
                              resume=resume, overwrite=overwrite, metadata=metadata,
                              on_step=on_step, should_stop=should_stop)


def _train_members(data: DinaData, out_dir, seeds: list[int], *, kind, model_config, train_config,
                   resume, overwrite, metadata, on_step, should_stop) -> tuple[Run, list[FitResult]]:
    """Train (or, resuming, reuse) each member, then save the ensemble; the caller holds ``out_dir``'s lock."""
    runs, results = [], []
    for i, seed in enumerate(seeds):
        member_dir = Path(out_dir) / MEMBERS_DIR / f"seed{seed}" if out_dir is not None else None
        done = _finished_member(member_dir, train_config) if resume and member_dir is not None else None
        if done is not None:
            runs.append(done)
            results.append(FitResult(done.history, done.metadata.get("best_epoch", -1),
                                     done.metadata.get("best_val_top1", float("nan"))))
            continue
        # members keep their training weights: the ensemble's retrieval weights are chosen for it as a whole, below
        member_config = TrainConfig.from_dict({**train_config.to_dict(), "seed": seed, "tune_level_weights": False})
        step = (lambda info, i=i: on_step(i, info)) if on_step is not None else None
        run, result = train_run(data, member_dir, kind=kind, model_config=model_config, train_config=member_config,
                                resume=resume, overwrite=overwrite, metadata=metadata,
                                on_step=step, should_stop=should_stop)
        runs.append(run)
        results.append(result)
        if result.interrupted:
            return run, results  # the unfinished member stays resumable; no ensemble is written
    first = runs[0]
    device = next(first.model.parameters()).device
    model = EnsembleModel([r.model.to(device) for r in runs], seeds).eval()
    members = [{"seed": s, "best_epoch": r.metadata.get("best_epoch"), "best_val_top1": r.metadata.get("best_val_top1"),
                "train_seconds": r.metadata.get("train_seconds")} for s, r in zip(seeds, runs)]
    ensemble = Run(model, first.kind, first.model_config, first.train_config, first.preprocessing, first.history,
                   dict(first.metadata))
    prepared = ensemble.prepare(data)
    val_top1 = unselected = validation_top1(model, prepared)  # the members' weights: no search chose them
    if train_config.tune_level_weights and len(model.levels) > 1:
        with autocast(device, train_config.amp):
            ensemble.metadata["level_weights"] = set_level_weights(model, prepared)
        ensemble.model_config = model.config.to_dict()
        val_top1 = validation_top1(model, prepared)
    ensemble.metadata.update(best_val_top1=val_top1, unselected_val_top1=unselected, ensemble={"k": len(seeds), "seeds": seeds, "members": members},
                             train_seconds=sum(m["train_seconds"] or 0.0 for m in members))
    if out_dir is not None and current().is_main:  # under torchrun, rank 0 writes (as train_run does)
        save_run(ensemble, out_dir)
        shutil.rmtree(Path(out_dir) / MEMBERS_DIR, ignore_errors=True)
    return ensemble, results
