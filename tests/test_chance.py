"""The rule that decides which runs DINA Studio may use unasked: a clear margin over chance on validation."""

import math
from fractions import Fraction

import pytest

from dina_core.evaluate.chance import MIN_RATIO, ValidationScore, binomial_tail, validation_score


@pytest.mark.parametrize("n, images", [(10, 10), (250, 250), (60, 60), (300, 100)])
def test_binomial_tail_matches_the_exact_rational_sum(n, images):
    p = Fraction(1, images)
    for k in range(0, n + 1, max(1, n // 25)):
        exact = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))
        assert binomial_tail(k, n, float(p)) == pytest.approx(float(exact), rel=1e-9)


def test_on_the_demo_six_correct_validation_trials_are_the_margin():
    """250 validation images, one trial each: the 1-epoch run (0.4%, one hit) is at chance; 6 hits pass."""
    chance = 1 / 250
    assert not ValidationScore(1 / 250, chance, 250).clearly_above_chance
    assert not ValidationScore(5 / 250, chance, 250).clearly_above_chance  # p = 0.0036
    assert ValidationScore(6 / 250, chance, 250).clearly_above_chance  # p = 0.0006
    assert ValidationScore(0.452, chance, 250).clearly_above_chance  # the first shipped run (today's: 0.724)


def test_many_trials_cannot_make_a_small_effect_clear():
    """20 000 trials among 100 images: 1.5% is far beyond the binomial's noise, but not 3x chance."""
    small_effect = ValidationScore(0.015, 0.01, 20_000)
    assert small_effect.p_value < 1e-6 and small_effect.ratio < MIN_RATIO
    assert not small_effect.clearly_above_chance


def test_runs_without_a_score_or_counts_use_the_recording():
    summary = {"images_per_tier": {"train": 400, "validation": 0, "test": 30},
               "trials_per_tier": {"train": 800, "validation": 0, "test": 120}}
    held_out = validation_score({"best_val_top1": 0.5}, summary, validation_fraction=0.1)
    assert held_out.chance == pytest.approx(1 / 40) and held_out.n_trials == 80
    recorded = validation_score({"best_val_top1": 0.5, "validation_images": 20, "validation_trials": 20}, summary, 0.1)
    assert recorded.chance == pytest.approx(1 / 20) and recorded.n_trials == 20
    never_validated = validation_score({"best_val_top1": float("-inf")}, summary, 0.1)
    assert never_validated.top1 is None and not never_validated.clearly_above_chance


def test_the_judged_score_is_one_no_level_weight_search_chose():
    summary = {"images_per_tier": {"train": 400, "validation": 50, "test": 30},
               "trials_per_tier": {"train": 400, "validation": 50, "test": 120}}
    searched = {"best_val_top1": 0.2, "level_weights": {"chosen": [1, 0.5], "before": [1, 1]}}
    new = validation_score({**searched, "unselected_val_top1": 0.04}, summary, 0.1)
    assert new.top1 == 0.04 and not new.chosen_on_it and not new.clearly_above_chance  # 0.2 was the search's best
    old = validation_score(searched, summary, 0.1)  # a run trained before unselected_val_top1 existed
    assert old.top1 == 0.2 and old.chosen_on_it and "optimistic" in old.describe()
    assert not validation_score({"best_val_top1": 0.2}, summary, 0.1).chosen_on_it  # no search: nothing chosen
