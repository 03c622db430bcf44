"""What pooling recordings buys: each recording's DINA trained alone against one joint model over all of them, and
the next animal's few-shot curve started from the joint model against training from scratch.

    python bench/bench_joint.py [--neurons 300] [--images 800] [--budgets 100,300,800] [--skip-real]

Simulated: three animals of one visual system (``simulate.animals``, half of each tier's images shared); animals
1-2 are trained alone and jointly, animal 3 is the next animal. Real: Antolik 2016 regions 1-3 from
../shared/data (skipped when absent), alone and jointly. Prints markdown tables; figures on record:
bench/results/joint_cpu.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench_ablation import _ci, _paired
from dina_core.evaluate.paired import single_trial_hits
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.fewshot import fewshot
from dina_core.runs.config import TrainConfig
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals
from dina_core.train.joint import train_joint
from dina_core.train.run import train_run
from real_fixtures import antolik, available

HEADER = ("| data | recording | model | val | test single-trial | test averaged | joint minus alone (paired) | s |\n"
          "|---|---|---|---|---|---|---|---|")


def _row(rows: list[dict], responses: str) -> dict:
    return next(r for r in rows if r["level"] == "combined" and r["direction"] == "neural_to_image"
                and r["responses"] == responses)


def compare(label: str, recordings: dict, config: TrainConfig, model_config: dict | None = None, seed: int = 0) -> str:
    """Table rows: each recording alone and in the joint model, with the paired single-trial difference."""
    lines, alone = [], {}
    for name, data in recordings.items():
        started = time.perf_counter()
        run, _ = train_run(data, None, model_config=model_config, train_config=config)
        alone[name] = run, time.perf_counter() - started
    started = time.perf_counter()
    joint, _ = train_joint(recordings, None, model_config=model_config, train_config=config)
    joint_seconds = time.perf_counter() - started
    for name, data in recordings.items():
        reference = single_trial_hits(alone[name][0], data)
        for model, run, seconds in (("alone", *alone[name]), ("joint", joint.runs[name], joint_seconds)):
            rows = evaluate_run(run, data, per_level=False, seed=seed)
            paired = "" if model == "alone" else _paired(*single_trial_hits(run, data), reference, seed)
            lines.append(f"| {label} | {name} | {model} | {run.metadata['best_val_top1']:.3f} | "
                         f"{_ci(_row(rows, 'single_trial'))} | {_ci(_row(rows, 'averaged'))} | {paired} | "
                         f"{seconds:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=300)
    parser.add_argument("--images", type=int, default=800, help="train images per animal")
    parser.add_argument("--budgets", default="100,300,800", help="the next animal's train-trial budgets")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--maps-only", action="store_true", help="DINA's aligned maps alone (no linear or "
                        "encoding-model level): what the shared image tower itself gains; no few-shot curve")
    parser.add_argument("--out", default="/tmp/dina_bench_joint", help="folder for the joint run and the curve")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = TrainConfig(device="cpu")
    sim = SimConfig.small(n_neurons=args.neurons, n_train_images=args.images, n_validation_images=100,
                          n_test_images=60, n_test_repeats=5)
    animals = simulate_animals(3, config=sim)
    first_two = {"animal1": animals[0], "animal2": animals[1]}
    model_config = {"encoding_model_level": False, "linear_level": False} if args.maps_only else None
    print(HEADER)
    print(compare("simulator", first_two, config, model_config), flush=True)
    if available() and not args.skip_real:
        print(compare("Antolik 2016", {f"region{r}": antolik(r) for r in (1, 2, 3)}, config, model_config), flush=True)
    if args.maps_only:
        return
    started = time.perf_counter()
    train_joint(first_two, f"{args.out}/joint12", train_config=config, overwrite=True)
    fewshot(animals[2], f"{args.out}/joint12", [int(b) for b in args.budgets.split(",")],
                    f"{args.out}/fewshot3", train_config=config, overwrite=True)
    print(f"\nanimal3 from the joint model of animals 1-2 ({time.perf_counter() - started:.0f} s):\n")
    print(open(f"{args.out}/fewshot3/fewshot.md").read(), flush=True)


if __name__ == "__main__":
    main()
