"""The commands that make, read or train on a recording: info, simulate, import, train, benchmark, demo.

Each starts with its preflight (paths and option values), so a mistake is reported before any work.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import DinaError
from . import preflight
from .bars import Reporter
from .preflight import DATA_FILE
from .scoring import cmd_evaluate


def cmd_info(args) -> None:
    from ..data.io import dataset_summary
    preflight.input_file(args.file, "dataset file", DATA_FILE)
    print(json.dumps(dataset_summary(args.file), indent=2, default=str))


def cmd_simulate(args) -> None:
    from ..config import ConfigError
    from ..data.format import write_dataset
    from ..simulate import DEMO_CONFIG, SimConfig, simulate_recording
    animals = getattr(args, "animals", None) is not None
    if not animals:
        if getattr(args, "shared_fraction", None) is not None or getattr(args, "different_features", None):
            raise DinaError("--shared-fraction and --different-features: only with --animals K")
        preflight.output_file(args.out, "output file", overwrite=args.overwrite)
    if args.traces and not animals:
        _traces_preflight(args.traces, args.overwrite)
    base = SimConfig.small() if args.size == "small" else DEMO_CONFIG
    overrides = {k: v for k, v in {"seed": args.seed, "n_neurons": args.neurons}.items() if v is not None}
    try:
        config = SimConfig.from_dict({**base.to_dict(), **overrides})
    except ConfigError as err:
        name = {"seed": "--seed", "n_neurons": "--neurons"}.get(err.field, f"--size {args.size}: field '{err.field}'")
        raise DinaError(f"{name} {err.found}: expected {err.expected}") from None
    if animals:
        from .compare import cmd_simulate_animals
        return cmd_simulate_animals(args, config)
    if args.traces:  # before any work: the recording's own memory is checked by simulate_recording
        from ..simulate.trace_writers import check_trace_fits
        pixels = config.n_images * config.image_shape[0] * config.image_shape[1]
        check_trace_fits(args.traces, config.n_neurons, config.n_trials, 4 * pixels, nwb=_has_pynwb())
    data = simulate_recording(config)
    write_dataset(args.out, data)
    print(f"wrote {args.out}: {data.n_images} images, {data.n_neurons} neurons, {data.n_trials} trials")
    if args.traces:
        from ..simulate.trace_writers import write_trace_recording
        files = write_trace_recording(data, args.traces, nwb=_has_pynwb())
        print(f"wrote raw traces of the same trials: {files.suite2p}, {files.stimulus_table}, {files.images}, "
              f"{files.nwb or '(no NWB file: pip install pynwb)'}")


def _has_pynwb() -> bool:
    import importlib.util
    return importlib.util.find_spec("pynwb") is not None


def _traces_preflight(folder: str, overwrite: bool) -> None:
    """``--traces DIR`` can be written, and holds none of the files it would replace unless ``--overwrite``."""
    from ..simulate.trace_writers import TRACE_NAMES
    path = preflight.output_folder(folder, "--traces")
    found = [name for name in TRACE_NAMES if (path / name).exists() or (path / name).is_symlink()]
    if found and not overwrite:
        raise DinaError(f"--traces {folder}: already holds {', '.join(found)}; pass --overwrite to replace "
                        f"{'them' if len(found) > 1 else 'it'}, or choose another folder")


def _import_preflight(args) -> float | None:
    """Paths and the importer options outside TraceConfig; returns the suite2p iscell threshold."""
    expected = {"sensorium": "a Sensorium static folder or its .zip", "suite2p": "a suite2p output folder",
                "nwb": "an NWB file"}[args.source_format]
    preflight.input_path(args.src, "source", expected)
    preflight.output_file(args.out, "output file", inputs=(args.src, args.stimuli), overwrite=args.overwrite)
    preflight.positive(args.um_per_pixel, "--um-per-pixel")
    preflight.fraction(args.validation_fraction, "--validation-fraction")
    if args.source_format != "suite2p":
        return None
    if not args.stimuli or not args.images:
        raise DinaError("dina import suite2p needs --stimuli TABLE.csv and --images (folder, .npy or .h5)")
    preflight.input_file(args.stimuli, "--stimuli", "a stimulus table (.csv)")
    preflight.input_path(args.images, "--images", "an image folder, .npy or .h5 stack")
    if args.iscell_threshold.lower() == "none":
        return None
    try:
        threshold = float(args.iscell_threshold)
    except ValueError:
        threshold = float("nan")
    preflight.fraction(threshold, "--iscell-threshold", closed=True)
    return threshold


def cmd_import(args) -> None:
    threshold = _import_preflight(args)
    trace_config = preflight.trace_config(args) if args.source_format != "sensorium" else None
    with Reporter(args.progress, unit="item") as progress:
        table = {"image_column": args.column, "tier_column": args.tier_column,
                 "validation_fraction": args.validation_fraction, "progress": progress}
        if args.source_format == "sensorium":
            from ..importers.sensorium import import_sensorium
            import_sensorium(args.src, args.out, final_test=args.final_test, progress=progress)
        elif args.source_format == "suite2p":
            from ..importers.suite2p import import_suite2p
            import_suite2p(args.src, args.out, stimuli=args.stimuli, images=args.images, config=trace_config,
                           iscell_threshold=threshold, um_per_pixel=args.um_per_pixel or 1.0,
                           onset_column=args.onset_column, onset_unit=args.onset_unit, **table)
        else:
            from ..importers.nwb import import_nwb
            import_nwb(args.src, args.out, config=trace_config, series=args.series, table=args.table,
                       images=args.images, um_per_pixel=args.um_per_pixel, **table)
    print(f"wrote {args.out}")


def _train_preflight(args, kind: str):
    """(model config or None, TrainConfig) after checking the data file(s), --out and every option."""
    for path in args.data if isinstance(args.data, list) else [args.data]:
        preflight.input_file(path, "data file", DATA_FILE)
    preflight.output_folder(args.out, "--out")
    if getattr(args, "ensemble", 1) < 1:
        raise DinaError(f"--ensemble must be at least 1, got {args.ensemble}")
    raw = preflight.read_config(args.config)
    return preflight.model_config(args, raw, kind), preflight.train_config(args, raw)


def _member_steps(reporter: Reporter, label: str, k: int):
    """``train_ensemble``'s ``on_step(member index, info)``: each member's fits are labelled 'member i/K'."""
    current = [None]

    def on_step(member: int, info) -> None:
        if member != current[0]:
            current[0] = member
            reporter.begin(f"{label}, member {member + 1}/{k}")
        reporter.on_step(info)

    return on_step


def _validation_line(metadata: dict) -> str:
    """The saved model's validation top-1, and the one before validation chose its level weights (evaluate.chance)."""
    line = f"validation top-1 {metadata['best_val_top1']:.3f}"
    if "level_weights" in metadata and "unselected_val_top1" in metadata:
        line += f" with level weights chosen on it ({metadata['unselected_val_top1']:.3f} with the trained weights)"
    return line


def cmd_train(args) -> None:
    """Train one run; under ``torchrun`` every process joins and rank 0 reports and saves."""
    from ..data.io import read_dataset
    from ..runs.folder import check_target
    from ..train import distributed
    from ..train.ensemble import train_ensemble
    from ..train.run import train_run
    model_config, train_config = _train_preflight(args, args.kind)
    if isinstance(args.data, list) and len(args.data) > 1:
        from .recordings import cmd_train_joint
        return cmd_train_joint(args, model_config, train_config)
    args.data = args.data[0] if isinstance(args.data, list) else args.data
    if getattr(args, "alpha", 1.0) != 1.0:
        raise DinaError("--alpha: only with several data files (a joint model's turns per recording)")
    if getattr(args, "from_run", None) or getattr(args, "freeze_image_tower", False) or \
            getattr(args, "fine_tune_image_tower", False):
        from .recordings import cmd_train_from
        return cmd_train_from(args, model_config, train_config)
    dist = distributed.init_from_environment(train_config.device)
    label = f"train {args.kind}"
    try:
        found = check_target(args.out, resume=args.resume, overwrite=args.overwrite,  # before any data is read
                             locked=not dist.is_main)  # under torchrun rank 0 takes the lock for every rank
        data = read_dataset(args.data)
        if args.resume and found in ("missing", "empty") and dist.is_main:
            print(f"{args.out}: no interrupted training to resume; starting a fresh one", file=sys.stderr)
        options = dict(kind=args.kind, model_config=model_config, train_config=train_config, resume=args.resume,
                       overwrite=args.overwrite, metadata={"data_path": str(Path(args.data).resolve())})
        with Reporter(args.progress if dist.is_main else "none", label=label) as reporter:
            if args.ensemble > 1:
                run, _ = train_ensemble(data, args.out, args.ensemble, **options,
                                        on_step=_member_steps(reporter, label, args.ensemble))
                best = f"{args.ensemble}-seed ensemble, {_validation_line(run.metadata)}"
            else:
                run, result = train_run(data, args.out, **options, on_step=reporter.on_step)
                best = f"{_validation_line(run.metadata)} (best epoch {result.best_epoch + 1})"
    finally:
        distributed.shutdown()
    if dist.is_main:
        print(f"{best} ({dist.world_size} process{'es' if dist.enabled else ''}); saved {args.out}")


def cmd_benchmark(args) -> None:
    from ..benchmark import ALL_MODELS, run_benchmark
    from ..data.io import read_dataset
    unknown = [m for m in args.models or () if m not in ALL_MODELS]
    if unknown:
        raise DinaError(f"--models: unknown {unknown}; choose from {list(ALL_MODELS)}")
    model_config, train_config = _train_preflight(args, "dina")
    models = tuple(dict.fromkeys(args.models or ALL_MODELS))  # each once: a model's folder is its name
    if isinstance(args.data, list) and len(args.data) > 1:
        from .recordings import cmd_benchmark_joint
        return cmd_benchmark_joint(args, model_config, train_config, models)
    data = read_dataset(args.data[0] if isinstance(args.data, list) else args.data)
    with Reporter(args.progress, label="benchmark") as reporter:
        started = []  # in running order: the encoding row may run first, to hand its fit to DINA's level

        def on_model(name: str) -> None:
            started.append(name)
            reporter.begin(name, f"model {len(started)}/{len(models)}: {name}")

        metrics = run_benchmark(data, args.out, train_config=train_config, model_config=model_config,
                                ensemble=args.ensemble, models=models, on_model=on_model,
                                on_step=lambda _name, info: reporter.on_step(info))
    print((Path(args.out) / "metrics.md").read_text())
    print(f"seconds per model: {json.dumps({k: round(v, 1) for k, v in metrics['seconds'].items()})}")


def cmd_demo(args) -> None:
    from ..demo import ensure_demo_dataset
    preflight.output_folder(args.dir, "--dir")
    data_path = ensure_demo_dataset(args.dir)
    print(f"demo recording: {data_path}")
    run_dir = Path(args.dir) / "run"
    cmd_train(argparse.Namespace(data=str(data_path), out=str(run_dir), config=None, device=None, epochs=None,
                                 seed=None, batch_size=None, lr=None, kind="dina", resume=False,
                                 overwrite=True, ensemble=1, progress=args.progress))  # the demo's own run
    cmd_evaluate(argparse.Namespace(run=str(run_dir), data=str(data_path), device="cpu", json=None,
                                    allow_other_data=False))
