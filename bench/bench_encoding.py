"""The encoding-model baseline at a given scale: training seconds, validation and test scores.

    python bench/bench_encoding.py [--scale sensorium|demo|small] [--set epochs=4 core_channels=16 ...]
                                   [--behavior-gain both|on|off] [--seed 0] [--device cpu]

Simulates a recording (``sensorium``: 5,335 neurons, 4,472 train and 522 validation images shown once, 100
test images x 10 repeats, as ``bench/bench_sensorium_scale.py``; ``demo``: the built-in demo; ``small``: the
test fixture), fits :class:`~dina_core.model.encoding.EncodingConfig` (defaults, with ``--set`` overrides) on
the benchmark's split, and prints: seconds (training, and training + scoring), epochs run and the best one,
per-epoch seconds and validation correlation, the validation top-1 of both identification rules, the test
encoding metrics (correlation to average, single-trial correlation, FEVE) and the test top-1 of both rules
(neural -> image, single-trial and averaged). ``--behavior-gain both`` fits with and without the per-neuron
behaviour gain, to see on validation whether it helps. The load average is printed first: the figures
mean little on a machine other work shares.
"""

from __future__ import annotations

import argparse
import ast
import os
import time

import torch

from dina_core.evaluate.encoding import fit_encoding
from dina_core.evaluate.encoding_scores import evaluate_encoding
from dina_core.model.encoding import EncodingConfig
from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_recording

SCALES = {
    "sensorium": lambda seed: SimConfig(seed=seed, n_neurons=5335, n_train_images=4472, n_validation_images=522,
                                        n_test_images=100, n_test_repeats=10),
    "demo": lambda seed: SimConfig(**{**DEMO_CONFIG.to_dict(), "seed": seed}),
    "small": lambda seed: SimConfig.small(seed=seed),
}


def _overrides(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            values[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[key] = text
    return values


def _task(rows: list[dict], direction: str, responses: str) -> dict:
    return next(r for r in rows if r["direction"] == direction and r["responses"] == responses)


def _report(label: str, data, config: EncodingConfig, seed: int, device: str) -> None:
    started = time.perf_counter()
    fit = fit_encoding(data, config, seed=seed, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    trained = time.perf_counter() - started
    result = evaluate_encoding(fit, seed=seed)
    total = time.perf_counter() - started
    per_epoch = [h["seconds"] - (fit.history[i - 1]["seconds"] if i else 0.0) for i, h in enumerate(fit.history)]
    print(f"[{label}] trained {trained:.1f} s (with scoring {total:.1f} s), {len(fit.history)} epochs, best "
          f"{fit.best_epoch + 1}; seconds per epoch {[round(s, 1) for s in per_epoch]}")
    print(f"[{label}] validation correlation per epoch {[round(h['val_correlation'], 3) for h in fit.history]}")
    scores, m = result["scores"], result["metrics"]
    print(f"[{label}] validation single-trial top-1 {({k: round(v, 3) for k, v in scores['validation_top1'].items()})}"
          f" -> {scores['chosen']}")
    feve = "-" if m["feve"] is None else f"{m['feve']:.3f}"
    print(f"[{label}] test: correlation to average {m['correlation_to_average']:.3f}, single-trial correlation "
          f"{m['single_trial_correlation']:.3f}, FEVE {feve} ({m['n_neurons_feve']} of {m['n_neurons']} neurons "
          f"with FEV > {m['fev_threshold']})")
    for rule in ("correlation", "log_likelihood"):
        cells = []
        for direction in ("neural_to_image", "image_to_neural"):
            for responses in ("averaged", "single_trial"):
                row = _task(scores[rule], direction, responses)
                lo, hi = row["ci95_top1"]
                cells.append(f"{direction[0]}->{direction[-5]} {responses} {100 * row['top1']:.1f} "
                             f"({100 * lo:.0f}-{100 * hi:.0f})")
        print(f"[{label}] test top-1 % by {rule}: " + "; ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="sensorium")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="EncodingConfig overrides")
    parser.add_argument("--behavior-gain", choices=("both", "on", "off"), default="on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads "
          f"{torch.get_num_threads()}; device {args.device}")
    started = time.perf_counter()
    data = simulate_recording(SCALES[args.scale](args.seed))
    print(f"simulated {args.scale} recording {data.responses.shape} in {time.perf_counter() - started:.1f} s",
          flush=True)
    gains = {"both": (True, False), "on": (True,), "off": (False,)}[args.behavior_gain]
    for gain in gains:
        config = EncodingConfig(**{**_overrides(args.set), "behavior_gain": gain})
        _report(f"behaviour gain {'on' if gain else 'off'}", data, config, args.seed, args.device)


if __name__ == "__main__":
    main()
