"""Does a run beat chance on its validation tier by a clear margin? The rule that decides which runs
DINA Studio may use without being asked.

The early-stopping score (``train.validation``) is single-trial neural -> image top-1 among the
N distinct validation images, over T validation trials; chance is 1/N. A run *clearly beats chance*
when both hold:

* its top-1 is at least ``MIN_RATIO`` (3) times chance: a margin a lab audience reads as a real
  effect whatever the recording's size, and
* a one-sided binomial test of its correct count against chance (T trials, p = 1/N) gives
  p < ``ALPHA`` (0.001): on the demo (T = N = 250) that takes at least 6 correct trials (2.4%),
  so one or two lucky hits of a run at chance (a 1-epoch run's score: bench/results/design_notes_cpu.md)
  never pass.

The score judged is one that no search chose: ``unselected_val_top1``, the validation top-1 of the weights the
model trained with, before the level-weight search (``train.level_weights``) picks, among hundreds of
weightings, the one that scores best on these very trials (``best_val_top1``, the saved model's own score,
optimistic by that choice). A run trained before the field existed is judged on ``best_val_top1``, and says so
(``ValidationScore.chosen_on_it``). Both numbers are early-stopped on validation.

Trials of one image are not independent, so the binomial p is optimistic when images repeat; the
3x ratio is what keeps the rule honest there. A bootstrap over images would be the better
interval, but a run stores only its top-1, and the rule must hold for runs trained elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_RATIO = 3.0  # top-1 at least 3x chance
ALPHA = 1e-3  # one-sided binomial p against chance


@dataclass(frozen=True)
class ValidationScore:
    """A run's best validation top-1 beside chance: ``top1`` and ``chance`` are fractions (0-1)."""

    top1: float | None  # None: the run stores no validation score
    chance: float  # 1 / number of distinct validation images
    n_trials: int  # validation trials the top-1 is a fraction of
    chosen_on_it: bool = False  # top1 is the best of a level-weight search on these trials (older runs): optimistic

    def describe(self) -> str:
        """What the number is, in the words the sidebar uses."""
        if self.chosen_on_it:
            return "after choosing level weights on the same trials, so optimistic"
        return "trained level weights, before validation chose them"

    @property
    def ratio(self) -> float:
        return float("nan") if self.top1 is None else self.top1 / self.chance

    @property
    def p_value(self) -> float:
        """One-sided binomial P(at least the observed number of correct trials | chance)."""
        if self.top1 is None or not math.isfinite(self.top1):
            return 1.0
        k = int(round(self.top1 * self.n_trials))
        return binomial_tail(k, self.n_trials, self.chance)

    @property
    def clearly_above_chance(self) -> bool:
        return self.top1 is not None and self.ratio >= MIN_RATIO and self.p_value < ALPHA


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (stable for n in the hundred thousands)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def validation_score(metadata: dict, summary: dict, validation_fraction: float) -> ValidationScore:
    """A run's validation score and chance on the recording it was trained on.

    Args:
        metadata: the run's metadata (``unselected_val_top1``, else ``best_val_top1``; ``validation_images`` and
            ``validation_trials``
            when the run recorded them).
        summary: ``dataset_summary`` of its recording (``images_per_tier``, ``trials_per_tier``).
        validation_fraction: the run's ``TrainConfig.validation_fraction``.

    Runs that did not record their validation counts get them from the recording: its validation
    tier, or, when it has none, the held-out share of train images training used
    (``runs.prepare.split_trials``; the trial count is then the same share of train trials).
    """
    unselected = "unselected_val_top1" in metadata
    chosen_on_it = not unselected and "level_weights" in metadata
    top1 = metadata.get("unselected_val_top1" if unselected else "best_val_top1")
    top1 = float(top1) if isinstance(top1, (int, float)) and math.isfinite(top1) else None
    n_images, n_trials = metadata.get("validation_images"), metadata.get("validation_trials")
    if not n_images or not n_trials:
        images, trials = summary["images_per_tier"], summary["trials_per_tier"]
        if images.get("validation"):
            n_images, n_trials = images["validation"], trials["validation"]
        else:
            n_images = max(1, int(round(validation_fraction * images["train"])))
            n_trials = max(n_images, int(round(validation_fraction * trials["train"])))
    return ValidationScore(top1, 1.0 / int(n_images), int(n_trials), chosen_on_it)
