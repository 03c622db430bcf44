"""What pooling buys: the benchmark of several recordings, one joint DINA beside each recording's models alone.

``dina benchmark A.h5 B.h5 ... --out DIR`` runs the single-recording benchmark (``benchmark.run_benchmark``) on each
recording into ``DIR/NAME`` and renames its ``dina`` row ``separate`` (a DINA trained on that recording alone with
the same settings), then trains one joint model over all of them (``train.joint``, in ``DIR/joint``) and adds its
scores on each recording as that recording's ``dina`` row. Each recording's table thus holds joint, separate and the
baselines side by side, and ``joint_minus_separate`` gives the paired single-trial difference (95% bootstrap interval
over test images). ``DIR/metrics.json``: {'recordings': {name: metrics}, 'joint_minus_separate': {name: {...}}};
``DIR/metrics.md``: one table per recording.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_path
from .benchmark import ALL_MODELS, markdown_table, run_benchmark
from .data.format import DinaData
from .errors import DinaError
from .evaluate.ceiling import add_fraction_of_ceiling
from .evaluate.model_eval import COMBINED, evaluate_run
from .evaluate.paired import paired_difference
from .runs.config import TrainConfig
from .runs.run import load_run
from .train.joint import check_recordings, train_joint
from .train.loop import StepInfo

JOINT_DIR = "joint"


def run_joint_benchmark(recordings: dict[str, DinaData], out_dir: str | os.PathLike, *,
                        train_config: TrainConfig | None = None, model_config: dict | None = None,
                        models: tuple[str, ...] = ALL_MODELS, alpha: float = 1.0,
                        on_step: Callable[[str, StepInfo], None] | None = None,
                        on_model: Callable[[str], None] | None = None) -> dict:
    """Benchmark every recording alone and the joint model over all (module docstring); returns metrics.json's dict.

    Args:
        recordings: {name: recording}, two or more (``train.joint.check_recordings``); a name is its folder.
        models: each recording's benchmark rows; 'dina' must be among them (it is the ``separate`` row).
        on_model: called with 'NAME: MODEL' before each recording's model, and 'joint' before the joint model.
    """
    check_recordings(recordings)
    if "dina" not in models:
        raise DinaError("a benchmark of several recordings compares the joint DINA with each one's DINA alone: "
                        "--models must include dina")
    if JOINT_DIR in recordings:
        raise DinaError(f"recording name {JOINT_DIR!r}: the joint model's folder; rename the recording")
    out_dir, train_config = Path(out_dir), train_config or TrainConfig()
    per_recording, seconds = {}, {}
    for name, data in recordings.items():
        per_recording[name] = run_benchmark(
            data, out_dir / name, train_config=train_config, model_config=model_config, models=models,
            on_model=None if on_model is None else (lambda m, name=name: on_model(f"{name}: {m}")),
            on_step=None if on_step is None else (lambda m, info, name=name: on_step(f"{name}: {m}", info)))
    if on_model is not None:
        on_model(JOINT_DIR)
    started = time.perf_counter()
    joint, _ = train_joint(recordings, out_dir / JOINT_DIR, model_config=model_config, train_config=train_config,
                           alpha=alpha, overwrite=True,
                           on_step=None if on_step is None else (lambda info: on_step(JOINT_DIR, info)))
    seconds[JOINT_DIR] = time.perf_counter() - started
    gains = {}
    for name, data in recordings.items():
        metrics = per_recording[name]
        alone = load_run(out_dir / name / "dina")
        joint_rows = [{"model": "dina", **{k: v for k, v in r.items() if k != "level"}}
                      for r in evaluate_run(joint.runs[name], data, seed=train_config.seed) if r["level"] == COMBINED]
        rows = [{**r, "model": "separate"} if r["model"] == "dina" else r for r in metrics["rows"]]
        ceiling = [r for r in rows if r["model"] == "ceiling"]
        metrics["rows"] = add_fraction_of_ceiling(joint_rows, ceiling) + rows
        metrics["seconds"] = {("separate" if k == "dina" else k): v for k, v in metrics["seconds"].items()}
        gains[name] = paired_difference(joint.runs[name], alone, data, seed=train_config.seed)
    result = {"recordings": per_recording, "joint_minus_separate": gains, "seconds": seconds,
              "alpha": alpha, "joint_dir": str(out_dir / JOINT_DIR)}
    for name, text in (("metrics.json", json.dumps(result, indent=2, default=float)),
                       ("metrics.md", joint_markdown(result))):
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text(text)
    return result


def joint_markdown(result: dict) -> str:
    """One table per recording ('dina' is the joint model, 'separate' that recording's DINA alone), each with the
    paired single-trial difference of the two."""
    parts = [f"Joint DINA over {len(result['recordings'])} recordings ({', '.join(result['recordings'])}) against "
             "each one's DINA alone ('separate') and the baselines.", ""]
    for name, metrics in result["recordings"].items():
        gain = result["joint_minus_separate"][name]
        lo, hi = gain["ci95"]
        parts += [f"## {name}", "", markdown_table(metrics).rstrip(), "",
                  f"Joint minus separate, single-trial neural→image top-1: {100 * gain['single_trial']:+.1f} points "
                  f"(95% CI {100 * lo:+.1f} to {100 * hi:+.1f}, paired over the same test trials)", ""]
    return "\n".join(parts)
