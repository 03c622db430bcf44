"""DINA beside its baselines on one split: the table behind every accuracy claim.

Models (all trained on the train tier, early-stopped on validation, scored on test):
    dina           feature-map alignment at the configured stages (the method)
    linear         linear two-tower contrastive model (simple and strong on real data)
    global_only    DINA's towers aligned only at a pooled embedding ("traditional" alignment)
    shuffled_null  DINA trained on permuted image-response pairs: must sit at chance
    ridge          ridge regression image -> responses, identification by correlation
    chance         1/N
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from .data.format import DinaData
from .model import LinearConfig, ModelConfig
from .runs.config import TrainConfig
from .train.loop import StepInfo
from .runs.prepare import Preprocessing, prepare
from .train.run import train_run
from .evaluate.model_eval import COMBINED, evaluate_run
from .evaluate.tasks import evaluate_retrieval
from .evaluate.retrieval import chance_scores
from .evaluate.ridge import RidgeIdentifier

TRAINED_MODELS = {
    "dina": ("dina", lambda: ModelConfig().to_dict(), False),
    "linear": ("linear", lambda: LinearConfig().to_dict(), False),
    "global_only": ("dina", lambda: ModelConfig.global_only().to_dict(), False),
    "shuffled_null": ("dina", lambda: ModelConfig().to_dict(), True),
}
ALL_MODELS = (*TRAINED_MODELS, "ridge")


def _ridge_rows(data: DinaData, train_config: TrainConfig) -> list[dict]:
    """Ridge on the same train-fitted normalisation and validation split as the trained models."""
    prepared = prepare(data, Preprocessing.fit(data), "cpu", train_config.validation_fraction, train_config.seed)
    train, val, test = (prepared.tier_trials[t] for t in ("train", "validation", "test"))
    images = prepared.images.cpu().numpy()[:, 0]
    responses = prepared.responses.cpu().numpy()
    index = prepared.image_index.cpu().numpy()
    ridge = RidgeIdentifier().fit(images[index[train]], responses[train], images[index[val]], responses[val])
    return evaluate_retrieval(ridge.encode_responses, ridge.encode_images, responses[test], images, index[test],
                              seed=train_config.seed)


def run_benchmark(data: DinaData, out_dir: str | os.PathLike, *, train_config: TrainConfig | None = None,
                  models: tuple[str, ...] = ALL_MODELS,
                  on_step: Callable[[str, StepInfo], None] | None = None,
                  on_model: Callable[[str], None] | None = None) -> dict:
    """Train and score every model in ``models``; write ``metrics.json`` and ``metrics.md`` in ``out_dir``.

    Each trained model's run folder ``out_dir/<model>`` is the benchmark's own: a rerun replaces it.

    Returns:
        {'n_candidates': N, 'rows': [{'model', 'direction', 'responses', 'top1', 'top5',
        'ci95_top1', ...}], 'per_level': [...dina rows per aligned level], 'seconds': {model: s}}.
    """
    out_dir = Path(out_dir)
    train_config = train_config or TrainConfig()
    rows, per_level, seconds = [], [], {}
    for name in models:
        if on_model is not None:
            on_model(name)
        started = time.perf_counter()
        if name == "ridge":
            model_rows = _ridge_rows(data, train_config)
        else:
            kind, config, shuffle = TRAINED_MODELS[name]
            cfg = TrainConfig.from_dict({**train_config.to_dict(), "shuffle_pairs": shuffle})
            step_cb = (lambda info, name=name: on_step(name, info)) if on_step is not None else None
            run, _ = train_run(data, out_dir / name, kind=kind, model_config=config(), train_config=cfg,
                               overwrite=True, on_step=step_cb)  # a rerun replaces the benchmark's own runs
            all_rows = evaluate_run(run, data, seed=train_config.seed)
            model_rows = [r for r in all_rows if r["level"] == COMBINED]
            if name == "dina":
                per_level += [{"model": name, **r} for r in all_rows if r["level"] != COMBINED]
        seconds[name] = time.perf_counter() - started
        rows += [{"model": name, **{k: v for k, v in r.items() if k != "level"}} for r in model_rows]
    n = rows[0]["n_candidates"]
    chance = chance_scores(n)
    for direction in ("neural_to_image", "image_to_neural"):
        for responses in ("averaged", "single_trial"):
            rows.append({"model": "chance", "direction": direction, "responses": responses, "n_candidates": n,
                         "top1": chance["top1"], "top5": chance["top5"], "ci95_top1": [chance["top1"]] * 2})
    metrics = {"n_candidates": n, "rows": rows, "per_level": per_level, "seconds": seconds}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    (out_dir / "metrics.md").write_text(markdown_table(metrics))
    return metrics


def markdown_table(metrics: dict) -> str:
    """Top-1 (95% CI) per model and task, plus top-5; percentages."""
    tasks = [("neural_to_image", "averaged"), ("neural_to_image", "single_trial"),
             ("image_to_neural", "averaged"), ("image_to_neural", "single_trial")]
    header = ["model", "neural→image averaged", "neural→image single-trial",
              "image→neural averaged", "image→neural single-trial"]
    lines = [f"Retrieval among N = {metrics['n_candidates']} test images: top-1 % (95% CI) / top-5 %", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    models = list(dict.fromkeys(r["model"] for r in metrics["rows"]))
    for model in models:
        cells = [model]
        for d, r in tasks:
            row = next((x for x in metrics["rows"] if x["model"] == model and x["direction"] == d
                        and x["responses"] == r), None)
            if row is None:
                cells.append("–")
                continue
            lo, hi = row["ci95_top1"]
            cells.append(f"{100 * row['top1']:.1f} ({100 * lo:.0f}–{100 * hi:.0f}) / {100 * row['top5']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
