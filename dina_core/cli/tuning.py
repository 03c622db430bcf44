"""``dina tune``: a small documented settings search on validation retrieval (:mod:`dina_core.tune`)."""

from __future__ import annotations

import time
from pathlib import Path

from . import preflight
from .bars import Reporter
from .preflight import DATA_FILE


def cmd_tune(args) -> None:
    from ..data.io import read_dataset
    from ..tune import SEARCH_SPACE, parse_budget, proposals, trials_in_budget, tune
    preflight.input_file(args.data, "data file", DATA_FILE)
    preflight.output_folder(args.out, "--out")
    budget = parse_budget(args.budget)
    raw = preflight.read_config(args.config)
    model_config, train_config = preflight.model_config(args, raw, "dina"), preflight.train_config(args, raw)
    data = read_dataset(args.data)
    most, seconds, started = len(proposals(SEARCH_SPACE)), [], time.perf_counter()

    with Reporter(args.progress, label="tune") as reporter:
        def on_start(index: int, change: str) -> None:
            estimate = trials_in_budget(seconds, time.perf_counter() - started, budget)
            if estimate is None:
                of = f"of at most {most}"
            else:  # at least this trial, which tune's own clock let start; at most every proposal
                of = f"of est. {min(max(estimate, index + 1), most)} in budget"
            reporter.begin(f"trial {index}", f"trial {index} ({index + 1} {of}): {change or 'starting config'}")

        def on_trial(row: dict) -> None:
            seconds.append(row["seconds"])
            reporter.write(f"trial {row['trial']} ({row['change'] or 'starting config'}): validation top-1 "
                           f"{row['val_top1_single_trial']:.3f} single-trial, {row['val_top1_averaged']:.3f} "
                           f"averaged, {row['seconds']:.0f} s{'  <- best so far' if row['adopted'] else ''}")

        summary = tune(data, args.out, budget_s=budget, model_config=model_config, train_config=train_config,
                       metadata={"data_path": str(Path(args.data).resolve())}, on_start=on_start,
                       on_trial=on_trial, on_step=reporter.on_step)
    print((Path(args.out) / "tune.md").read_text())
    print(f"chosen: trial {summary['chosen']}; train with  dina train {args.data} --config "
          f"{Path(args.out) / 'best_config.json'} --out RUN")
