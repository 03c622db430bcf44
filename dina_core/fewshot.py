"""How little data the next animal needs: the few-shot curve of a new recording, with transfer and from scratch.

For each budget of train trials the new recording is cut to that many train trials (one seeded permutation, so a
smaller budget's trials are inside every larger one's; the validation and test trials never change: a recording
without a validation tier has it carved out once, before any cut), and two DINA models are trained on it with the
same architecture and settings: one whose image side starts as the source run's (``train.transfer``), one from
scratch. Each is scored on the test tier (neural -> image top-1, single-trial and averaged, with 95% intervals).

Output in ``DIR``: ``fewshot.json`` (rows: ``trials``, ``transfer``, ``scratch``, each with ``single_trial`` and
``averaged`` top-1 and their intervals), ``fewshot.md`` (the table) and ``fewshot.html`` (the curve, offline).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from .atomic import atomic_path
from .data.checked import check_recording
from .data.format import DinaData
from .data.subset import keep_trials, with_tiers
from .errors import DinaError
from .evaluate.table import evaluation_table
from .runs.config import TrainConfig
from .runs.prepare import split_trials
from .train.loop import StepInfo
from .train.run import train_run
from .train.transfer import IMAGE_TOWER_CHOICES, source_model, train_from

JSON, MARKDOWN, FIGURE = "fewshot.json", "fewshot.md", "fewshot.html"
SUBSET_SEED = 31337  # added to the run's seed for the permutation of train trials that the budgets cut


def budget_recording(data: DinaData, trials: int, train_config: TrainConfig) -> DinaData:
    """``data`` with only ``trials`` of its train trials (the first of one seeded permutation), its validation
    tier fixed first (``runs.prepare.split_trials``, as a training carves it)."""
    fixed = with_tiers(data, split_trials(data, train_config.validation_fraction, train_config.seed))
    train = np.flatnonzero(fixed.tier_mask("train"))
    order = np.random.default_rng(train_config.seed + SUBSET_SEED).permutation(train)
    keep = ~fixed.tier_mask("train")
    keep[order[:trials]] = True
    return keep_trials(fixed, keep)


def _scores(run, data: DinaData) -> dict:
    rows = {r["responses"]: r for r in evaluation_table(run, data, "test")["rows"]
            if r["level"] == "combined" and r["direction"] == "neural_to_image"}
    out = {mode: rows[mode]["top1"] for mode in ("single_trial", "averaged") if mode in rows}
    out.update({f"ci95_{mode}": list(rows[mode]["ci95_top1"]) for mode in ("single_trial", "averaged") if mode in rows})
    return {**out, "validation_top1": run.metadata["best_val_top1"], "seconds": run.metadata["train_seconds"]}


def fewshot(data: DinaData, source: str | os.PathLike, budgets: list[int], out_dir: str | os.PathLike | None, *,
            image_tower: str = "auto", train_config: TrainConfig | None = None,
            on_budget: Callable[[str], None] | None = None, on_step: Callable[[StepInfo], None] | None = None,
            overwrite: bool = False) -> dict:
    """The few-shot curve of ``data`` started from run ``source`` (module docstring).

    Args:
        budgets: train trials per point, each at least 2 and at most the recording's train trials.
        image_tower: the transfer's image tower ('auto', 'frozen', 'fine-tune'; ``train.transfer``).
        on_budget: called with a label ('250 trials: transfer') before each training.
        overwrite: replace the files of an earlier curve in ``out_dir``.

    Returns:
        {'source', 'recording', 'image_tower', 'test_images', 'rows': [{'trials', 'transfer', 'scratch'}]}.
    """
    train_config = train_config or TrainConfig()
    check_recording(data)
    if image_tower not in IMAGE_TOWER_CHOICES:
        raise DinaError(f"image tower {image_tower!r}: expected one of {', '.join(IMAGE_TOWER_CHOICES)}")
    available = len(split_trials(data, train_config.validation_fraction, train_config.seed)["train"])
    wrong = [b for b in budgets if not 2 <= b <= available]
    if not budgets or wrong:
        raise DinaError(f"--trials {','.join(map(str, budgets)) or '(none)'}: each budget from 2 to the recording's "
                        f"{available} train trials; {wrong or 'none given'} out of range")
    if out_dir is not None:
        held = [n for n in (JSON, MARKDOWN, FIGURE) if (Path(out_dir) / n).exists()]
        if held and not overwrite:
            raise DinaError(f"{out_dir}: holds {', '.join(held)} of an earlier curve; pass --overwrite to replace")
    _, config = source_model(source)
    rows = []
    for trials in sorted(set(budgets)):
        subset = budget_recording(data, trials, train_config)
        row = {"trials": trials}
        for arm in ("transfer", "scratch"):
            if on_budget is not None:
                on_budget(f"{trials} trials: {arm}")
            if arm == "transfer":
                run, _ = train_from(subset, None, source, image_tower=image_tower, train_config=train_config,
                                    on_step=on_step)
            else:
                run, _ = train_run(subset, None, model_config=config, train_config=train_config, on_step=on_step)
            row[arm] = {**_scores(run, subset),
                        **({"image_tower": run.metadata["transfer"]["image_tower"]} if arm == "transfer" else {})}
        rows.append(row)
    result = {"source": str(Path(source).resolve()), "recording": str(data.attrs.get("name", "")),
              "image_tower": image_tower, "test_images": int(len(np.unique(data.image_index[data.tier_mask("test")]))),
              "rows": rows}
    if out_dir is not None:
        write_fewshot(result, out_dir)
    return result


def write_fewshot(result: dict, out_dir: str | os.PathLike) -> None:
    """``fewshot.json``, ``fewshot.md`` and ``fewshot.html`` into ``out_dir`` (each written atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"Few-shot curve of {result['recording'] or 'the new recording'} from {result['source']} (image tower "
             f"{result['image_tower']}); neural -> image top-1 among {result['test_images']} test images, 95% CI", "",
             "| train trials | transfer single-trial | scratch single-trial | transfer averaged | scratch averaged "
             "| image tower |", "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        cells = [_cell(r[arm], mode) for mode in ("single_trial", "averaged") for arm in ("transfer", "scratch")]
        lines.append(f"| {r['trials']} | " + " | ".join(cells) + f" | {r['transfer']['image_tower']} |")
    figure = go.Figure([go.Scatter(x=[r["trials"] for r in result["rows"]], y=[r[arm].get(mode) for r in result["rows"]],
                                   mode="lines+markers", name=f"{arm}, {mode.replace('_', '-')}",
                                   line={"dash": "solid" if arm == "transfer" else "dot"})
                        for arm in ("transfer", "scratch") for mode in ("single_trial", "averaged")])
    figure.update_layout(xaxis={"title": "train trials of the new recording", "type": "log"},
                         yaxis={"title": "neural -> image top-1 (test)", "range": [0, 1]},
                         title="How many trials the next recording needs")
    for name, text in ((JSON, json.dumps(result, indent=2)), (MARKDOWN, "\n".join(lines) + "\n"),
                       (FIGURE, figure.to_html(include_plotlyjs=True, full_html=True))):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text)


def _cell(scores: dict, mode: str) -> str:
    if mode not in scores:
        return "-"
    lo, hi = scores[f"ci95_{mode}"]
    return f"{scores[mode]:.3f} ({lo:.2f}-{hi:.2f})"
