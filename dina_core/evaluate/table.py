"""What ``dina evaluate`` reports and ``DINA.score`` returns: retrieval rows beside the noise ceiling of one tier."""

from __future__ import annotations

from ..data.format import DinaData
from ..runs.run import Run
from .ceiling import add_fraction_of_ceiling, tier_ceiling
from .model_eval import evaluate_run

CEILING_NOTE = ("ceiling: one response identifying another response to the same image (test repeats); "
                "a response-to-response bound, not a proof that no model can do better")


def evaluation_table(run: Run, data: DinaData, tier: str = "test", *, seed: int = 0) -> dict:
    """Retrieval of ``tier`` in both directions, averaged and single-trial, combined and per level, with its ceiling.

    Args:
        run: a trained run.
        data: the recording (compatible with the run; whether it is the run's own is the caller's check).
        tier: 'test' (the model's score) or 'validation' (for choosing settings; never the test tier then).
        seed: bootstrap and repeat-set seed.

    Returns:
        {'tier', 'n_candidates': N, 'rows': [{'level', 'direction', 'responses', 'top1', 'top5', 'ci95_top1',
        'median_rank', 'n_candidates', 'fraction_of_ceiling', ...}], 'ceiling': [the same fields for the
        response-to-response bound], 'ceiling_note': why there is no ceiling, or None}.
    """
    rows = evaluate_run(run, data, tier=tier, seed=seed)
    try:  # the ceiling of the very trials the run was scored on, normalised as it sees them
        ceiling, note = tier_ceiling(run.prepare(data), tier, seed=seed), None
    except ValueError as exc:
        ceiling, note = [], f"no noise ceiling: {exc}"
    return {"tier": tier, "n_candidates": rows[0]["n_candidates"], "rows": add_fraction_of_ceiling(rows, ceiling),
            "ceiling": ceiling, "ceiling_note": note}


def format_rows(rows: list[dict]) -> list[str]:
    """One line per row: level, task, top-1 with its 95% interval, top-5, median rank, N, fraction of ceiling."""
    lines = []
    for r in rows:
        lo, hi = r["ci95_top1"]
        fraction = r.get("fraction_of_ceiling")
        lines.append(f"{r['level']:>9} {r['direction']:>16} {r['responses']:>12}: top-1 {r['top1']:.3f} "
                     f"[{lo:.3f}, {hi:.3f}]  top-5 {r['top5']:.3f}  median rank {r['median_rank']:.1f}  "
                     f"(N = {r['n_candidates']})" + ("" if fraction is None else f"  {fraction:.2f} of ceiling"))
    return lines
