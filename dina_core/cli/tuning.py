"""``dina tune``: a small documented settings search on validation retrieval (:mod:`dina_core.tune`)."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from . import preflight
from .bars import step_bar
from .commands import DATA_FILE


def cmd_tune(args) -> None:
    from ..data.io import read_dataset
    from ..tune import parse_budget, tune
    preflight.input_file(args.data, "data file", DATA_FILE)
    preflight.output_folder(args.out, "--out")
    budget = parse_budget(args.budget)
    raw = preflight.read_config(args.config)
    model_config, train_config = preflight.model_config(args, raw, "dina"), preflight.train_config(args, raw)
    data = read_dataset(args.data)
    bar, on_step = step_bar("tune")

    def on_trial(row: dict) -> None:
        tqdm.write(f"trial {row['trial']} ({row['change'] or 'starting config'}): validation top-1 "
                   f"{row['val_top1_single_trial']:.3f} single-trial, {row['val_top1_averaged']:.3f} averaged, "
                   f"{row['seconds']:.0f} s{'  <- best so far' if row['adopted'] else ''}")

    summary = tune(data, args.out, budget_s=budget, model_config=model_config, train_config=train_config,
                   metadata={"data_path": str(Path(args.data).resolve())}, on_trial=on_trial, on_step=on_step)
    bar.close()
    print((Path(args.out) / "tune.md").read_text())
    print(f"chosen: trial {summary['chosen']}; train with  dina train {args.data} --config "
          f"{Path(args.out) / 'best_config.json'} --out RUN")
