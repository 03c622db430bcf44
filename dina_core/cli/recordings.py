"""Several recordings on the command line: ``dina train A.h5 B.h5 ...`` (one joint model) and ``dina evaluate`` of
a joint run (a block per recording and their mean)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import DinaError
from . import preflight
from .bars import Reporter
from .preflight import DATA_FILE

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")


def recording_names(paths: list[str]) -> list[str]:
    """A folder name per data file: its stem (characters a folder name cannot hold become '_'), prefixed with its
    parent folder's name where two stems are the same ('mouse1-data', 'mouse2-data').

    Raises:
        DinaError: the same file twice, or names that stay the same.
    """
    resolved = [Path(p).resolve() for p in paths]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise DinaError(f"data file {paths[i]}: given twice; a joint run takes each recording once")

    def clean(text: str) -> str:
        return _NOT_ALLOWED.sub("_", text).lstrip("._-")[:64] or "recording"

    names = [clean(p.stem) for p in resolved]
    clashes = {n for n in names if names.count(n) > 1}
    names = [clean(f"{p.parent.name}-{p.stem}") if n in clashes else n for n, p in zip(names, resolved)]
    if len(set(n.casefold() for n in names)) < len(names):
        raise DinaError(f"data files {', '.join(paths)}: their names do not tell the recordings apart "
                        f"({', '.join(names)}); rename the files")
    return names


def cmd_train_joint(args, model_config, train_config) -> None:
    """``dina train A.h5 B.h5 ... --out RUN``: one joint model (``train.joint``); under torchrun as ``cmd_train``."""
    from ..data.io import read_dataset
    from ..runs.folder import check_target
    from ..train import distributed
    from ..train.joint import train_joint
    if args.kind != "dina" or args.ensemble > 1 or args.from_run or args.freeze_image_tower or \
            args.fine_tune_image_tower:
        raise DinaError("several data files train one joint DINA model: --kind linear, --ensemble and --from (and "
                        "its image-tower options) take one file")
    if not 0.0 <= args.alpha <= 1.0:  # also NaN
        raise DinaError(f"--alpha {args.alpha}: expected a number from 0 (equal turns) to 1 (turns proportional to "
                        "trials)")
    names = recording_names(args.data)
    dist = distributed.init_from_environment(train_config.device)
    try:
        check_target(args.out, resume=args.resume, overwrite=args.overwrite, locked=not dist.is_main)
        recordings = {name: read_dataset(path) for name, path in zip(names, args.data)}
        metadata = {name: {"data_path": str(Path(path).resolve())} for name, path in zip(names, args.data)}
        with Reporter(args.progress if dist.is_main else "none", label=f"train joint ({len(names)} recordings)") as r:
            joint, result = train_joint(recordings, args.out, model_config=model_config, train_config=train_config,
                                        alpha=args.alpha, resume=args.resume, overwrite=args.overwrite,
                                        metadata=metadata, on_step=r.on_step)
    finally:
        distributed.shutdown()
    if dist.is_main:
        for name, run in joint.runs.items():
            print(f"{name}: validation top-1 {run.metadata['best_val_top1']:.3f}")
        print(f"joint model of {len(names)} recordings, mean validation top-1 {result.best_val_top1:.3f} (best epoch "
              f"{result.best_epoch + 1}); saved {args.out}")


def cmd_train_from(args, model_config, train_config) -> None:
    """``dina train NEW.h5 --from RUN [--freeze-image-tower | --fine-tune-image-tower]`` (``train.transfer``)."""
    from ..data.io import read_dataset
    from ..runs.folder import check_target
    from ..train.transfer import train_from
    if not args.from_run:
        raise DinaError("--freeze-image-tower and --fine-tune-image-tower: only with --from RUN")
    if args.kind != "dina" or args.ensemble > 1:
        raise DinaError("--from starts one DINA model: --kind linear and --ensemble do not take it")
    preflight.input_path(args.from_run, "--from", "a trained DINA run folder (single, ensemble or joint)")
    mode = "frozen" if args.freeze_image_tower else "fine-tune" if args.fine_tune_image_tower else "auto"
    check_target(args.out, resume=args.resume, overwrite=args.overwrite)
    data = read_dataset(args.data)
    with Reporter(args.progress, label=f"train from {args.from_run}") as reporter:
        run, result = train_from(data, args.out, args.from_run, image_tower=mode, model_config=model_config,
                                 train_config=train_config, resume=args.resume, overwrite=args.overwrite,
                                 metadata={"data_path": str(Path(args.data).resolve())}, on_step=reporter.on_step)
    transfer = run.metadata["transfer"]
    tried = transfer.get("validation_top1")
    choice = ("" if not tried else " (validation chose it: "
              + ", ".join(f"{m} {v:.3f}" for m, v in tried.items()) + ")")
    print(f"image tower {transfer['image_tower']}{choice}; validation top-1 {run.metadata['best_val_top1']:.3f} "
          f"(best epoch {result.best_epoch + 1}); saved {args.out}")


def cmd_benchmark_joint(args, model_config, train_config, models) -> None:
    """``dina benchmark A.h5 B.h5 ... --out DIR``: each recording alone and the joint model (``benchmark_joint``)."""
    from ..benchmark_joint import run_joint_benchmark
    from ..data.io import read_dataset
    if args.ensemble > 1:
        raise DinaError("--ensemble: a benchmark of several recordings trains single runs")
    names = recording_names(args.data)
    recordings = {name: read_dataset(path) for name, path in zip(names, args.data)}
    with Reporter(args.progress, label="benchmark") as reporter:
        result = run_joint_benchmark(recordings, args.out, train_config=train_config, model_config=model_config,
                                     models=models, on_model=lambda label: reporter.begin(label, label),
                                     on_step=lambda _name, info: reporter.on_step(info))
    print((Path(args.out) / "metrics.md").read_text())
    print(f"joint model: {result['joint_dir']}")


def cmd_evaluate_joint(args) -> None:
    """``dina evaluate RUN`` of a joint run: each recording scored on its own file, then the mean over them."""
    from ..data.fingerprint import recording_identity
    from ..data.io import read_dataset
    from ..evaluate.joint_table import joint_evaluation
    from ..evaluate.table import format_rows
    from ..runs.data_check import check_same_data
    from ..runs.joint import load_joint_run, recording_folder
    from ..runs.run import check_compatible
    from .scoring import OVERRIDE_HINT, _write_json
    if args.data:
        raise DinaError(f"run {args.run}: a joint run scores each recording on the file it was trained on; to score "
                        f"other data, evaluate one recording's run: dina evaluate "
                        f"{Path(args.run) / 'recordings' / 'NAME'} --data FILE")
    joint = load_joint_run(args.run, device=args.device)
    recordings, checks = {}, {}
    for name, run in joint.runs.items():
        path = run.metadata.get("data_path")
        where = recording_folder(args.run, name)
        if not path:
            raise DinaError(f"run {where}: does not record its data file; evaluate it alone with --data")
        preflight.input_file(path, f"data file recorded by run {where}", DATA_FILE)
        data = read_dataset(path)
        check_compatible(run, data, path)
        checks[name] = check_same_data(run.metadata, recording_identity(data), source=f"data file {path}",
                                       allow_other=args.allow_other_data, hint=OVERRIDE_HINT)
        recordings[name] = data
    table = joint_evaluation(joint, recordings, "test")
    for name, t in table["recordings"].items():
        print(f"== {name} ==")
        print("\n".join(format_rows(t["rows"] + [{"level": "ceiling", **c} for c in t["ceiling"]])))
        if t["ceiling_note"]:
            print(t["ceiling_note"])
        if checks[name].warning():
            print(checks[name].warning(), file=sys.stderr)
    print(f"== mean over {len(recordings)} recordings (top-1; chance differs with each one's N) ==")
    for r in table["mean"]:
        fraction = "" if r["fraction_of_ceiling"] is None else f"  {r['fraction_of_ceiling']:.2f} of ceiling"
        print(f"{r['level']:>9} {r['direction']:>16} {r['responses']:>12}: top-1 {r['top1']:.3f}  "
              f"top-5 {r['top5']:.3f}  (N = {', '.join(map(str, r['n_candidates']))}){fraction}")
    if args.json:
        _write_json(args.json, {**table, "data_check": {n: c.to_dict() for n, c in checks.items()}})


def add_fewshot_parser(add) -> None:
    p = add("fewshot", help="how many trials the next recording needs: top-1 per train-trial budget, started from a "
                            "trained run and from scratch")
    p.add_argument("data", help="the new recording (a DINA dataset file)")
    p.add_argument("--from", dest="from_run", required=True, metavar="RUN", help="trained DINA run to start from "
                   "(single, ensemble or joint)")
    p.add_argument("--trials", required=True, metavar="N,N,...", help="train-trial budgets, e.g. 100,250,500,1000")
    p.add_argument("--out", required=True, help="folder for fewshot.json, fewshot.md, fewshot.html")
    tower = p.add_mutually_exclusive_group()
    tower.add_argument("--freeze-image-tower", action="store_true", help="keep the copied image tower fixed "
                       "(default: frozen and fine-tuned both trained, the better on validation kept)")
    tower.add_argument("--fine-tune-image-tower", action="store_true", help="train the copied image tower too")
    p.add_argument("--config", help='JSON file {"train": {...}} (the model is the source run\'s)')
    p.add_argument("--device", help="'auto' (default), 'cpu', 'cuda', 'cuda:1'")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--batch-size", type=int, help="pairs per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier curve's files in --out")
    p.set_defaults(func=cmd_fewshot)


def _budgets(text: str) -> list[int]:
    try:
        budgets = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        budgets = []
    if not budgets:
        raise DinaError(f"--trials {text!r}: expected train-trial counts, comma-separated (e.g. 100,250,500)")
    return budgets


def cmd_fewshot(args) -> None:
    from ..data.io import read_dataset
    from ..fewshot import JSON, MARKDOWN, fewshot
    budgets = _budgets(args.trials)
    preflight.input_file(args.data, "data file", DATA_FILE)
    preflight.input_path(args.from_run, "--from", "a trained DINA run folder (single, ensemble or joint)")
    preflight.output_folder(args.out, "--out")
    train_config = preflight.train_config(args, preflight.read_config(args.config))
    mode = "frozen" if args.freeze_image_tower else "fine-tune" if args.fine_tune_image_tower else "auto"
    data = read_dataset(args.data)
    with Reporter(args.progress, label="fewshot") as reporter:
        fewshot(data, args.from_run, budgets, args.out, image_tower=mode, train_config=train_config,
                on_budget=lambda label: reporter.begin(label), on_step=reporter.on_step, overwrite=args.overwrite)
    print((Path(args.out) / MARKDOWN).read_text())
    print(f"wrote {Path(args.out) / JSON}")
