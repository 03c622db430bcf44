"""Time ``MaskedEvaluator`` on a Sensorium-sized task: 5,000 neurons, 100 test images x 10 repeats.

The model is an untrained DINA (timing does not depend on the weights) and the data random.
Prints ms per mask evaluation for one random half-population mask, for a batch of such
masks and for a loop over the same masks; for sparse masks (a pair ablated, 50 neurons
kept); and the reference cost of re-encoding the responses through the model.

    PYTHONPATH=. .venv/bin/python bench/bench_masked_eval.py [--neurons 5000] [--images 100] [--batch 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dina_core.data.format import DinaData
from dina_core.evaluate.tasks import tier_task
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.model import ModelConfig, build_model
from dina_core.model.inference import encode_images, encode_responses
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing
from dina_core.runs.run import Run


def random_recording(n_neurons: int, n_test: int, repeats: int, n_train: int = 200,
                     shape: tuple[int, int] = (36, 64), seed: int = 0) -> DinaData:
    """Random images and gamma-distributed responses with Sensorium's tier layout."""
    rng = np.random.default_rng(seed)
    image_index = np.concatenate([np.arange(n_train), np.repeat(np.arange(n_train, n_train + n_test), repeats)])
    tiers = np.array(["train"] * n_train + ["test"] * (n_test * repeats))
    return DinaData(images=rng.uniform(0, 255, (n_train + n_test, *shape)).astype(np.float32),
                    responses=rng.gamma(0.5, 1.0, (len(image_index), n_neurons)).astype(np.float32),
                    image_index=image_index, tiers=tiers)


def best_ms(fn, repeats: int) -> float:
    """Best of ``repeats`` wall-clock times of ``fn()``, in ms (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=5000)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--trials", type=int, default=7, help="timing repetitions (best is reported)")
    args = parser.parse_args()

    data = random_recording(args.neurons, args.images, args.repeats)
    torch.manual_seed(0)
    config = ModelConfig().to_dict()
    model = build_model("dina", config, args.neurons, data.image_shape).eval()
    run = Run(model, "dina", config, TrainConfig(), Preprocessing.fit(data))
    prepared = run.prepare(data)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.neurons} neurons, "
          f"{args.images} candidates, batch of {args.batch} masks")

    start = time.perf_counter()
    ev = MaskedEvaluator(run, data, prepared=prepared)
    print(f"construction (fold + candidate embeddings): {1e3 * (time.perf_counter() - start):.0f} ms")
    rng = np.random.default_rng(0)
    masks = (rng.random((args.batch, args.neurons)) < 0.5).astype(np.float32)
    one = best_ms(lambda: ev.top1(masks[0]), args.trials)
    batch = best_ms(lambda: ev.top1(masks), args.trials) / args.batch
    loop = best_ms(lambda: [ev.top1(m) for m in masks], max(1, args.trials // 2)) / args.batch
    assert np.array_equal(ev.top1(masks), np.array([ev.top1(m) for m in masks]))
    print(f"averaged ({ev.n_queries} queries): one mask {one:.2f} ms; batched {batch:.2f} ms/mask; "
          f"loop {loop:.2f} ms/mask; loop / batch = {loop / batch:.2f}")

    pairs = np.ones((1000, args.neurons), dtype=np.float32)
    pairs[np.arange(1000)[:, None], rng.choice(args.neurons, size=(1000, 2))] = 0
    top50 = np.zeros((args.batch, args.neurons), dtype=np.float32)
    top50[np.arange(args.batch)[:, None], rng.choice(args.neurons, size=(args.batch, 50))] = 1
    pair_ms = best_ms(lambda: ev.top1(pairs), max(1, args.trials // 2)) / len(pairs)
    top50_ms = best_ms(lambda: ev.top1(top50), args.trials) / args.batch
    print(f"sparse masks: 1000 pair ablations {pair_ms:.3f} ms/mask; 50 kept neurons {top50_ms:.3f} ms/mask")

    task = tier_task(prepared)
    queries, _ = task.queries()
    image_emb = encode_images(model, task.images)
    mask = torch.from_numpy(masks[0])
    naive = best_ms(lambda: encode_responses(model, queries, neuron_mask=mask) @ image_emb.T, args.trials)
    print(f"reference: re-encoding through the model {naive:.2f} ms/mask (candidates cached)")

    single = MaskedEvaluator(run, data, "single_trial", prepared=prepared)
    one_st = best_ms(lambda: single.top1(masks[0]), args.trials)
    batch_st = best_ms(lambda: single.top1(masks[:8]), args.trials) / 8
    print(f"single_trial ({single.n_queries} queries): one mask {one_st:.2f} ms; batched {batch_st:.2f} ms/mask")


if __name__ == "__main__":
    main()
