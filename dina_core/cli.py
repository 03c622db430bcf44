"""The ``dina`` command line: simulate, import, inspect, train, evaluate, benchmark.

Every command prints a readable message and exits with status 2 on bad input
(a DinaError); bugs still raise with a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from .errors import DinaError
from .importers.traces.config import CHOICES, TraceConfig
from .runs.config import TrainConfig


def _progress_bar(desc: str):
    """A tqdm bar driven by ``fit``'s StepInfo callback."""
    bar = tqdm(total=None, desc=desc, unit="step", dynamic_ncols=True)

    def on_step(info) -> None:
        bar.total = info.total_steps
        bar.n = info.step
        postfix = {"epoch": info.epoch, "loss": f"{info.loss:.3f}"}
        if info.val_top1 is not None:
            postfix["val_top1"] = f"{info.val_top1:.3f}"
        bar.set_postfix(postfix, refresh=True)

    return bar, on_step


class StageBars:
    """One tqdm bar per named stage, driven by the core's ``progress(done, total, stage)`` callbacks."""

    def __init__(self, unit: str = "step"):
        self.unit, self.bars = unit, {}

    def __call__(self, done: int, total: int, stage: str) -> None:
        if stage not in self.bars:
            self.bars[stage] = tqdm(total=total, desc=stage, unit=self.unit)
        self.bars[stage].n = done
        self.bars[stage].refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _configs(args) -> tuple[dict | None, TrainConfig]:
    raw = json.loads(Path(args.config).read_text()) if args.config else {}
    unknown = set(raw) - {"model", "train"}
    if unknown:
        raise DinaError(f"{args.config}: unknown top-level keys {sorted(unknown)}; expected 'model' and 'train'")
    train = dict(raw.get("train", {}))
    for key in ("epochs", "device", "seed", "batch_size", "lr"):
        if getattr(args, key, None) is not None:
            train[key] = getattr(args, key)
    try:
        return raw.get("model"), TrainConfig.from_dict(train)
    except (TypeError, ValueError) as exc:
        raise DinaError(f"{args.config or 'training options'}: {exc}") from exc


def cmd_info(args) -> None:
    from .data.io import dataset_summary
    print(json.dumps(dataset_summary(args.file), indent=2, default=str))


def cmd_simulate(args) -> None:
    from .data.format import write_dataset
    from .simulate import DEMO_CONFIG, SimConfig, simulate_recording
    base = SimConfig.small() if args.size == "small" else DEMO_CONFIG
    overrides = {k: v for k, v in {"seed": args.seed, "n_neurons": args.neurons}.items() if v is not None}
    config = SimConfig.from_dict({**base.to_dict(), **overrides})
    data = simulate_recording(config)
    write_dataset(args.out, data)
    print(f"wrote {args.out}: {data.n_images} images, {data.n_neurons} neurons, {data.n_trials} trials")
    if args.traces:
        import importlib.util
        from .simulate.trace_writers import write_trace_recording
        files = write_trace_recording(data, args.traces, nwb=importlib.util.find_spec("pynwb") is not None)
        print(f"wrote raw traces of the same trials: {files.suite2p}, {files.stimulus_table}, {files.images}, "
              f"{files.nwb or '(no NWB file: pip install pynwb)'}")


def _add_trace_options(p: argparse.ArgumentParser) -> None:
    """One option per TraceConfig field; dina_core/traces/config.py says why each exists."""
    group = p.add_argument_group("trace preprocessing (suite2p, nwb)")
    for f in fields(TraceConfig):
        if isinstance(f.default, tuple):
            group.add_argument("--" + f.name.replace("_", "-"), nargs="+", metavar="S",
                               help=f"START END seconds from onset (default {f.default[0]:g} {f.default[1]:g})"
                               + ("; 'none' skips" if f.name == "prestim_window_s" else ""))
        else:
            group.add_argument("--" + f.name.replace("_", "-"), type=type(f.default),
                               choices=CHOICES.get(f.name), help=f"default {f.default}")


def _trace_config(args) -> TraceConfig:
    values = {f.name: getattr(args, f.name) for f in fields(TraceConfig) if getattr(args, f.name) is not None}
    try:
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = None if [v.lower() for v in value] == ["none"] else tuple(float(v) for v in value)
        return TraceConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise DinaError(f"trace options: {exc}") from exc


def cmd_import(args) -> None:
    progress = StageBars(unit="item")
    table = {"image_column": args.column, "tier_column": args.tier_column,
             "validation_fraction": args.validation_fraction, "progress": progress}
    if args.source_format == "sensorium":
        from .importers.sensorium import import_sensorium
        import_sensorium(args.src, args.out, final_test=args.final_test, progress=progress)
    elif args.source_format == "suite2p":
        from .importers.suite2p import import_suite2p
        if not args.stimuli or not args.images:
            raise DinaError("dina import suite2p needs --stimuli TABLE.csv and --images (folder, .npy or .h5)")
        try:
            threshold = None if args.iscell_threshold.lower() == "none" else float(args.iscell_threshold)
        except ValueError:
            raise DinaError(f"--iscell-threshold must be a number or 'none', not {args.iscell_threshold!r}") from None
        import_suite2p(args.src, args.out, stimuli=args.stimuli, images=args.images, config=_trace_config(args),
                       iscell_threshold=threshold, um_per_pixel=args.um_per_pixel or 1.0,
                       onset_column=args.onset_column, onset_unit=args.onset_unit, **table)
    else:
        from .importers.nwb import import_nwb
        import_nwb(args.src, args.out, config=_trace_config(args), series=args.series, table=args.table,
                   images=args.images, um_per_pixel=args.um_per_pixel, **table)
    progress.close()
    print(f"wrote {args.out}")


def cmd_train(args) -> None:
    """Train one run; under ``torchrun`` every process joins and rank 0 reports and saves."""
    from .data.io import read_dataset
    from .train import distributed
    from .runs.folder import check_target
    from .train.run import train_run
    model_config, train_config = _configs(args)
    dist = distributed.init_from_environment(train_config.device)
    try:
        found = check_target(args.out, resume=args.resume, overwrite=args.overwrite,  # before any data is read
                             locked=not dist.is_main)  # under torchrun rank 0 takes the lock for every rank
        data = read_dataset(args.data)
        if args.resume and found in ("missing", "empty") and dist.is_main:
            print(f"{args.out}: no interrupted training to resume; starting a fresh one", file=sys.stderr)
        bar, on_step = _progress_bar(f"train {args.kind}") if dist.is_main else (None, None)
        _, result = train_run(data, args.out, kind=args.kind, model_config=model_config,
                              train_config=train_config, resume=args.resume, overwrite=args.overwrite,
                              on_step=on_step, metadata={"data_path": str(Path(args.data).resolve())})
    finally:
        distributed.shutdown()
    if dist.is_main:
        bar.close()
        print(f"best validation top-1 {result.best_val_top1:.3f} at epoch {result.best_epoch} "
              f"({dist.world_size} process{'es' if dist.enabled else ''}); saved {args.out}")


def cmd_evaluate(args) -> None:
    from .data.io import read_dataset
    from .evaluate.model_eval import evaluate_run
    from .runs.run import load_run
    run = load_run(args.run, device=args.device)
    data_path = args.data or run.metadata.get("data_path")
    if not data_path:
        raise DinaError(f"{args.run}: the run does not record its data file; pass --data")
    rows = evaluate_run(run, read_dataset(data_path))
    for r in rows:
        lo, hi = r["ci95_top1"]
        print(f"{r['level']:>9} {r['direction']:>16} {r['responses']:>12}: top-1 {r['top1']:.3f} "
              f"[{lo:.3f}, {hi:.3f}]  top-5 {r['top5']:.3f}  median rank {r['median_rank']:.1f}  "
              f"(N = {r['n_candidates']})")
    if args.json:
        Path(args.json).write_text(json.dumps({"n_candidates": rows[0]["n_candidates"], "rows": rows}, indent=2))


def cmd_analyze(args) -> None:
    from .data.io import read_dataset
    from .interpret.analyze import analyze
    from .runs.run import check_compatible, load_run
    run = load_run(args.run, device=args.device)
    data_path = args.data or run.metadata.get("data_path")
    if not data_path:
        raise DinaError(f"{args.run}: the run does not record its data file; pass --data")
    data = read_dataset(data_path)
    check_compatible(run, data, data_path)
    progress = StageBars()
    summary = analyze(run, data, progress=progress)
    progress.close()
    Path(args.json).write_text(json.dumps(summary, indent=2))
    print(f"full top-1 {summary['full_top1']:.3f} (chance {summary['chance_top1']:.3f}); wrote {args.json}")


def cmd_benchmark(args) -> None:
    from .data.io import read_dataset
    from .benchmark import run_benchmark
    _, train_config = _configs(args)
    data = read_dataset(args.data)
    bars: dict[str, tuple] = {}

    def on_step(name, info):
        if name not in bars:
            bars[name] = _progress_bar(f"train {name}")
        bars[name][1](info)

    metrics = run_benchmark(data, args.out, train_config=train_config, on_step=on_step,
                            on_model=lambda name: tqdm.write(f"== {name}"))
    for bar, _ in bars.values():
        bar.close()
    print((Path(args.out) / "metrics.md").read_text())
    print(f"seconds per model: {json.dumps({k: round(v, 1) for k, v in metrics['seconds'].items()})}")


def cmd_demo(args) -> None:
    from .demo import ensure_demo_dataset
    data_path = ensure_demo_dataset(args.dir)
    print(f"demo recording: {data_path}")
    run_dir = Path(args.dir) / "run"
    cmd_train(argparse.Namespace(data=str(data_path), out=str(run_dir), config=None, device=None, epochs=None,
                                 seed=None, kind="dina", resume=False, overwrite=True))  # the demo's own run
    cmd_evaluate(argparse.Namespace(run=str(run_dir), data=str(data_path), device="cpu", json=None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dina", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="summarise a DINA dataset file")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("simulate", help="write a simulated V1 recording with ground truth")
    p.add_argument("out")
    p.add_argument("--size", choices=("demo", "small"), default="demo")
    p.add_argument("--seed", type=int)
    p.add_argument("--neurons", type=int)
    p.add_argument("--traces", metavar="DIR", help="also write the raw recording behind OUT: DIR/suite2p, "
                   "DIR/stimulus_table.csv, DIR/images.npy, DIR/recording.nwb")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("import", help="convert a recording to a DINA dataset file")
    p.add_argument("source_format", choices=("sensorium", "suite2p", "nwb"))
    p.add_argument("src", help="Sensorium static folder or .zip; suite2p folder; NWB file")
    p.add_argument("out")
    p.add_argument("--final-test", choices=("drop", "test"), default="drop",
                   help="Sensorium 'final_test' trials: drop them or score them as test")
    p.add_argument("--stimuli", help="suite2p: stimulus table CSV (onset frame or time, image id, [tier])")
    p.add_argument("--images", help="suite2p: image folder, .npy or .h5 stack; nwb: images container name")
    p.add_argument("--table", help="nwb: TimeIntervals table of presentations (default stimulus_presentations, trials)")
    p.add_argument("--series", help="nwb: traces as 'Interface' or 'Interface/Series' (default DfOverF, else Fluorescence)")
    p.add_argument("--column", help="image id column of the table (default image_id / image_index / frame ...)")
    p.add_argument("--tier-column", help="tier column of the table (default 'tier' if present)")
    p.add_argument("--onset-column", help="suite2p: onset column (default onset_frame, ..., onset_time)")
    p.add_argument("--onset-unit", choices=("frames", "seconds"), help="unit of --onset-column")
    p.add_argument("--iscell-threshold", default="0.5", help="suite2p: minimum cell probability; 'none' keeps "
                   "suite2p's (curated) labels")
    p.add_argument("--um-per-pixel", type=float, help="pixel size in micrometres (nwb default: the imaging plane's)")
    p.add_argument("--validation-fraction", type=float, default=0.1,
                   help="tables without tiers: share of once-shown images held out for validation")
    _add_trace_options(p)
    p.set_defaults(func=cmd_import)

    for name, func, help_text in (("train", cmd_train, "train a model on a dataset file"),
                                  ("benchmark", cmd_benchmark, "DINA beside the baselines; metrics.json + .md")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("data")
        p.add_argument("--out", required=True, help="run folder" if name == "train" else "output folder")
        p.add_argument("--config", help='JSON file {"model": {...}, "train": {...}}')
        p.add_argument("--device", help="'auto' (default), 'cpu', 'cuda', 'cuda:1'")
        p.add_argument("--epochs", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--batch-size", type=int, help="pairs per step; under torchrun the global batch")
        p.add_argument("--lr", type=float, help="peak learning rate")
        p.set_defaults(func=func)
        if name == "train":
            p.add_argument("--kind", choices=("dina", "linear"), default="dina")
            p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
            p.add_argument("--overwrite", action="store_true",
                           help="start afresh in an --out that holds a run (its model is replaced when saved)")

    p = sub.add_parser("demo", help="simulate the demo recording, train DINA on it and evaluate")
    p.add_argument("--dir", default="demo", help="folder for the demo recording and run")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("analyze", help="interpretability summary of a trained run (probes, pruning, maps)")
    p.add_argument("run")
    p.add_argument("--data", help="dataset file (default: the one the run was trained on)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", required=True, help="write the summary to this JSON file")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("evaluate", help="test-tier retrieval of a trained run")
    p.add_argument("run")
    p.add_argument("--data", help="dataset file (default: the one the run was trained on)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write the rows to this JSON file")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except DinaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
