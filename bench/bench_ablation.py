"""What each of DINA's mechanisms adds, beside the linear two-tower, on data we can see.

    python bench/bench_ablation.py [--data sim linear_friendly antolik allen] [--variants ...]
                                   [--neurons 1000] [--train-images 2000] [--seed 0]

Datasets: the simulator at a reduced Sensorium layout (``--neurons`` neurons, ``--train-images``
train and a tenth as many validation images shown once, 100 test images x 10 repeats; its shared
gain follows the simulated arousal); ``linear_friendly``, the variant of ``bench_sensorium_scale``
(large RFs, mostly simple cells, strong behaviour-linked gain); the real Antolik 2016 regions and
Allen natural scenes fixtures in ../shared/data (skipped when absent). Variants are trained with
the defaults a user gets except for the one change each names; ``dina_v1`` is the default before
stage0, the stride-2 stem and level weighting; ``encoding_model`` is the field's standard decoder (the
benchmark's encoding baseline, ``dina_core.evaluate.encoding``, its identification rule chosen on
validation); ``encoding_model_level`` holds that baseline, fitted first and frozen, as one of DINA's levels (the
default now; ``no_encoding_model_level`` leaves it out); ``ensemble3`` is a seed ensemble of three defaults. Per
variant: validation top-1 (what defaults are chosen on), test neural -> image top-1
single-trial and averaged with 95% CI, the paired single-trial differences from the linear model and from
the encoding model (when they ran before it), training seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sensorium_scale import VARIANTS  # noqa: E402
from real_fixtures import allen, antolik, available  # noqa: E402

from dina_core.evaluate.encoding import fit_encoding  # noqa: E402
from dina_core.evaluate.encoding_scores import evaluate_encoding  # noqa: E402
from dina_core.evaluate.encoding_scores import tier_embeddings as encoding_embeddings  # noqa: E402
from dina_core.evaluate.model_eval import evaluate_run  # noqa: E402
from dina_core.evaluate.paired import single_trial_hits  # noqa: E402
from dina_core.evaluate.retrieval import bootstrap_ci  # noqa: E402
from dina_core.model import LinearConfig, ModelConfig  # noqa: E402
from dina_core.runs.config import TrainConfig  # noqa: E402
from dina_core.simulate import SimConfig, simulate_recording  # noqa: E402
from dina_core.train.ensemble import train_ensemble  # noqa: E402
from dina_core.train.run import train_run  # noqa: E402

V1 = dict(aligned_stages=("stage2", "stage3"), stage_weights=(1.0, 1.0), stem_stride=1, linear_level=False)
ABLATIONS = {  # name: (kind, model overrides, train overrides)
    "linear": ("linear", {}, {}),
    "dina_v1": ("dina", V1, {"tune_level_weights": False, "shift_pixels": 0, "behavior": "off"}),
    "dina": ("dina", {}, {}),
    "stage0_raw": ("dina", {"stage0_filters": 0}, {}),
    "no_stage0": ("dina", {"aligned_stages": ("stage2", "stage3"), "stage_weights": (1.0, 1.0)}, {}),
    "no_linear_level": ("dina", {"linear_level": False}, {}),
    "encoding_level": ("dina", {"encoding_level": True}, {}),
    "encoding_level_only": ("dina", {"encoding_level": True, "aligned_stages": (), "stage_weights": (),
                                     "linear_level": False}, {}),
    "encoding_model": ("encoding", {}, {}),
    "encoding_model_level": ("dina", {"encoding_model_level": True}, {}),
    "no_encoding_model_level": ("dina", {"encoding_model_level": False}, {}),
    "ensemble3": ("ensemble", {}, {}),
    "no_shift": ("dina", {}, {"shift_pixels": 0}),
    "shift1": ("dina", {}, {"shift_pixels": 1}),
    "behavior": ("dina", {}, {"behavior": "on"}),
    "no_behavior": ("dina", {}, {"behavior": "off"}),
    "linear_behavior": ("linear", {}, {"behavior": "on"}),
}


def datasets(names: list[str], neurons: int, train_images: int, seed: int):
    size = dict(n_neurons=neurons, n_train_images=train_images, n_validation_images=max(50, train_images // 9),
                n_test_images=100, n_test_repeats=10)
    for name in names:
        if name in ("sim", "linear_friendly"):
            variant = VARIANTS["default" if name == "sim" else name]
            yield name, simulate_recording(SimConfig(seed=seed, **size, **variant))
        elif not available():
            print(f"{name}: skipped (../shared/data not found)")
        elif name == "antolik":
            for region in (1, 2, 3):
                yield f"antolik_r{region}", antolik(region, seed=seed)
        elif name == "allen":
            yield "allen", allen()


def _top1(rows: list[dict], responses: str) -> dict:
    return next(r for r in rows if r["direction"] == "neural_to_image" and r["responses"] == responses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["sim", "linear_friendly", "antolik", "allen"])
    parser.add_argument("--variants", nargs="+", default=["linear", "dina_v1", "dina", "no_stage0", "no_shift",
                                                           "no_behavior"],
                        choices=sorted(ABLATIONS))
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| data | variant | val top-1 | test single-trial top-1 (95% CI) | test averaged top-1 (95% CI) | "
          "single-trial minus linear (paired 95% CI) | minus encoding model | train s | epochs |\n"
          "|---|---|---|---|---|---|---|---|---|", flush=True)
    for data_name, data in datasets(args.data, args.neurons, args.train_images, args.seed):
        references = {}  # variant -> its single-trial hits on this data, for the paired columns
        for variant in args.variants:
            kind, model_over, train_over = ABLATIONS[variant]
            started = time.perf_counter()
            if kind == "encoding":
                _encoding_row(data_name, data, args.seed, started, references)
                continue
            base = LinearConfig().to_dict() if kind == "linear" else ModelConfig().to_dict()
            train_config = TrainConfig(seed=args.seed, **train_over)
            if kind == "ensemble":  # three seeds of DINA's default, each with its own encoding-model level
                run, results = train_ensemble(data, None, 3, model_config={**base, **model_over},
                                              train_config=train_config)
                _print_row(data_name, variant, run, data, args.seed, run.metadata["best_val_top1"],
                           time.perf_counter() - started, sum(len(r.history) for r in results), references)
                continue
            run, result = train_run(data, None, kind=kind, model_config={**base, **model_over},
                                    train_config=train_config)
            seconds = time.perf_counter() - started
            if variant == "linear":
                references["linear"] = single_trial_hits(run, data)
            chosen = run.metadata.get("level_weights")
            _print_row(data_name, variant + (f" {chosen['chosen']}" if chosen else ""), run, data, args.seed,
                       chosen["validation_top1"] if chosen else result.best_val_top1, seconds, len(result.history),
                       references)
            if chosen:  # the same run scored with its training weights: what choosing them on validation adds
                run.model.level_weights = dict(zip(run.model.levels, chosen["before"]))
                _print_row(data_name, f"{variant} without level weights", run, data, args.seed,
                           result.best_val_top1, seconds, len(result.history), references)


def _encoding_row(data_name, data, seed, started, references) -> None:
    """Fit and print the encoding baseline; its single-trial hits become the 'minus encoding model' reference."""
    fit = fit_encoding(data, seed=seed)
    result = evaluate_encoding(fit, seed=seed)
    seconds = time.perf_counter() - started
    rule = result["scores"]["chosen"]
    ranks = encoding_embeddings(fit, "test", rule)
    hits = (ranks.ranks("neural_to_image", "single_trial") == 0).astype(np.float64)
    groups = ranks.groups("neural_to_image", "single_trial")
    linear = _paired(hits, groups, references.get("linear"), seed)
    references["encoding_model"] = hits, groups
    rows = result["rows"]
    single, avg = _top1(rows, "single_trial"), _top1(rows, "averaged")
    print(f"| {data_name} | encoding_model ({rule}) | {result['scores']['validation_top1'][rule]:.3f} | "
          f"{_ci(single)} | {_ci(avg)} | {linear} | | {seconds:.0f} | {result['training']['epochs_run']} |",
          flush=True)


def _paired(hits, groups, reference, seed) -> str:
    """Mean of ``hits`` minus ``reference``'s hits on the same trials, with a bootstrap CI over images."""
    if reference is None:
        return ""
    diff = hits - reference[0]
    lo, hi = bootstrap_ci(diff, seed=seed, groups=groups)
    return f"{diff.mean():+.3f} ({lo:+.2f} to {hi:+.2f})"


def _ci(row) -> str:
    return f"{row['top1']:.3f} ({row['ci95_top1'][0]:.2f}-{row['ci95_top1'][1]:.2f})"


def _print_row(data_name, variant, run, data, seed, val, seconds, epochs, references) -> None:
    rows = evaluate_run(run, data, per_level=False, seed=seed)
    single, avg = _top1(rows, "single_trial"), _top1(rows, "averaged")
    hits, groups = single_trial_hits(run, data)
    print(f"| {data_name} | {variant} | {val:.3f} | {_ci(single)} | {_ci(avg)} | "
          f"{_paired(hits, groups, references.get('linear'), seed)} | "
          f"{_paired(hits, groups, references.get('encoding_model'), seed)} | {seconds:.0f} | {epochs} |", flush=True)


if __name__ == "__main__":
    main()
