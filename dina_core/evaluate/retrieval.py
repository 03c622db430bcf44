"""Chunked N-way retrieval metrics on embeddings.

Every DINA model scores a (response, image) pair as the dot product of two embeddings, so
retrieval reduces to ranking dot products. :func:`target_ranks` does this in blocks of at
most ``chunk_size x chunk_size`` scores, so 10k queries against 100k candidates never
hold the full score matrix. Ties are broken pessimistically: a model that cannot tell
candidates apart gets the worst rank, never a lucky top-1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# Slack of the tie test, in units of eps * |q| * max|c| (the scale of a dot product's
# rounding error): if a kernel ever computes the target's score a rounding higher than
# identical candidates' scores, a collapsed model must still not score top-1.
_TIE_SLACK = 1.0


def _as_tensor(x: ArrayLike, dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
    t = torch.as_tensor(x).detach()
    return t.to(device=device or t.device, dtype=dtype)


def _check(q: torch.Tensor, c: torch.Tensor, t: torch.Tensor, chunk_size: int) -> None:
    """Raise ValueError unless shapes, targets and values make a valid ranking problem."""
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1]:
        shapes = f"{tuple(q.shape)}, {tuple(c.shape)}"
        raise ValueError(f"need queries (Q, D) and candidates (C, D); got {shapes}")
    if t.shape != (q.shape[0],):
        raise ValueError(f"targets must have shape ({q.shape[0]},); got {tuple(t.shape)}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= len(c)):
        raise ValueError(f"targets must lie in [0, {len(c) - 1}]")
    # A float64 sum is non-finite iff an entry is (no overflow), and far faster than isfinite;
    # summing by chunks bounds its float64 copy.
    for x in (q, c):
        sums = [x[i : i + chunk_size].sum(dtype=torch.float64) for i in range(0, len(x), chunk_size)]
        if not all(torch.isfinite(s) for s in sums):
            raise ValueError("embeddings contain NaN or inf; a NaN score would rank as a success")


def _target_scores(
    qb: torch.Tensor, c: torch.Tensor, tb: torch.Tensor, width: int, buffer: torch.Tensor
) -> torch.Tensor:
    """(n,) score of each query's target, as the diagonal of small matmul blocks.

    A matmul sums over D in a different order than an elementwise dot product, so only a
    matmul reproduces the block scores bit for bit (checked on CPU BLAS).
    """
    out = torch.empty(len(qb), dtype=qb.dtype, device=qb.device)
    for i in range(0, len(qb), width):
        rows, cols = qb[i : i + width], c[tb[i : i + width]]
        block = buffer[: len(rows) ** 2].view(len(rows), len(rows))
        out[i : i + len(rows)] = torch.matmul(rows, cols.T, out=block).diagonal()
    return out


def target_ranks(
    queries: ArrayLike,
    candidates: ArrayLike,
    targets: ArrayLike,
    *,
    chunk_size: int = 4096,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """Rank of each query's correct candidate among all candidates, by dot product.

    Args:
        queries: (Q, D) float query embeddings.
        candidates: (C, D) float candidate embeddings.
        targets: (Q,) int, row of ``candidates`` that is correct for each query.
        chunk_size: largest block of queries and of candidates scored at once; memory
            for scores is bounded by ``chunk_size**2`` values.
        device: where to compute (default: where ``queries`` lives).
        dtype: ``torch.float32`` for speed, ``torch.float64`` for reference checks.

    Returns:
        (Q,) int64 ranks in ``[0, C-1]``: the number of *other* candidates scoring at
        least as high as the correct one (0 = top-1). Scores within one rounding
        (``eps * |q| * max|c|``) below the correct one also count as ties, so constant
        embeddings give rank ``C-1``.

    Raises:
        ValueError: on mismatched shapes, out-of-range targets or non-finite embeddings.
    """
    dev = torch.device(device) if device is not None else None
    q = _as_tensor(queries, dtype, dev)
    c = _as_tensor(candidates, dtype, q.device)
    t = torch.as_tensor(targets).to(device=q.device, dtype=torch.int64)
    _check(q, c, t, chunk_size)
    n_cand, ranks = len(c), torch.zeros(len(q), dtype=torch.int64)
    if n_cand == 0 or len(q) == 0:
        return ranks.numpy()
    slack = _TIE_SLACK * torch.finfo(dtype).eps * torch.linalg.vector_norm(c, dim=1).max()
    width = min(chunk_size, n_cand)
    # One reused block buffer: allocating 64 MB per block costs as much as the matmul.
    buffer = torch.empty(min(len(q), chunk_size) * width, dtype=dtype, device=q.device)
    for q0 in range(0, len(q), chunk_size):
        qb, tb = q[q0 : q0 + chunk_size], t[q0 : q0 + chunk_size]
        correct = _target_scores(qb, c, tb, width, buffer)
        threshold = (correct - slack * torch.linalg.vector_norm(qb, dim=1)).unsqueeze(1)
        count = torch.zeros(len(qb), dtype=torch.int64, device=q.device)
        for c0 in range(0, n_cand, chunk_size):
            cb = c[c0 : c0 + chunk_size]
            scores = torch.matmul(qb, cb.T, out=buffer[: len(qb) * len(cb)].view(len(qb), len(cb)))
            own = ((tb >= c0) & (tb < c0 + len(cb))).nonzero().squeeze(1)
            scores[own, tb[own] - c0] = -torch.inf  # the correct candidate is not "other"
            # In-place float 0/1 then a float row sum: several times faster than a bool sum.
            count += scores.ge_(threshold).sum(dim=1).to(torch.int64)
        ranks[q0 : q0 + len(qb)] = count.cpu()
    return ranks.numpy()


def topk_accuracy(ranks: np.ndarray, k: int) -> float:
    """Fraction of queries whose correct candidate is in the top ``k``.

    Args:
        ranks: (Q,) int ranks from :func:`target_ranks` (0 = top-1).
        k: how many top candidates count as a hit.
    """
    return float(np.mean(np.asarray(ranks) < k))


def median_rank(ranks: np.ndarray) -> float:
    """Median 1-based rank (1 = always top-1; chance is ``(N+1)/2``).

    Args:
        ranks: (Q,) int 0-based ranks from :func:`target_ranks`.
    """
    return float(np.median(np.asarray(ranks))) + 1.0


def bootstrap_ci(
    per_query_values: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean over queries.

    Args:
        per_query_values: (Q,) float, e.g. 1.0 where a query was a top-1 hit.
        n_boot: number of bootstrap resamples.
        level: coverage of the interval.
        seed: seed or generator for the resampling.
        groups: (Q,) int cluster label of each query, or None. When given, whole clusters
            are resampled (e.g. all trials of one image), which is honest when queries of a
            cluster are correlated; the statistic is then sum of values / number of queries.

    Returns:
        (lo, hi) bounds of the interval.
    """
    values = np.asarray(per_query_values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("bootstrap_ci needs at least one query")
    if groups is None:
        sums, counts = values, np.ones_like(values)
    else:
        _, inverse = np.unique(np.asarray(groups).ravel(), return_inverse=True)
        sums = np.bincount(inverse, weights=values)
        counts = np.bincount(inverse).astype(np.float64)
    rng = np.random.default_rng(seed)
    n = len(sums)
    rows = max(1, 2_000_000 // n)  # resamples per draw: keeps the index matrix ~16 MB
    means = np.empty(n_boot)
    for b0 in range(0, n_boot, rows):
        idx = rng.integers(0, n, size=(min(rows, n_boot - b0), n))
        means[b0 : b0 + len(idx)] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


@dataclass
class RetrievalScores:
    """Summary of one N-way retrieval task."""

    n_candidates: int  # N: chance top-1 is 1/N
    n_queries: int  # number of ranked queries
    top1: float  # fraction ranked first
    top5: float  # fraction ranked in the first five
    median_rank: float  # 1-based median rank
    ci95_top1: tuple[float, float]  # percentile bootstrap interval of top1
    ci95_top5: tuple[float, float]  # percentile bootstrap interval of top5

    def to_dict(self) -> dict:
        """JSON-ready dict (intervals as lists)."""
        d = asdict(self)
        d["ci95_top1"], d["ci95_top5"] = list(self.ci95_top1), list(self.ci95_top5)
        return d


def score_ranks(
    ranks: np.ndarray, n_candidates: int, seed: int = 0, groups: np.ndarray | None = None
) -> RetrievalScores:
    """Top-1/top-5 accuracy, median rank and 95% bootstrap intervals from ranks.

    Args:
        ranks: (Q,) int 0-based ranks from :func:`target_ranks`.
        n_candidates: N, the number of candidates each query was ranked among.
        seed: bootstrap seed (top-1 and top-5 share the same resamples).
        groups: (Q,) optional cluster labels for the bootstrap, see :func:`bootstrap_ci`.
    """
    ranks = np.asarray(ranks)
    return RetrievalScores(
        n_candidates=int(n_candidates),
        n_queries=int(ranks.size),
        top1=topk_accuracy(ranks, 1),
        top5=topk_accuracy(ranks, 5),
        median_rank=median_rank(ranks),
        ci95_top1=bootstrap_ci(ranks < 1, seed=seed, groups=groups),
        ci95_top5=bootstrap_ci(ranks < 5, seed=seed, groups=groups),
    )


def chance_scores(n_candidates: int) -> dict[str, float]:
    """Expected scores of a guesser among ``n_candidates``.

    Returns:
        {"n_candidates", "top1": 1/N, "top5": min(5, N)/N, "median_rank": (N+1)/2}.
    """
    n = int(n_candidates)
    if n < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n}")
    return {"n_candidates": n, "top1": 1.0 / n, "top5": min(5, n) / n, "median_rank": (n + 1) / 2.0}
