"""Default DINA and the linear two-tower at Sensorium scale: training seconds and test retrieval.

    python bench/bench_sensorium_scale.py [--variant default|linear_friendly] [--models dina linear] [--seed 0]
    python bench/bench_sensorium_scale.py --benchmark DIR   # the whole default `dina benchmark`, timed

Simulates a recording the size of the real Sensorium recording DINA is judged on (5,335 neurons;
4,472 train and 522 validation images shown once; 100 test images x 10 repeats), trains each model
with the defaults a user gets (``dina train``), and prints per model: training seconds, epochs,
neural -> image top-1 (averaged and single-trial, 95% CI) and single-trial top-1 as a fraction of
the noise ceiling; then the ceiling and the ratio of DINA's training time to the linear model's.
``linear_friendly`` makes the population easy for a linear read-out (large receptive fields, mostly
simple cells, a strong shared gain that behaviour tracks), the regime where real V1 is hardest on DINA.
``--benchmark DIR`` runs what ``dina benchmark`` runs by default on that recording instead (every model, the
encoding row's fit handed to DINA's level), writes ``DIR/metrics.json`` and ``DIR/metrics.md`` and prints the
seconds per model and in all: the issue's budget is 10 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from dina_core.benchmark import markdown_table, run_benchmark
from dina_core.evaluate.ceiling import noise_ceiling
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.evaluate.tasks import tier_task
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.train.run import train_run

SENSORIUM_SIZE = dict(n_neurons=5335, n_train_images=4472, n_validation_images=522, n_test_images=100,
                      n_test_repeats=10)
VARIANTS = {
    "default": {},
    "linear_friendly": dict(rf_sigma_range=(5.0, 10.0), complex_fraction=0.1, shared_gain_sd=0.5,
                            gain_behavior_corr=0.8),
}


def _top1(rows: list[dict], responses: str) -> dict:
    return next(r for r in rows if r["direction"] == "neural_to_image" and r["responses"] == responses
                and r.get("level", "combined") == "combined")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    parser.add_argument("--models", nargs="+", default=["dina", "linear"], choices=["dina", "linear"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--benchmark", metavar="DIR", help="run the default dina benchmark into DIR instead")
    args = parser.parse_args()
    started = time.perf_counter()
    data = simulate_recording(SimConfig(seed=args.seed, **SENSORIUM_SIZE, **VARIANTS[args.variant]))
    print(f"simulated {args.variant} recording {data.responses.shape} in {time.perf_counter() - started:.1f} s")
    if args.benchmark:
        started = time.perf_counter()
        metrics = run_benchmark(data, args.benchmark)
        total = time.perf_counter() - started
        print(markdown_table(metrics))
        print("seconds per model: " + ", ".join(f"{k} {v:.0f}" for k, v in metrics["seconds"].items())
              + f"; the whole benchmark {total:.0f} s ({total / 60:.1f} min)")
        return
    seconds, ceiling = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models:
            started = time.perf_counter()
            run, result = train_run(data, f"{tmp}/{kind}", kind=kind)
            seconds[kind] = time.perf_counter() - started
            rows = evaluate_run(run, data, per_level=False, seed=args.seed)
            if ceiling is None:
                test = tier_task(run.prepare(data), "test")
                ceiling_rows = noise_ceiling(test.responses.cpu().numpy(), test.image_index, seed=args.seed)
                ceiling, averaged_ceiling = _top1(ceiling_rows, "single_trial"), _top1(ceiling_rows, "averaged")
            avg, single = _top1(rows, "averaged"), _top1(rows, "single_trial")
            print(f"{kind:7s} {seconds[kind]:7.1f} s  {len(result.history):3d} epochs  "
                  f"averaged {avg['top1']:.3f} {avg['ci95_top1']}  single-trial {single['top1']:.3f} "
                  f"{single['ci95_top1']}  ({single['top1'] / ceiling['top1']:.0%} of ceiling)", flush=True)
    print(f"ceiling averaged {averaged_ceiling['top1']:.3f}  single-trial {ceiling['top1']:.3f}")
    if {"dina", "linear"} <= set(seconds):
        print(f"training time dina / linear: {seconds['dina'] / seconds['linear']:.1f}x")


if __name__ == "__main__":
    main()
