"""Where a training step's time goes at Sensorium scale, for the default DINA against its predecessor.

    python bench/bench_model_speed.py [--neurons 5335] [--train-trials 4472] [--batch-size 256]

Times, in one process on the same random batch (so machine load affects every row alike):
a full optimiser step, the image tower's and the neural tower's forward + backward alone,
and one validation pass (522 trials against 522 images), for ``dina`` (today's defaults),
``dina_v1`` (full-resolution stem, stages 2 and 3 only: the default before the stride-2 stem
and stage0) and ``linear``; then the seconds per epoch they imply and the ratios to ``dina_v1``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import synthetic  # noqa: E402

from dina_core.model import DinaModel, LinearConfig, LinearTwoTower, ModelConfig  # noqa: E402
from dina_core.runs.prepare import PreparedData  # noqa: E402
from dina_core.train.loss import multilevel_info_nce  # noqa: E402
from dina_core.train.validation import validation_top1  # noqa: E402

MODELS = {
    "dina_v1": lambda n, shape: DinaModel(ModelConfig(stem_stride=1, aligned_stages=("stage2", "stage3"),
                                                      stage_weights=(1.0, 1.0)), n, shape),
    "dina": lambda n, shape: DinaModel(ModelConfig(), n, shape),
    "linear": lambda n, shape: LinearTwoTower(LinearConfig(), n, shape),
}


def seconds(fn, repeats: int = 3) -> float:
    fn()  # warm-up: kernels, allocator
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=5335)
    parser.add_argument("--train-trials", type=int, default=4472)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    shape = (36, 64)
    data = synthetic(args.train_trials, args.neurons, shape, "cpu")
    val = PreparedData(data.images, data.responses, data.image_index,
                       {**data.tier_trials, "validation": np.arange(522)})
    images, responses = data.images[:args.batch_size], data.responses[:args.batch_size]
    steps = args.train_trials / args.batch_size
    print(f"{args.neurons} neurons, batch {args.batch_size}, {steps:.1f} steps per epoch, "
          f"{torch.get_num_threads()} threads")
    epoch = {}
    for name, make in MODELS.items():
        torch.manual_seed(0)
        model = make(args.neurons, shape).train()
        optimizer = torch.optim.AdamW(model.parameters())

        def step():
            loss, _ = multilevel_info_nce(model(images, responses), model.loss_weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        def image_side():
            sum(z.sum() for z in model.image_levels(images).values()).backward()

        def neural_side():
            sum(z.sum() for z in model.response_levels(responses).values()).backward()

        s, i, r = seconds(step), seconds(image_side), seconds(neural_side)
        v = seconds(lambda: validation_top1(model, val), 2)
        epoch[name] = s * steps + v
        print(f"{name:8s} step {1e3 * s:7.0f} ms (image side {1e3 * i:6.0f}, neural side {1e3 * r:5.0f})  "
              f"validation {v:5.2f} s  -> {epoch[name]:6.1f} s per epoch", flush=True)
    for name in ("dina", "linear"):
        print(f"epoch time {name} / dina_v1: {epoch[name] / epoch['dina_v1']:.2f}")


if __name__ == "__main__":
    main()
