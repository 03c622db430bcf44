"""The ``dina`` commands and their options. Parse errors follow the CLI's rule: ``error: ...``, exit 2."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from ..importers.traces.config import CHOICES, TraceConfig
from .bars import MODES
from .commands import cmd_benchmark, cmd_demo, cmd_import, cmd_info, cmd_simulate, cmd_train
from .scoring import cmd_analyze, cmd_evaluate
from .tuning import cmd_tune
from .validate_model import add_parser as add_validate_model
from .compare import add_consistency_parser
from .recordings import add_fewshot_parser


class Parser(argparse.ArgumentParser):
    """argparse, with its errors said the way every DINA error is: ``error: <what>`` on stderr, exit 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}; see '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(2)


def _add_trace_options(p: argparse.ArgumentParser) -> None:
    """One option per TraceConfig field; dina_core/importers/traces/config.py says why each exists."""
    group = p.add_argument_group("trace preprocessing (suite2p, nwb)")
    for f in fields(TraceConfig):
        if isinstance(f.default, tuple):
            group.add_argument("--" + f.name.replace("_", "-"), nargs="+", metavar="S",
                               help=f"START END seconds from onset (default {f.default[0]:g} {f.default[1]:g})"
                               + ("; 'none' skips" if f.name == "prestim_window_s" else ""))
        else:
            group.add_argument("--" + f.name.replace("_", "-"), type=type(f.default),
                               choices=CHOICES.get(f.name), help=f"default {f.default}")


def _add_scoring(add, name: str, func, help_text: str, json_help: str, json_required: bool) -> None:
    p = add(name, help=help_text)
    p.add_argument("run")
    p.add_argument("--data", help="dataset file (default: the one the run was trained on)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", required=json_required, help=json_help)
    p.add_argument("--allow-other-data", action="store_true",
                   help="score data other than the run's training recording (refused by default); "
                        "the output and the JSON's data_check say so")
    p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dina", description="The dina command line: simulate, import, inspect, train, "
                                             "evaluate, benchmark, validate a vision model.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    progress_help = ("progress of training, imports and analyses on stdout: a bar, a plain line per epoch and "
                     "per finished stage (for logs), or none; auto (default): a bar on a terminal, else lines")
    parser.add_argument("--progress", choices=MODES, default="auto", help=progress_help)
    # both are also accepted after the command; SUPPRESS keeps the top-level value when not given there
    common = Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--progress", choices=MODES, default=argparse.SUPPRESS, help=progress_help)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def add(name: str, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("info", help="summarise a DINA dataset file")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = add("simulate", help="write a simulated V1 recording with ground truth (or several animals' recordings)")
    p.add_argument("out", help="OUT.h5; with --animals K a folder for animal1.h5 ... animalK.h5")
    p.add_argument("--size", choices=("demo", "small"), default="demo")
    p.add_argument("--seed", type=int)
    p.add_argument("--neurons", type=int)
    p.add_argument("--traces", metavar="DIR", help="also write the raw recording behind OUT: DIR/suite2p, "
                   "DIR/stimulus_table.csv, DIR/images.npy, DIR/recording.nwb")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT (and --traces files)")
    p.add_argument("--animals", type=int, help="K recordings of one simulated visual system: one image set, each "
                   "animal its own neurons, noise and behaviour")
    p.add_argument("--shared-fraction", type=float, help="with --animals: share of each tier's images every animal "
                   "sees (default 0.5)")
    p.add_argument("--different-features", metavar="I,J", help="with --animals: these animals' neurons follow another "
                   "feature model (local luminance), the consistency test's negative")
    p.set_defaults(func=cmd_simulate)

    p = add("import", help="convert a recording to a DINA dataset file")
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
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT (refused by default)")
    _add_trace_options(p)
    p.set_defaults(func=cmd_import)

    for name, func, help_text in (("train", cmd_train, "train a model on a dataset file"),
                                  ("benchmark", cmd_benchmark, "DINA beside the baselines; metrics.json + .md")):
        p = add(name, help=help_text)
        p.add_argument("data", nargs="+", help="a dataset file; several: one joint model over them (one image "
                       "tower, a neural tower per recording)" + ("" if name == "train" else ", beside each one's "
                       "models alone (the 'separate' row)"))
        p.add_argument("--out", required=True, help="run folder" if name == "train" else "output folder")
        p.add_argument("--config", help='JSON file {"model": {...}, "train": {...}}')
        p.add_argument("--device", help="'auto' (default), 'cpu', 'cuda', 'cuda:1'")
        p.add_argument("--epochs", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--batch-size", type=int, help="pairs per step; under torchrun the global batch")
        p.add_argument("--lr", type=float, help="peak learning rate")
        p.add_argument("--ensemble", type=int, default=1, metavar="K",
                       help="train K runs (seeds seed .. seed+K-1) scored as one model, their similarities averaged"
                       + ("" if name == "train" else " (the dina row)"))
        p.set_defaults(func=func)
        if name == "train":
            p.add_argument("--kind", choices=("dina", "linear"), default="dina")
            p.add_argument("--alpha", type=float, default=1.0, help="several data files: each recording's batches "
                           "per epoch go as its train trials^alpha (1, default: one pass over each; 0: equal turns)")
            p.add_argument("--from", dest="from_run", metavar="RUN", help="start from a trained DINA run (single, "
                           "ensemble or joint): its image tower copied, only the new recording's neural tower new")
            tower = p.add_mutually_exclusive_group()
            tower.add_argument("--freeze-image-tower", action="store_true", help="with --from: keep the copied image "
                               "tower fixed (default: train it frozen and fine-tuned, keep the better on validation)")
            tower.add_argument("--fine-tune-image-tower", action="store_true", help="with --from: train the copied "
                               "image tower too")
            p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
            p.add_argument("--overwrite", action="store_true",
                           help="start afresh in an --out that holds a run (its model is replaced when saved)")
        else:
            p.add_argument("--models", nargs="+", metavar="M", help="score only these (default: all; ceiling "
                           "and chance always)")

    p = add("tune", help="search a few DINA settings on validation retrieval within a time budget")
    p.add_argument("data")
    p.add_argument("--budget", default="15m", help="wall-clock budget, e.g. 15m, 90s, 1h (default 15m)")
    p.add_argument("--out", required=True, help="folder for tune.json, tune.md, best_config.json, best_run/")
    p.add_argument("--config", help='starting point, JSON {"model": {...}, "train": {...}} (default: the defaults)')
    p.add_argument("--device", help="'auto' (default), 'cpu', 'cuda', 'cuda:1'")
    p.add_argument("--epochs", type=int, help="upper bound per trial (early stopping usually ends sooner)")
    p.set_defaults(func=cmd_tune)

    p = add("demo", help="simulate the demo recording, train DINA on it and evaluate")
    p.add_argument("--dir", default="demo", help="folder for the demo recording and run")
    p.set_defaults(func=cmd_demo)

    _add_scoring(add, "analyze", cmd_analyze, "interpretability summary of a trained run (probes, pruning, maps)",
                 "write the summary to this JSON file", json_required=True)
    _add_scoring(add, "evaluate", cmd_evaluate, "test-tier retrieval of a trained run",
                 "write the rows to this JSON file", json_required=False)
    add_validate_model(add)
    add_consistency_parser(add)
    add_fewshot_parser(add)
    return parser
