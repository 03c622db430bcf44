"""Model validation of a torchvision ResNet-18 (random weights) on the demo recording: the whole flow's wall time,
and what the feature cache saves a second run on other layers of the same network.

    python bench/bench_model_validation.py [--dir /tmp/mv_bench] [--epochs N]

Prints: the layer listing's time; run 1 (4 layers, cold cache) and run 2 (2 other stage layers, warm cache), each
whole (maps + the neural towers of network and control + the pixel level + the references); the maps alone cold
and warm in this process, and their ratio. Figures on record: bench/results/model_validation_cpu.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from dina_core.data.io import read_dataset
from dina_core.demo import ensure_demo_dataset
from dina_core.model_validation import parse_spec, validate_models
from dina_core.model_validation.features import FeatureCache
from dina_core.model_validation.networks import open_network
from dina_core.runs.config import TrainConfig
from dina_core.runs.run import load_run

SPEC = parse_spec("torchvision:resnet18")


def _timed(label: str, work):
    started = time.perf_counter()
    out = work()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s", flush=True)
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--epochs", type=int, default=None, help="neural-tower epochs (default: TrainConfig's)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="mv_bench_"))
    torch.set_num_threads(2)
    data = read_dataset(ensure_demo_dataset(folder / "demo"))
    train = TrainConfig() if args.epochs is None else TrainConfig(epochs=args.epochs)
    dina = load_run("assets/demo_run")  # the shipped DINA run, trained on this very recording
    print(f"demo recording: {data.n_images} images, {data.n_neurons} neurons; torch threads "
          f"{torch.get_num_threads()}", flush=True)
    network, _ = _timed("list layers", lambda: open_network(SPEC, data))
    cache = folder / "cache"
    first, t1 = _timed("run 1: layer1..layer4, cold cache", lambda: validate_models(
        data, [SPEC], folder / "run1", layers="layer1,layer2,layer3,layer4", train_config=train, dina_run=dina,
        cache_dir=cache))
    second, t2 = _timed("run 2: relu, layer2 (other layers), warm cache", lambda: validate_models(
        data, [SPEC], folder / "run2", layers="relu,layer2", train_config=train, dina_run=dina, cache_dir=cache))
    print(f"run 2 cache hits: {second['networks'][0]['cache_hits']} (control {second['networks'][1]['cache_hits']})")
    network.grid = tuple(first["grid"])
    names = [layer.name for layer in network.layers if layer.stage]
    cold_cache = FeatureCache(folder / "cold")
    _, cold = _timed(f"maps of {len(names)} stages, cold", lambda: network.pooled(names, data.images, cold_cache))
    _, warm = _timed(f"maps of {len(names)} stages, warm", lambda: network.pooled(names, data.images, cold_cache))
    print(f"maps warm / cold: {warm / cold:.4f}; run 2 / run 1: {t2 / t1:.2f}")
    for row in first["rows"] + first["control"] + [first["pixel"], first["dina"]]:
        print(f"  {row['model'][:48]:48s} {row['layer']:8s} single-trial {row['single_trial']:.3f} "
              f"[{row['ci95_single_trial'][0]:.3f}, {row['ci95_single_trial'][1]:.3f}] averaged {row['averaged']:.3f}"
              + (f"  minus control {row['minus_control']['single_trial']:+.3f}" if "minus_control" in row else ""))
    print(f"ceiling {first['ceiling']}; grid {first['grid']}; best {first['best']}")
    if args.dir is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
