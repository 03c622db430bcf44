"""Consistency across animals: simulated animals of one visual system (one of another feature model) and the real
Antolik regions 1-3 (1 and 2 saw the same 50 images, 3 others).

    python bench/bench_consistency.py [--neurons 400] [--images 1000] [--epochs 12]

Prints each matrix (``dina consistency``'s table) and the seconds; figures on record:
bench/results/consistency_cpu.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from dina_core.cli.compare import matrix_text
from dina_core.evaluate.consistency import Recording, consistency
from dina_core.runs.config import TrainConfig
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals
from dina_core.train.run import train_run
from real_fixtures import antolik, available

MAPS_ONLY = {"encoding_model_level": False, "linear_level": False}  # DINA's aligned maps alone


def _matrix(label: str, recordings: list[tuple[str, object]], epochs: int) -> None:
    started = time.perf_counter()
    trained = [Recording(name, data, train_run(data, None, model_config=MAPS_ONLY,
                                               train_config=TrainConfig(epochs=epochs))[0])
               for name, data in recordings]
    result = consistency(trained)
    print(f"## {label} ({time.perf_counter() - started:.0f} s)\n{matrix_text(result)}\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=400)
    parser.add_argument("--images", type=int, default=1000, help="train images per animal")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = SimConfig.small(n_neurons=args.neurons, n_train_images=args.images)
    animals = simulate_animals(3, config=config, different=(2,))
    _matrix(f"simulated: animals 1-2 Gabor, 3 luminance ({args.neurons} neurons, {args.images} train images)",
            [(f"animal{i + 1}", a) for i, a in enumerate(animals)], args.epochs)
    if available():
        _matrix("Antolik 2016 regions 1-3", [(f"region{r}", antolik(r)) for r in (1, 2, 3)], 30)


if __name__ == "__main__":
    main()
