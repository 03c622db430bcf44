"""What the estimator returns: a tier's retrieval scores (as ``dina evaluate`` reports them) and a retrieval."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.fingerprint import recording_identity
from ..data.format import DinaData
from ..evaluate.table import evaluation_table, format_rows
from ..runs.data_check import check_same_data
from ..runs.run import Run

OTHER_DATA_HINT = "pass allow_other_data=True to score it anyway"


@dataclass
class Scores:
    """Retrieval of one tier: the rows of ``dina evaluate`` and the tier's noise ceiling.

    Attributes:
        tier: 'test' or 'validation'.
        n_candidates: N, the distinct images of the tier (chance top-1 is 1/N).
        rows: one dict per (level, direction, responses): 'top1', 'top5', 'ci95_top1' (95% bootstrap over
            images), 'median_rank', 'fraction_of_ceiling', ...; level 'combined' is the model's retrieval score.
        ceiling: the same fields for one response identifying another (the tier's repeats); empty without repeats.
        ceiling_note: why there is no ceiling, or None.
        data_check: whether the recording is the run's own (``runs.data_check.DataCheck.to_dict()``).
    """

    tier: str
    n_candidates: int
    rows: list[dict]
    ceiling: list[dict] = field(default_factory=list)
    ceiling_note: str | None = None
    data_check: dict = field(default_factory=dict)

    def top1(self, direction: str = "neural_to_image", responses: str = "single_trial",
             level: str = "combined") -> float:
        """Top-1 accuracy of one task (a fraction; chance is ``1 / n_candidates``)."""
        for row in self.rows:
            if (row["direction"], row["responses"], row["level"]) == (direction, responses, level):
                return float(row["top1"])
        tasks = sorted({(r["direction"], r["responses"], r["level"]) for r in self.rows})
        raise KeyError(f"no task {(direction, responses, level)}; tasks: {tasks}")

    def to_dict(self) -> dict:
        """The JSON that ``dina evaluate --json`` writes."""
        return {"tier": self.tier, "n_candidates": self.n_candidates, "rows": self.rows, "ceiling": self.ceiling,
                "ceiling_note": self.ceiling_note, "data_check": self.data_check}

    def __str__(self) -> str:
        return "\n".join(format_rows(self.rows + [{"level": "ceiling", **c} for c in self.ceiling]))


@dataclass
class Retrieval:
    """The best candidates per query.

    Attributes:
        indices: (n_queries, k) int64 candidate rows, best first.
        similarity: (n_queries, k) float32 retrieval scores (weighted cosine similarities) of those candidates.
    """

    indices: np.ndarray
    similarity: np.ndarray


def score_run(run: Run, data: DinaData, tier: str, *, source: str, allow_other_data: bool) -> Scores:
    """:func:`~dina_core.evaluate.table.evaluation_table` of ``tier`` after checking the data is the run's own."""
    check = check_same_data(run.metadata, recording_identity(data), source=source, allow_other=allow_other_data,
                            hint=OTHER_DATA_HINT)
    table = evaluation_table(run, data, tier, seed=0)
    return Scores(**table, data_check=check.to_dict())
