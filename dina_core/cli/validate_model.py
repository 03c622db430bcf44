"""``dina validate-model``: which layer of a vision network aligns with this recording's V1 (``model_validation``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import DinaError
from . import preflight
from .bars import Reporter
from .preflight import DATA_FILE

CACHE_ENV = "DINA_FEATURE_CACHE"  # overrides the default cache folder


class AddModel(argparse.Action):
    """``--model SPEC``: one more network; a ``--weights FILE`` after it belongs to it."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.models = [*(namespace.models or []), [values, None]]


class AddWeights(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        if not namespace.models:
            parser.error("--weights FILE: give it after the --model it belongs to")
        if namespace.models[-1][1] is not None:
            parser.error(f"--weights: two weights files for --model {namespace.models[-1][0]}")
        namespace.models[-1][1] = values


def add_parser(add) -> None:
    p = add("validate-model", help="align a vision network's layers with V1: validation.json + .md + profile")
    p.add_argument("data")
    p.add_argument("--model", action=AddModel, dest="models", metavar="SPEC", required=True,
                   help="torchvision:NAME, torchscript:FILE, python:MODULE:FACTORY or dina:RUN; may be repeated")
    p.add_argument("--weights", action=AddWeights, metavar="FILE",
                   help="state dict for the torchvision --model before it (loaded with weights_only=True); "
                        "without it: random initialisation")
    p.add_argument("--layers", required=True, help="'list' (print the candidates and their shapes), 'all' (the "
                   "stage-level layers; for a DINA run its levels) or names: layer1,layer2")
    p.add_argument("--out", help="output folder (not needed with --layers list)")
    p.add_argument("--grid", help="HxW locations every map is pooled to (default: 16 along the stimulus's longer side, "
                                  "no finer than the network's coarsest stage-level layer)")
    p.add_argument("--channels", type=int, default=32, help="channels kept per layer (default 32)")
    p.add_argument("--input-channels", type=int, choices=(1, 3), help="default 3 (grey replicated)")
    p.add_argument("--input-size", help="'native', shorter side N (default 112) or HxW")
    p.add_argument("--dina", default="train", metavar="RUN|train|none",
                   help="the DINA reference: a trained run on this recording, 'train' (default: train one in "
                        "OUT/dina) or 'none'")
    p.add_argument("--cache", help=f"feature cache folder, or 'none' (default: ${CACHE_ENV}, else "
                                   "~/.cache/dina/features)")
    p.add_argument("--no-joint", action="store_true", help="skip the row of all chosen layers aligned together")
    p.add_argument("--overwrite", action="store_true", help="replace the validation in an --out that holds files "
                                                            "(refused by default)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--config", help='JSON file {"train": {...}}: the neural towers\' training')
    p.add_argument("--device", help="'auto' (default: CUDA when present), 'cpu', 'cuda', 'cuda:1': the networks' maps "
                                   "and the neural towers")
    p.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_validate_model)


def _grid(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and 1 <= int(p) <= 256 for p in parts):
        raise DinaError(f"--grid {text!r}: expected HxW, each 1 to 256 (e.g. 5x8)")
    return int(parts[0]), int(parts[1])


def _cache(text: str | None) -> str | None:
    if text == "none":
        return None
    return text or os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "dina" / "features")


def cmd_validate_model(args) -> None:
    from ..data.io import read_dataset
    from ..model_validation import Progress, parse_spec, validate_models
    from ..model_validation.flow import refuse_duplicate_specs
    from ..model_validation.layers import layer_table
    from ..model_validation.networks import open_network
    preflight.input_file(args.data, "data file", DATA_FILE)
    specs = [parse_spec(text, weights) for text, weights in args.models]
    refuse_duplicate_specs(specs)
    grid = _grid(args.grid)
    if not 1 <= args.channels <= 4096:
        raise DinaError(f"--channels {args.channels}: expected 1 to 4096")
    if args.layers != "list":
        if not args.out:
            raise DinaError("--out: required unless --layers list")
        out = preflight.output_folder(args.out, "--out")
        if out.is_dir() and any(out.iterdir()) and not args.overwrite:
            raise DinaError(f"--out {args.out}: already holds files; pass --overwrite to replace its validation, or "
                            "choose a new folder")
    train_config = preflight.train_config(args, preflight.read_config(args.config))
    data = read_dataset(args.data)
    if args.layers == "list":
        for spec in specs:
            network = open_network(spec, data, input_channels=args.input_channels, input_size=args.input_size)
            h, w = network.input.input_shape(data.image_shape)
            print(f"{spec.label}: input {network.input.channels} x {h} x {w}\n{layer_table(network.layers)}")
        return
    with Reporter(args.progress, label="validate-model", unit="stimulus") as reporter:
        dina_run = _dina_reference(args, data, train_config, reporter)
        progress = Progress(on_stage=reporter.begin, on_count=reporter, on_step=reporter.on_step)
        validate_models(data, specs, args.out, layers=args.layers, grid=grid, channels=args.channels,
                        input_channels=args.input_channels, input_size=args.input_size, train_config=train_config,
                        dina_run=dina_run, joint=not args.no_joint, cache_dir=_cache(args.cache), progress=progress)
    print((Path(args.out) / "validation.md").read_text())
    print(f"wrote {Path(args.out) / 'validation.json'} and {Path(args.out) / 'layer_profile.html'}")


def _dina_reference(args, data, train_config, reporter: Reporter):
    """The run behind the ``dina`` row: ``--dina RUN`` loaded now, 'train' a function training one into OUT/dina
    (called once the networks' layers are checked), 'none' none."""
    if args.dina == "none":
        return None
    if args.dina == "train":
        def train():
            from ..train.run import train_run
            reporter.begin("DINA reference", "training DINA on this recording (the dina reference; --dina RUN "
                                             "reuses a trained one)")
            run, _ = train_run(data, Path(args.out) / "dina", train_config=train_config, overwrite=True,
                               metadata={"data_path": str(Path(args.data).resolve())}, on_step=reporter.on_step)
            return run
        return train
    from ..runs.run import load_run
    preflight.input_path(args.dina, "--dina", "a DINA run folder")
    return load_run(args.dina)
