"""``dina tune``: a small coordinate search over the few settings that matter, scored on validation only.

The search (documented here, in ``SEARCH_SPACE`` and in the README):

1. Train the starting configuration (the defaults a user gets, or ``--config``): trial 0.
2. For each knob in ``SEARCH_SPACE`` order (most influential first), try each of its options on
   top of the best configuration so far; adopt an option when its validation single-trial
   neural -> image top-1 beats the best so far (strictly). Coordinate search: a knob is tuned
   with the earlier knobs at their chosen values.
3. Stop launching trials when the next one would overrun the wall-clock budget, estimating a
   trial's duration as the mean of the trials so far (the first trial's, at first). The first
   trial always runs; a running trial is never cut short by the budget (only by ``should_stop``).

Every trial is scored on the **validation** tier (the file's, else the held-out train images that
training also early-stops on); test trials are never encoded, so the choice cannot leak test data.

Writes ``OUT/tune.json`` (every trial: what changed, model and train config, validation top-1
single-trial and averaged, seconds, epochs), ``OUT/tune.md`` (the same as a table),
``OUT/best_config.json`` (``{"model": ..., "train": ...}``, for ``dina train --config``) and
``OUT/best_run/`` (the chosen trial's trained run).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .data.format import DinaData
from .errors import DinaError
from .evaluate.tasks import tier_task
from .model import ModelConfig
from .model.inference import encode_images, encode_responses
from .runs.config import TrainConfig
from .runs.run import Run, save_run
from .train.loop import StepInfo
from .train.run import NothingTrainedError, train_run


@dataclass(frozen=True)
class Knob:
    """One setting the search varies: each option overrides config fields, ``{"model"|"train": {field: value}}``."""

    name: str
    why: str
    options: tuple[dict, ...]


# Add a setting with one line: Knob(name, why, (option, option, ...)); options are tried against the best so far.
SEARCH_SPACE: tuple[Knob, ...] = (
    Knob("neuron_dropout", "how much the decoder may lean on single cells",
         ({"model": {"neuron_dropout": 0.3}}, {"model": {"neuron_dropout": 0.7}})),
    Knob("weight_decay", "capacity against a few thousand unique images",
         ({"train": {"weight_decay": 0.03}}, {"train": {"weight_decay": 0.3}})),
    Knob("trunk_dim", "width of the neural tower's linear map of the population",
         ({"model": {"trunk_dim": 128}}, {"model": {"trunk_dim": 512}})),
    Knob("aligned_stages", "which levels of the hierarchy are aligned",
         ({"model": {"aligned_stages": ("stage2", "stage3"), "stage_weights": ()}},
          {"model": {"aligned_stages": ("stage0", "stage1", "stage2", "stage3"), "stage_weights": ()}})),
    Knob("behavior", "correct each trial for the arousal its behaviour columns predict (DINA's default; "
                     "no-op without them): is the recording better without?",
         ({"train": {"behavior": "off"}},)),
    Knob("shift_pixels", "shift augmentation of the stimuli (DINA's default 2 px)",
         ({"train": {"shift_pixels": 0}}, {"train": {"shift_pixels": 4}})),
    Knob("linear_level", "the linear two-tower held as one of DINA's levels (the default): is the recording "
                         "better decoded by the maps alone?",
         ({"model": {"linear_level": False}},)),
    Knob("encoding_model_level", "the field's encoding model held as one of DINA's levels (the default): is the "
                                 "recording better decoded without it?",
         ({"model": {"encoding_model_level": False}},)),
    Knob("stage_channels", "width of the image tower",
         ({"model": {"stage_channels": (8, 16, 24)}}, {"model": {"stage_channels": (24, 48, 72)}})),
)

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """'15m', '90s', '1.5h' or plain seconds ('600') -> seconds; DinaError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*", str(text).lower())
    if not match or float(match.group(1)) <= 0:
        raise DinaError(f"--budget: expected a positive duration such as 15m, 90s or 1h, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _label(option: dict) -> str:
    return ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}"
                     for part in option.values() for k, v in part.items())


def proposals(space: tuple[Knob, ...] = SEARCH_SPACE) -> list[tuple[str, str, dict]]:
    """(knob name, change label, option) of every trial the search may run, in order; the starting config first."""
    return [("start", "", {})] + [(k.name, _label(o), o) for k in space for o in k.options]


def trials_in_budget(seconds: list[float], elapsed_s: float, budget_s: float) -> int | None:
    """How many trials the budget holds in all, by the rule that launches them (step 3 above).

    ``seconds`` are the durations of the trials done; as many more of their mean duration are counted
    as fit in the ``budget_s - elapsed_s`` seconds left. None before any trial has finished (the first
    always runs)."""
    if not seconds:
        return None
    return len(seconds) + max(0, int((budget_s - elapsed_s) // float(np.mean(seconds))))


def _apply(model: dict, train: dict, option: dict) -> tuple[dict, dict]:
    """The configs with ``option`` applied, normalised through their dataclasses (ValueError if invalid)."""
    new_model = ModelConfig.from_dict({**model, **option.get("model", {})}).to_dict()
    new_train = TrainConfig.from_dict({**train, **option.get("train", {})}).to_dict()
    return new_model, new_train


@torch.no_grad()
def validation_scores(run: Run, data: DinaData) -> dict[str, float]:
    """Neural -> image top-1 on the validation tier: {'single_trial', 'averaged'} (never the test tier)."""
    task = tier_task(run.prepare(data), "validation")
    device = next(run.model.parameters()).device
    emb = task.embed(lambda r: encode_responses(run.model, torch.as_tensor(r, device=device)),
                     lambda x: encode_images(run.model, torch.as_tensor(x, device=device)))
    return {mode: float(np.mean(emb.ranks("neural_to_image", mode) == 0)) for mode in ("single_trial", "averaged")}


def tune(data: DinaData, out_dir: str | os.PathLike, *, budget_s: float, model_config: dict | None = None,
         train_config: TrainConfig | None = None, space: tuple[Knob, ...] = SEARCH_SPACE,
         metadata: dict | None = None, on_start: Callable[[int, str], None] | None = None,
         on_trial: Callable[[dict], None] | None = None,
         on_step: Callable[[StepInfo], None] | None = None,
         should_stop: Callable[[], bool] | None = None) -> dict:
    """Run the coordinate search (module docstring) within ``budget_s`` seconds; write OUT's files.

    Args:
        data: the recording; only its train and validation tiers are used.
        out_dir: folder for tune.json, tune.md, best_config.json and best_run/.
        budget_s: wall-clock budget in seconds.
        model_config, train_config: the starting point (defaults: ``ModelConfig()``, ``TrainConfig()``).
        space: the knobs to search.
        metadata: extra run metadata of every trial (e.g. the data file's path).
        on_start: called as ``on_start(trial index, change)`` before each trial trains (the index of its
            row, from 0; change: its option's label, '' for the starting config).
        on_trial: called with each finished trial's row.
        on_step: forwarded to each trial's training: ``StepInfo.step`` counts from 1 again in every trial
            (and in each fit of one), so a display counts the search as a whole itself.
        should_stop: forwarded to training.

    Returns:
        The tune.json content: {'budget_s', 'seconds', 'stopped', 'search_space', 'trials', 'chosen', 'best_config'}.
    """
    started = time.perf_counter()
    best_model, best_train = _apply(model_config or ModelConfig().to_dict(),
                                    (train_config or TrainConfig()).to_dict(), {})
    trials, best_run, best_score, chosen, stopped = [], None, -1.0, None, "search complete"
    for knob, label, option in proposals(space):
        if trials and trials_in_budget([t["seconds"] for t in trials], time.perf_counter() - started,
                                       budget_s) <= len(trials):
            stopped = "budget: the next trial would overrun it"
            break
        if should_stop is not None and should_stop():
            stopped = "stopped"
            break
        try:
            model, train = _apply(best_model, best_train, option)
        except ValueError:  # e.g. an aligned stage the (tuned or given) image tower does not have
            continue
        if trials and (model, train) == (best_model, best_train):
            continue  # the option is already the current value
        if on_start is not None:
            on_start(len(trials), label)
        t0 = time.perf_counter()
        try:
            run, result = train_run(data, None, kind="dina", model_config=model,
                                    train_config=TrainConfig.from_dict(train), metadata=metadata, on_step=on_step,
                                    should_stop=should_stop)
        except NothingTrainedError:  # stopped in this trial's first epoch: no score to record
            stopped = "stopped"
            break
        scores = validation_scores(run, data)
        better = not result.interrupted and scores["single_trial"] > best_score
        row = {"trial": len(trials), "knob": knob, "change": label, "model_config": model, "train_config": train,
               "val_top1_single_trial": scores["single_trial"], "val_top1_averaged": scores["averaged"],
               "seconds": time.perf_counter() - t0, "epochs": len(result.history), "best_epoch": result.best_epoch,
               "interrupted": result.interrupted, "adopted": better}
        trials.append(row)
        if better:
            best_model, best_train, best_run = model, train, run
            best_score, chosen = scores["single_trial"], row["trial"]
        if on_trial is not None:
            on_trial(row)
        if result.interrupted:
            stopped = "stopped"
            break
    summary = {"budget_s": budget_s, "seconds": time.perf_counter() - started, "stopped": stopped,
               "search_space": [{"name": k.name, "why": k.why, "options": [_label(o) for o in k.options]}
                                for k in space],
               "selection": "validation single-trial neural->image top-1; test trials never scored",
               "trials": trials, "chosen": chosen, "best_config": {"model": best_model, "train": best_train}}
    _write(Path(out_dir), summary, best_run)
    return summary


def _write(out: Path, summary: dict, best_run: Run | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("tune.json", json.dumps(summary, indent=2, default=float)), ("tune.md", markdown(summary)),
                       ("best_config.json", json.dumps(summary["best_config"], indent=2))):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text)
    if best_run is not None:
        save_run(best_run, out / "best_run")


def markdown(summary: dict) -> str:
    """The trials as a table (validation top-1 %), the chosen one marked."""
    lines = [f"Tuning on validation retrieval (single-trial neural→image top-1 chooses); {len(summary['trials'])} "
             f"trials in {summary['seconds']:.0f} s of a {summary['budget_s']:.0f} s budget ({summary['stopped']}).",
             "", "| trial | change (from the best so far) | val top-1 single-trial | val top-1 averaged | seconds "
             "| epochs | |", "|---|---|---|---|---|---|---|"]
    for t in summary["trials"]:
        mark = "chosen" if t["trial"] == summary["chosen"] else ("better" if t["adopted"] else "")
        lines.append(f"| {t['trial']} | {t['change'] or 'starting config'} | {100 * t['val_top1_single_trial']:.1f} | "
                     f"{100 * t['val_top1_averaged']:.1f} | {t['seconds']:.0f} | {t['epochs']} | {mark} |")
    return "\n".join(lines) + "\n"
