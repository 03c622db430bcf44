"""The ``dina`` command line: simulate, import, inspect, train, evaluate, benchmark.

Every command prints a readable message and exits with status 2 on bad input
(a DinaError); bugs still raise with a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from .errors import DinaError


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


def _configs(args) -> tuple[dict | None, "TrainConfig"]:
    from .train.config import TrainConfig
    raw = json.loads(Path(args.config).read_text()) if args.config else {}
    unknown = set(raw) - {"model", "train"}
    if unknown:
        raise DinaError(f"{args.config}: unknown top-level keys {sorted(unknown)}; expected 'model' and 'train'")
    train = dict(raw.get("train", {}))
    for key in ("epochs", "device", "seed"):
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


def cmd_import(args) -> None:
    if args.source_format == "sensorium":
        from .data.sensorium import import_sensorium
        bars: dict[str, tqdm] = {}

        def progress(done: int, total: int, stage: str) -> None:
            bar = bars.setdefault(stage, tqdm(total=total, desc=stage, unit="file"))
            bar.n = done
            bar.refresh()

        import_sensorium(args.src, args.out, final_test=args.final_test, progress=progress)
        for bar in bars.values():
            bar.close()
    print(f"wrote {args.out}")


def cmd_train(args) -> None:
    from .data.io import read_dataset
    from .train.run import train_run
    model_config, train_config = _configs(args)
    data = read_dataset(args.data)
    bar, on_step = _progress_bar(f"train {args.kind}")
    _, result = train_run(data, args.out, kind=args.kind, model_config=model_config, train_config=train_config,
                          resume=args.resume, on_step=on_step, metadata={"data_path": str(Path(args.data).resolve())})
    bar.close()
    print(f"best validation top-1 {result.best_val_top1:.3f} at epoch {result.best_epoch}; saved {args.out}")


def cmd_evaluate(args) -> None:
    from .data.io import read_dataset
    from .evaluate.model_eval import evaluate_run
    from .train.run import load_run
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


def cmd_benchmark(args) -> None:
    from .data.io import read_dataset
    from .evaluate.benchmark import run_benchmark
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
                                 seed=None, kind="dina", resume=False))
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
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("import", help="convert a recording to a DINA dataset file")
    p.add_argument("source_format", choices=("sensorium",))
    p.add_argument("src", help="Sensorium static folder or its .zip")
    p.add_argument("out")
    p.add_argument("--final-test", choices=("drop", "test"), default="drop",
                   help="Sensorium 'final_test' trials: drop them or score them as test")
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
        p.set_defaults(func=func)
        if name == "train":
            p.add_argument("--kind", choices=("dina", "linear"), default="dina")
            p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")

    p = sub.add_parser("demo", help="simulate the demo recording, train DINA on it and evaluate")
    p.add_argument("--dir", default="demo", help="folder for the demo recording and run")
    p.set_defaults(func=cmd_demo)

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
