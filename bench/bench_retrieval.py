"""Time chunked ``target_ranks`` against the naive full-matrix argsort.

Each case runs in a fresh process so that its peak memory (Linux VmHWM, reset after
the embeddings are built) counts only the ranking itself.

    PYTHONPATH=. .venv/bin/python bench/bench_retrieval.py [--small 2000 20000] [--big 10000 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import torch

from dina_core.evaluate.retrieval import target_ranks


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def naive_ranks(q: torch.Tensor, c: torch.Tensor, t: torch.Tensor) -> np.ndarray:
    """Full (Q, C) score matrix, descending argsort, position of the target."""
    order = torch.argsort(q @ c.T, dim=1, descending=True)
    return (order == t[:, None]).nonzero()[:, 1].numpy()


def _case(method: str, n_q: int, n_c: int, dim: int, chunk: int, out: mp.Queue) -> None:
    gen = torch.Generator().manual_seed(0)
    c = torch.randn(n_c, dim, generator=gen)
    t = torch.randint(0, n_c, (n_q,), generator=gen)
    q = c[t] + 6.0 * torch.randn(n_q, dim, generator=gen)  # a model well above chance, far from perfect
    q, c = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(c, dim=1)  # as DINA's towers
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base = _status_mb("VmRSS")
    except OSError:
        base = float("nan")
    start = time.perf_counter()
    ranks = target_ranks(q, c, t, chunk_size=chunk) if method == "chunked" else naive_ranks(q, c, t)
    seconds = time.perf_counter() - start
    out.put((seconds, _status_mb("VmHWM") - base, float(np.mean(ranks < 1)), ranks))


def run(method: str, n_q: int, n_c: int, dim: int, chunk: int) -> tuple[float, float, float, np.ndarray]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_case, args=(method, n_q, n_c, dim, chunk, out))
    proc.start()
    result = out.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--small", type=int, nargs=2, default=(2_000, 20_000), help="queries candidates")
    parser.add_argument("--big", type=int, nargs=2, default=(10_000, 100_000), help="queries candidates")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, D={args.dim}, chunk={args.chunk}")
    small = {m: run(m, *args.small, args.dim, args.chunk) for m in ("naive", "chunked")}
    for m, (sec, mb, top1, _) in small.items():
        print(f"{m:8s} {args.small[0]:>6d} x {args.small[1]:>7d}: {sec:7.2f} s, peak +{mb:7.0f} MB, top1 {top1:.3f}")
    diff = np.abs(small["naive"][3] - small["chunked"][3])
    print(f"speed-up chunked vs naive: {small['naive'][0] / small['chunked'][0]:.1f}x")
    print(f"ranks differing from argsort (float32 near-ties): {np.count_nonzero(diff)}, max |diff| {diff.max()}")
    sec, mb, top1, _ = run("chunked", *args.big, args.dim, args.chunk)
    print(f"chunked  {args.big[0]:>6d} x {args.big[1]:>7d}: {sec:7.2f} s, peak +{mb:7.0f} MB, top1 {top1:.3f}")
    full_gb = args.big[0] * args.big[1] * (4 + 8) / 1e9
    print(f"(naive would need >= {full_gb:.0f} GB for scores + argsort indices at that size)")


if __name__ == "__main__":
    main()
