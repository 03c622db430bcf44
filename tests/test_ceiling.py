"""The noise ceiling against a naive reference and on responses with known identifiability."""

import numpy as np
import pytest

from dina_core.evaluate.ceiling import (add_fraction_of_ceiling, averaged_ranks, image_to_trial_ranks, noise_ceiling,
                                       single_trial_ranks)
from dina_core.evaluate.repeats import repeat_sets


def _naive_single_trial(x, image_index):
    images = [j for j in np.unique(image_index) if (image_index == j).sum() >= 2]
    ranks = []
    for t in range(len(x)):
        own = image_index[t]
        if own not in images:
            continue
        others = [u for u in range(len(x)) if image_index[u] == own and u != t]
        correct = np.corrcoef(x[t], x[others].mean(axis=0))[0, 1]
        scores = [np.corrcoef(x[t], x[image_index == j].mean(axis=0))[0, 1] for j in images if j != own]
        ranks.append(sum(s >= correct for s in scores))
    return np.array(ranks)


def _recording(rng, n_images=12, repeats=(2, 3, 4), n_neurons=40, noise=1.0):
    signal = rng.normal(size=(n_images, n_neurons))
    image_index = np.concatenate([np.full(rng.choice(repeats), j) for j in range(n_images)])
    rng.shuffle(image_index)
    return signal[image_index] + noise * rng.normal(size=(len(image_index), n_neurons)), image_index


def test_single_trial_matches_a_naive_leave_one_out_reference():
    rng = np.random.default_rng(0)
    x, image_index = _recording(rng, noise=2.0)
    image_index[0] = 99  # an image shown once: left out
    ranks, _, n = single_trial_ranks(x, image_index)
    assert n == len(np.unique(image_index)) - 1
    np.testing.assert_array_equal(ranks, _naive_single_trial(x, image_index))


def test_averaged_matches_a_naive_reference_with_the_same_random_halves():
    rng = np.random.default_rng(1)
    x, image_index = _recording(rng, noise=2.0)
    ranks, _, n = averaged_ranks(x, image_index, n_splits=2, seed=5)
    split_rng, naive = np.random.default_rng(5), []
    for _ in range(2):
        halves = ({}, {})
        for j in range(n):  # documented procedure: a random order of each image's trials, first half is A
            trials = np.flatnonzero(image_index == j)
            position = split_rng.permutation(len(trials))
            halves[0][j] = x[trials[position < len(trials) // 2]].mean(axis=0)
            halves[1][j] = x[trials[position >= len(trials) // 2]].mean(axis=0)
        for query, cands in (halves, halves[::-1]):
            for j in range(n):
                c = [np.corrcoef(query[j], cands[k])[0, 1] for k in range(n)]
                naive.append(sum(c[k] >= c[j] for k in range(n) if k != j))
    np.testing.assert_array_equal(ranks, naive)


def test_image_to_trial_matches_a_naive_reference_on_the_models_repeat_sets():
    rng = np.random.default_rng(3)
    x, image_index = _recording(rng, noise=2.0)
    ranks, target, n = image_to_trial_ranks(x, image_index, seed=4)
    naive = []
    for trials in repeat_sets(image_index, seed=4):  # every image repeats here, so the columns are the images
        for j in range(n):
            others = [u for u in np.flatnonzero(image_index == j) if u != trials[j]]
            query = x[others].mean(axis=0)
            c = [np.corrcoef(query, x[trials[k]])[0, 1] for k in range(n)]
            naive.append(sum(c[k] >= c[j] for k in range(n) if k != j))
    np.testing.assert_array_equal(ranks, naive)
    np.testing.assert_array_equal(target, np.tile(np.arange(n), len(ranks) // n))


def test_fraction_of_ceiling_divides_by_the_same_tasks_ceiling():
    ceiling = [{"direction": "neural_to_image", "responses": "averaged", "top1": 0.8},
               {"direction": "neural_to_image", "responses": "single_trial", "top1": 0.0}]
    rows = [{"direction": "neural_to_image", "responses": "averaged", "top1": 0.6},
            {"direction": "neural_to_image", "responses": "single_trial", "top1": 0.1},
            {"direction": "image_to_neural", "responses": "averaged", "top1": 0.5}]
    fractions = [r["fraction_of_ceiling"] for r in add_fraction_of_ceiling(rows, ceiling)]
    assert fractions == [pytest.approx(0.75), None, None]


def test_ceiling_is_near_one_for_clean_responses_and_near_chance_for_pure_noise():
    rng = np.random.default_rng(2)
    clean, index = _recording(rng, n_images=30, noise=0.05)
    rows = {r["responses"]: r for r in noise_ceiling(clean, index) if r["direction"] == "neural_to_image"}
    assert rows["single_trial"]["top1"] == 1.0 and rows["averaged"]["top1"] == 1.0
    noise = rng.normal(size=clean.shape)
    rows = {r["responses"]: r for r in noise_ceiling(noise, index) if r["direction"] == "neural_to_image"}
    assert rows["single_trial"]["top1"] < 0.15 and rows["averaged"]["top1"] < 0.15  # chance 1/30


def test_constant_responses_never_score_a_lucky_top1():
    index = np.repeat(np.arange(10), 3)
    rows = noise_ceiling(np.ones((30, 20)), index)
    assert all(r["top1"] == 0.0 for r in rows)


def test_too_few_repeated_images_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 test images shown at least twice"):
        noise_ceiling(np.ones((5, 3)), np.array([0, 0, 1, 2, 3]))
