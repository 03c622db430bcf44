"""Training throughput (samples/s) and the share of step time spent outside the model.

Runs `fit` for a few epochs on demo-sized random data resident on the device, then
times the model's own forward + loss + backward on the same batches; the difference
is what the loop adds (indexing, optimiser, LR schedule, callbacks, validation).

    python bench/bench_train.py [--device cpu|cuda] [--epochs 2] [--neurons 1000] [--trials 2500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dina_core.model import DinaModel, ModelConfig
from dina_core.runs.config import TrainConfig
from dina_core.model.device import autocast, resolve_device
from dina_core.train.loop import fit
from dina_core.train.loss import multilevel_info_nce
from dina_core.runs.prepare import PreparedData


def synthetic(n_trials: int, n_neurons: int, shape: tuple[int, int], device) -> PreparedData:
    g = torch.Generator().manual_seed(0)
    n_val = n_trials // 10
    return PreparedData(
        images=torch.randn(n_trials + n_val, 1, *shape, generator=g).to(device),
        responses=torch.randn(n_trials + n_val, n_neurons, generator=g).to(device),
        image_index=torch.arange(n_trials + n_val, device=device),
        tier_trials={"train": np.arange(n_trials), "validation": np.arange(n_trials, n_trials + n_val),
                     "test": np.arange(0)},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=2500)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = synthetic(args.trials, args.neurons, (36, 64), device)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=str(device), patience=100)
    torch.manual_seed(0)
    model = DinaModel(ModelConfig(), args.neurons, (36, 64)).to(device)

    fit(model, data, TrainConfig(**{**config.to_dict(), "epochs": 1}))  # warm-up: kernels, allocator
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    fit(model, data, config)
    sync()
    fit_s = time.perf_counter() - started

    model.train()
    train = torch.as_tensor(data.tier_trials["train"], device=device)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch)).to(device)]
        for b in range(0, len(order), args.batch_size):
            idx = order[b:b + args.batch_size]
            images, responses = data.images[data.image_index[idx]], data.responses[idx]
            with autocast(device, config.amp):
                loss, _ = multilevel_info_nce(model(images, responses), model.level_weights)
            loss.backward()
            model.zero_grad(set_to_none=True)
    sync()
    model_s = time.perf_counter() - started

    samples = args.trials * args.epochs
    print(f"device {device} | {args.trials} trials x {args.neurons} neurons | batch {args.batch_size} | "
          f"{args.epochs} epochs")
    print(f"fit (incl. validation each epoch): {samples / fit_s:9.1f} samples/s  ({fit_s:.2f} s)")
    print(f"model fwd+loss+bwd only:           {samples / model_s:9.1f} samples/s  ({model_s:.2f} s)")
    print(f"share of fit time outside the model: {max(0.0, 1 - model_s / fit_s):.1%}")


if __name__ == "__main__":
    main()
