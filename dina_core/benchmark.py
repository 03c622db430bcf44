"""DINA beside its baselines on one split: the table behind every accuracy claim.

Models (all trained on the train tier, early-stopped on validation, scored on test):
    dina           feature-map alignment at the configured stages (the method), holding the linear and the
                   encoding model as levels by default (the encoding row's fit, handed over)
    linear         linear two-tower contrastive model (simple and strong on real data)
    global_only    DINA's towers aligned only at a pooled embedding ("traditional" alignment)
    shuffled_null  DINA trained on permuted image-response pairs: must sit at chance
    ridge          ridge regression image -> responses, identification by correlation
    encoding       the field's standard encoding model (convolutional core, Gaussian readout, Poisson loss,
                   ``evaluate.encoding``): each candidate image's predicted responses identify a response by
                   correlation or by Poisson likelihood, whichever validation prefers; its encoding metrics
                   (correlation to average, single-trial correlation, FEVE) go into ``encoding_metrics``
    ceiling        no model: one response identifying another response to the same image, from the test
                   repeats (``evaluate.ceiling``); a response-to-response bound, not a proof that no
                   model can do better
    chance         1/N

Every row carries ``fraction_of_ceiling``: its top-1 over the ceiling's top-1 in the same task.
The ``dina`` row is trained with exactly what ``dina train`` uses by default (``ModelConfig()``,
``TrainConfig()``) unless a config is passed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_path
from .data.format import DinaData
from .model import LinearConfig, ModelConfig
from .runs.config import TrainConfig
from .train.loop import StepInfo
from .runs.prepare import Preprocessing, prepare
from .train.ensemble import train_ensemble
from .train.run import train_run
from .evaluate.ceiling import add_fraction_of_ceiling, tier_ceiling
from .evaluate.model_eval import COMBINED, evaluate_run
from .evaluate.tasks import evaluate_retrieval
from .evaluate.retrieval import chance_scores
from .evaluate.ridge import RidgeIdentifier
from .evaluate.encoding import EncodingFit, fit_encoding
from .train.encoding_model_level import same_architecture
from .evaluate.encoding_scores import evaluate_encoding
from .model.device import resolve_device
from .model.encoding import EncodingConfig

# name: (kind, default model config, shuffled pairs); dina's is exactly what `dina train` builds by default
TRAINED_MODELS = {
    "dina": ("dina", lambda: ModelConfig().to_dict(), False),
    "linear": ("linear", lambda: LinearConfig().to_dict(), False),
    "global_only": ("dina", lambda: ModelConfig.global_only().to_dict(), False),
    "shuffled_null": ("dina", lambda: ModelConfig().to_dict(), True),
}
DINA_ARCHITECTURE = ("dina", "shuffled_null")  # the null is DINA's own architecture on shuffled pairs
ALL_MODELS = (*TRAINED_MODELS, "ridge", "encoding")


def _prepared(data: DinaData, train_config: TrainConfig):
    """The recording normalised as every model sees it (train-fitted), with the models' validation split."""
    return prepare(data, Preprocessing.fit(data), "cpu", train_config.validation_fraction, train_config.seed)


def _ceiling_rows(data: DinaData, train_config: TrainConfig) -> tuple[list[dict], str | None]:
    """The test tier's noise-ceiling rows, or no rows and why (no test image shown twice)."""
    try:
        return tier_ceiling(_prepared(data, train_config), "test", seed=train_config.seed), None
    except ValueError as exc:
        return [], f"no noise ceiling: {exc}"


def _ridge_rows(data: DinaData, train_config: TrainConfig) -> list[dict]:
    """Ridge on the same train-fitted normalisation and validation split as the trained models."""
    prepared = _prepared(data, train_config)
    train, val, test = (prepared.tier_trials[t] for t in ("train", "validation", "test"))
    images = prepared.images.cpu().numpy()[:, 0]
    responses = prepared.responses.cpu().numpy()
    index = prepared.image_index.cpu().numpy()
    ridge = RidgeIdentifier().fit(images[index[train]], responses[train], images[index[val]], responses[val])
    return evaluate_retrieval(ridge.encode_responses, ridge.encode_images, responses[test], images, index[test],
                              seed=train_config.seed)


def _encoding(data: DinaData, train_config: TrainConfig, config: EncodingConfig | None,
              on_step: Callable[[StepInfo], None] | None) -> tuple[EncodingFit, dict]:
    """The encoding model on the other models' split, device and seed; ``train_config.epochs`` caps its epochs
    (so a short ``--epochs`` shortens it too). Returns the fit and its ``evaluate_encoding``."""
    report = (lambda step: on_step(StepInfo(**vars(step)))) if on_step is not None else None
    fit = fit_encoding(data, config, seed=train_config.seed, device=resolve_device(train_config.device),
                       amp=train_config.amp, validation_fraction=train_config.validation_fraction,
                       epochs=train_config.epochs, on_step=report)
    return fit, evaluate_encoding(fit, seed=train_config.seed)


def _shares_encoding_fit(models: tuple[str, ...], model_config: dict | None, ensemble: int) -> bool:
    """Whether the ``dina`` row holds the encoding-model level and can take the ``encoding`` row's fit: one run
    (an ensemble's members have seeds of their own) whose level is that very model."""
    dina = ModelConfig.from_dict(model_config) if model_config is not None else ModelConfig()
    return {"dina", "encoding"} <= set(models) and dina.encoding_model_level and ensemble == 1


def _train(data: DinaData, out: Path, name: str, model_config: dict | None, train_config: TrainConfig,
           ensemble: int, on_step: Callable[[StepInfo], None] | None, encoding_fit: EncodingFit | None = None):
    kind, default, shuffle = TRAINED_MODELS[name]
    config = model_config if model_config is not None and name in DINA_ARCHITECTURE else default()
    cfg = TrainConfig.from_dict({**train_config.to_dict(), "shuffle_pairs": shuffle})
    if name == "dina" and ensemble > 1:
        return train_ensemble(data, out, ensemble, kind=kind, model_config=config, train_config=cfg, overwrite=True,
                              on_step=(lambda _, info: on_step(info)) if on_step is not None else None)[0]
    # the benchmark's own run folders: a rerun replaces them
    return train_run(data, out, kind=kind, model_config=config, train_config=cfg, overwrite=True, on_step=on_step,
                     encoding_fit=encoding_fit if name == "dina" else None)[0]


def run_benchmark(data: DinaData, out_dir: str | os.PathLike, *, train_config: TrainConfig | None = None,
                  model_config: dict | None = None, ensemble: int = 1,
                  models: tuple[str, ...] = ALL_MODELS, encoding_config: EncodingConfig | None = None,
                  on_step: Callable[[str, StepInfo], None] | None = None,
                  on_model: Callable[[str], None] | None = None) -> dict:
    """Train and score every model in ``models``; write ``metrics.json`` and ``metrics.md`` in ``out_dir``.

    Args:
        train_config: training of every trained model (``TrainConfig()`` when None).
        model_config: DINA's architecture for the ``dina`` row and its shuffled null (``ModelConfig()``
            when None); the linear and global-only baselines keep their own.
        ensemble: the ``dina`` row is a seed ensemble of this many runs (1: a single run).
        encoding_config: the encoding model's settings (``EncodingConfig()`` when None). Its fit is fitted first
            and handed to the ``dina`` row's encoding-model level when that row is one run whose level has this
            architecture (``train.encoding_model_level.same_architecture``): then the level is this very model.

    Each trained model's run folder ``out_dir/<model>`` is the benchmark's own: a rerun replaces it.

    Returns:
        {'n_candidates': N, 'rows': [{'model', 'direction', 'responses', 'top1', 'top5',
        'ci95_top1', ...}], 'per_level': [...dina rows per aligned level], 'seconds': {model: s}}; with the
        encoding model also 'encoding_scores' ({'correlation': rows, 'log_likelihood': rows, 'chosen': rule,
        'validation_top1': {rule: top-1}}), 'encoding_metrics' (test-tier means over neurons) and
        'encoding_training'.
    """
    out_dir = Path(out_dir)
    train_config = train_config or TrainConfig()
    rows, per_level, seconds, extra, encoding_fit = [], [], {}, {}, None
    shares = _shares_encoding_fit(models, model_config, ensemble)
    for name in sorted(models, key=lambda m: m != "encoding") if shares else models:  # the fit first, to hand over
        if on_model is not None:
            on_model(name)
        started = time.perf_counter()
        if name == "ridge":
            model_rows = _ridge_rows(data, train_config)
        elif name == "encoding":
            step_cb = (lambda info: on_step(name, info)) if on_step is not None else None
            fit, encoding = _encoding(data, train_config, encoding_config, step_cb)
            encoding_fit = fit if shares and same_architecture(fit) else None
            model_rows = encoding["rows"]
            extra = {"encoding_scores": encoding["scores"], "encoding_metrics": encoding["metrics"],
                     "encoding_training": encoding["training"]}
        else:
            step_cb = (lambda info, name=name: on_step(name, info)) if on_step is not None else None
            run = _train(data, out_dir / name, name, model_config, train_config, ensemble, step_cb, encoding_fit)
            all_rows = evaluate_run(run, data, seed=train_config.seed)
            model_rows = [r for r in all_rows if r["level"] == COMBINED]
            if name == "dina":
                per_level += [{"model": name, **r} for r in all_rows if r["level"] != COMBINED]
        seconds[name] = time.perf_counter() - started
        rows += [{"model": name, **{k: v for k, v in r.items() if k != "level"}} for r in model_rows]
    rows.sort(key=lambda r: models.index(r["model"]))  # the table in the order asked for
    ceiling, ceiling_note = _ceiling_rows(data, train_config)
    rows += ceiling
    n = rows[0]["n_candidates"]
    chance = chance_scores(n)
    for direction in ("neural_to_image", "image_to_neural"):
        for responses in ("averaged", "single_trial"):
            rows.append({"model": "chance", "direction": direction, "responses": responses, "n_candidates": n,
                         "top1": chance["top1"], "top5": chance["top5"], "ci95_top1": [chance["top1"]] * 2})
    metrics = {"n_candidates": n, "rows": add_fraction_of_ceiling(rows, ceiling), "per_level": per_level,
               "seconds": seconds, "ceiling_note": ceiling_note, "dina_ensemble": ensemble, **extra}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("metrics.json", json.dumps(metrics, indent=2, default=float)),
                       ("metrics.md", markdown_table(metrics))):
        with atomic_path(out_dir / name) as tmp:  # a full disk: one line, and the earlier file kept
            tmp.write_text(text)
    return metrics


def markdown_table(metrics: dict) -> str:
    """Top-1 (95% CI) per model and task, plus top-5; percentages; single-trial top-1 as a fraction of the ceiling."""
    tasks = [("neural_to_image", "averaged"), ("neural_to_image", "single_trial"),
             ("image_to_neural", "averaged"), ("image_to_neural", "single_trial")]
    header = ["model", "neural→image averaged", "neural→image single-trial",
              "image→neural averaged", "image→neural single-trial", "single-trial / ceiling (n→i, i→n)"]
    lines = [f"Retrieval among N = {metrics['n_candidates']} test images: top-1 % (95% CI) / top-5 %; "
             "last column: single-trial top-1 over the noise ceiling's", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    models = list(dict.fromkeys(r["model"] for r in metrics["rows"]))
    for model in models:
        cells, fractions = [model], []
        for d, r in tasks:
            row = next((x for x in metrics["rows"] if x["model"] == model and x["direction"] == d
                        and x["responses"] == r), None)
            if r == "single_trial":
                fraction = (row or {}).get("fraction_of_ceiling")
                fractions.append("–" if fraction is None else f"{fraction:.2f}")
            if row is None:
                cells.append("–")
                continue
            lo, hi = row["ci95_top1"]
            cells.append(f"{100 * row['top1']:.1f} ({100 * lo:.0f}–{100 * hi:.0f}) / {100 * row['top5']:.0f}")
        lines.append("| " + " | ".join(cells + [", ".join(fractions)]) + " |")
    if metrics.get("ceiling_note"):
        lines += ["", metrics["ceiling_note"]]
    if metrics.get("encoding_metrics"):
        lines += ["", encoding_line(metrics)]
    return "\n".join(lines) + "\n"


def encoding_line(metrics: dict) -> str:
    """One line on the encoding model: what labs report (test tier, means over neurons) and the rule validation chose."""
    m, scores = metrics["encoding_metrics"], metrics["encoding_scores"]
    feve = "–" if m["feve"] is None else f"{m['feve']:.3f}"
    top1 = ", ".join(f"{rule.replace('_', '-')} {100 * v:.1f}%" for rule, v in scores["validation_top1"].items())
    return (f"Encoding model (test tier, mean over {m['n_neurons']} neurons): correlation to average "
            f"{m['correlation_to_average']:.3f}, single-trial correlation {m['single_trial_correlation']:.3f}, "
            f"FEVE {feve} (the {m['n_neurons_feve']} neurons with FEV > {m['fev_threshold']}); identified by "
            f"{scores['chosen'].replace('_', '-')} (single-trial validation top-1: {top1})")
