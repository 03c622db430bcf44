"""Chunked retrieval metrics and N-way test-tier tasks against naive references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dina_core.evaluate.repeats import average_by_image, repeat_sets, unique_targets
from dina_core.evaluate.tasks import TASKS, TierTask, evaluate_retrieval, score_tasks
from dina_core.evaluate.retrieval import (
    bootstrap_ci,
    chance_scores,
    median_rank,
    score_ranks,
    target_ranks,
    topk_accuracy,
)


def naive_ranks(queries: np.ndarray, candidates: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Full float64 score matrix; other candidates scoring >= the target's (pessimistic ties)."""
    scores = queries.astype(np.float64) @ candidates.astype(np.float64).T
    correct = scores[np.arange(len(targets)), targets][:, None]
    return (scores >= correct).sum(axis=1) - 1


def naive_argsort_ranks(queries: np.ndarray, candidates: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of the target after a descending argsort (the usual open_clip recipe)."""
    order = np.argsort(-(queries.astype(np.float64) @ candidates.astype(np.float64).T), axis=1)
    return np.nonzero(order == targets[:, None])[1]


@pytest.mark.parametrize("chunk_size", [7, 13, 4096])
def test_target_ranks_matches_naive_on_random_data(chunk_size):
    rng = np.random.default_rng(0)
    q, c = rng.standard_normal((53, 16)), rng.standard_normal((71, 16))
    t = rng.integers(0, 71, 53)
    expected = naive_ranks(q, c, t)
    np.testing.assert_array_equal(expected, naive_argsort_ranks(q, c, t))  # no ties here
    np.testing.assert_array_equal(target_ranks(q, c, t, chunk_size=chunk_size, dtype=torch.float64), expected)
    np.testing.assert_array_equal(target_ranks(q, c, t, chunk_size=chunk_size), expected)


@pytest.mark.parametrize("chunk_size", [7, 13])
def test_target_ranks_breaks_ties_pessimistically(chunk_size):
    rng = np.random.default_rng(1)
    # Small integers make many exact ties, and duplicated candidates tie with the target.
    q = rng.integers(-2, 3, (40, 3)).astype(np.float32)
    c = rng.integers(-2, 3, (30, 3)).astype(np.float32)
    c[15:] = c[:15]
    t = rng.integers(0, 30, 40)
    expected = naive_ranks(q, c, t)
    assert (expected > naive_argsort_ranks(q, c, t)).any()  # argsort would be optimistic somewhere
    np.testing.assert_array_equal(target_ranks(q, c, t, chunk_size=chunk_size), expected)
    np.testing.assert_array_equal(target_ranks(torch.from_numpy(q), torch.from_numpy(c), t), expected)


def test_constant_embeddings_rank_last():
    q = np.full((20, 8), 0.3, dtype=np.float32)
    c = np.full((50, 8), 0.7, dtype=np.float32)
    ranks = target_ranks(q, c, np.arange(20) * 2, chunk_size=7)
    np.testing.assert_array_equal(ranks, np.full(20, 49))
    assert topk_accuracy(ranks, 1) == 0.0
    np.testing.assert_array_equal(target_ranks(np.zeros((5, 4)), np.zeros((9, 4)), np.arange(5)), np.full(5, 8))


def test_target_ranks_rejects_bad_input():
    q, c = np.zeros((3, 4)), np.zeros((5, 4))
    with pytest.raises(ValueError):
        target_ranks(q, c, np.array([0, 1, 5]))
    with pytest.raises(ValueError):
        target_ranks(q, np.zeros((5, 3)), np.zeros(3, int))
    q[1, 2] = np.nan
    with pytest.raises(ValueError):
        target_ranks(q, c, np.zeros(3, int))


def test_topk_and_median_match_reference():
    rng = np.random.default_rng(2)
    q, c = rng.standard_normal((101, 8)), rng.standard_normal((60, 8))
    t = rng.integers(0, 60, 101)
    ranks = target_ranks(q, c, t, chunk_size=13)
    order = np.argsort(-(q @ c.T), axis=1)
    for k in (1, 5, 10):
        assert topk_accuracy(ranks, k) == pytest.approx(np.mean([t[i] in order[i, :k] for i in range(101)]))
    assert median_rank(ranks) == np.median(naive_ranks(q, c, t) + 1)
    assert median_rank(np.array([0, 0, 0])) == 1.0


def test_bootstrap_ci_contains_estimate_and_narrows():
    rng = np.random.default_rng(3)
    widths = []
    for n in (50, 5000):
        hits = (rng.random(n) < 0.3).astype(float)
        lo, hi = bootstrap_ci(hits, seed=0)
        assert lo <= hits.mean() <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 5  # ~sqrt(100) narrower
    assert bootstrap_ci(np.ones(1)) == (1.0, 1.0)


def test_bootstrap_ci_by_groups_is_wider_for_correlated_queries():
    # 20 images x 10 trials; a hit depends only on the image, so there are 20 effective samples.
    image_hit = (np.random.default_rng(4).random(20) < 0.5).astype(float)
    hits, groups = np.repeat(image_hit, 10), np.repeat(np.arange(20), 10)
    lo_t, hi_t = bootstrap_ci(hits, seed=0)
    lo_g, hi_g = bootstrap_ci(hits, seed=0, groups=groups)
    assert lo_g <= hits.mean() <= hi_g
    assert hi_g - lo_g > 2 * (hi_t - lo_t)


def test_score_ranks_and_chance():
    scores = score_ranks(np.array([0, 0, 3, 10]), n_candidates=20)
    assert (scores.top1, scores.top5, scores.median_rank) == (0.5, 0.75, 2.5)
    d = scores.to_dict()
    assert d["n_queries"] == 4 and d["n_candidates"] == 20 and isinstance(d["ci95_top1"], list)
    assert chance_scores(100) == {"n_candidates": 100, "top1": 0.01, "top5": 0.05, "median_rank": 50.5}
    assert chance_scores(3)["top5"] == 1.0
    # A uniform random ranking reaches the chance figures.
    ranks = np.random.default_rng(5).integers(0, 100, 200_000)
    assert topk_accuracy(ranks, 5) == pytest.approx(chance_scores(100)["top5"], abs=0.002)
    assert median_rank(ranks) == pytest.approx(chance_scores(100)["median_rank"], abs=1)


# -- N-way tasks from a test tier ------------------------------------------------------------

UNEVEN = np.array([7, 3, 7, 9, 3, 7, 11, 7, 3, 9])  # image 7 x4, 3 x3, 9 x2, 11 x1


def test_unique_targets_and_average_match_loop():
    rng = np.random.default_rng(6)
    responses = rng.standard_normal((len(UNEVEN), 4)).astype(np.float32)
    candidates, target = unique_targets(UNEVEN)
    np.testing.assert_array_equal(candidates, [3, 7, 9, 11])
    np.testing.assert_array_equal(candidates[target], UNEVEN)
    averaged = average_by_image(responses, UNEVEN)
    expected = np.stack([responses[UNEVEN == img].mean(axis=0) for img in candidates])
    assert averaged.dtype == np.float32
    np.testing.assert_allclose(averaged, expected, rtol=1e-6)


def test_repeat_sets_cover_each_image_once_and_respect_uneven_repeats():
    candidates, _ = unique_targets(UNEVEN)
    sets = repeat_sets(UNEVEN, seed=3)
    assert sets.shape == (4, 4)  # max repeats x N images
    np.testing.assert_array_equal(UNEVEN[sets], np.broadcast_to(candidates, sets.shape))
    for j, img in enumerate(candidates):
        trials = np.flatnonzero(UNEVEN == img)
        used, counts = np.unique(sets[:, j], return_counts=True)
        np.testing.assert_array_equal(used, trials)  # every repeat used...
        assert counts.max() - counts.min() <= 1  # ...as evenly as the cycle allows
    np.testing.assert_array_equal(sets[:, 1], np.flatnonzero(UNEVEN == 7))  # full images in trial order


def _simulated_tier(n_images: int, repeats: np.ndarray, seed: int):
    """Responses that are a noisy one-hot code of the image; images hold their own id."""
    rng = np.random.default_rng(seed)
    image_index = rng.permutation(np.repeat(np.arange(n_images), repeats))
    responses = np.eye(n_images, dtype=np.float32)[image_index] + 0.05 * rng.standard_normal(
        (len(image_index), n_images)
    ).astype(np.float32)
    images = np.arange(n_images, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    return responses, images, image_index


def test_evaluate_retrieval_perfect_encoder_scores_one():
    rng = np.random.default_rng(7)
    responses, images, image_index = _simulated_tier(40, rng.integers(1, 8, 40), seed=7)

    def encode_images(x: np.ndarray) -> torch.Tensor:
        ids = torch.as_tensor(x[:, 0, 0]).long()
        return torch.nn.functional.one_hot(ids, 40).float() + 0.01 * torch.randn(len(x), 40)

    rows = evaluate_retrieval(lambda r: r, encode_images, responses, images, image_index, batch_size=16)
    assert [(r["direction"], r["responses"]) for r in rows] == [
        ("neural_to_image", "single_trial"),
        ("neural_to_image", "averaged"),
        ("image_to_neural", "averaged"),
        ("image_to_neural", "single_trial"),
    ]
    for row in rows:
        assert row["n_candidates"] == 40
        assert row["top1"] == 1.0 and row["median_rank"] == 1.0 and row["ci95_top1"] == [1.0, 1.0]
    assert rows[0]["n_queries"] == len(image_index)
    assert rows[3]["n_queries"] == 40 * np.bincount(image_index).max()


def test_tier_task_ranks_match_naive_score_matrices():
    """Each of the four tasks against a float64 score matrix built here by loops, uneven repeats included."""
    rng = np.random.default_rng(9)
    responses, images, image_index = _simulated_tier(15, rng.integers(1, 6, 15), seed=9)
    project_r, project_i = rng.standard_normal((15, 6)), rng.standard_normal((4, 6))
    task = TierTask.from_arrays(responses, images, image_index)
    emb = task.embed(lambda r: r @ project_r, lambda x: x.reshape(len(x), -1) @ project_i)
    candidates = np.unique(image_index)
    np.testing.assert_array_equal(task.candidates, candidates)
    np.testing.assert_array_equal(task.images.numpy(), images[candidates])
    trials = responses.astype(np.float64) @ project_r
    mean_responses = np.stack([responses[image_index == img].mean(axis=0) for img in candidates])
    averaged = mean_responses @ project_r
    pictures = images[candidates].reshape(len(candidates), -1).astype(np.float64) @ project_i
    target = np.searchsorted(candidates, image_index)
    diagonal = np.arange(len(candidates))
    expected = {
        ("neural_to_image", "single_trial"): naive_ranks(trials, pictures, target),
        ("neural_to_image", "averaged"): naive_ranks(averaged, pictures, diagonal),
        ("image_to_neural", "averaged"): naive_ranks(pictures, averaged, diagonal),
        ("image_to_neural", "single_trial"): np.concatenate(
            [naive_ranks(pictures, trials[s], diagonal) for s in repeat_sets(image_index, seed=4)]),
    }
    for direction, kind in TASKS:
        ranks = emb.ranks(direction, kind, seed=4)
        np.testing.assert_array_equal(ranks, expected[direction, kind])
        groups = emb.groups(direction, kind)
        assert groups is None or len(groups) == len(ranks)
    queries, targets = task.queries("single_trial")
    np.testing.assert_array_equal(queries.numpy(), responses)
    np.testing.assert_array_equal(candidates[targets], image_index)
    queries, targets = task.queries("averaged")
    np.testing.assert_allclose(queries.numpy(), mean_responses, atol=1e-6)
    np.testing.assert_array_equal(targets, diagonal)
    with pytest.raises(ValueError, match="responses"):
        task.queries("mean")
    rows = evaluate_retrieval(lambda r: r @ project_r, lambda x: x.reshape(len(x), -1) @ project_i, responses,
                              images, image_index, seed=4)
    assert rows == score_tasks(emb, seed=4)


def test_evaluate_retrieval_random_encoder_is_at_chance():
    responses, images, image_index = _simulated_tier(200, np.full(200, 10), seed=8)
    gen = torch.Generator().manual_seed(0)

    def random_encoder(x: np.ndarray) -> torch.Tensor:
        return torch.randn(len(x), 32, generator=gen)

    rows = evaluate_retrieval(random_encoder, random_encoder, responses, images, image_index)
    chance = chance_scores(200)
    for row in rows:
        lo, hi = row["ci95_top5"]
        assert lo <= chance["top5"] <= hi, row
        # Top-1 hits are too rare here (~1 per 200 queries) for a percentile interval.
        assert abs(row["top1"] - chance["top1"]) < 4 * np.sqrt(chance["top1"] / 200), row
        assert abs(row["median_rank"] - chance["median_rank"]) < 25, row
