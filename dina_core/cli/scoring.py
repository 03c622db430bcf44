"""The commands that score a trained run: evaluate and analyze.

Both check first that the data is the recording the run was trained on
(:func:`dina_core.runs.data_check.check_same_data`): other data is refused unless
``--allow-other-data`` is given, and then the printed output and the JSON both say so.
"""

from __future__ import annotations

import json

from ..atomic import atomic_path
from ..errors import DinaError
from . import preflight
from .bars import Reporter
from .preflight import DATA_FILE

OVERRIDE_HINT = "pass --allow-other-data to score it anyway"


def _scoring_preflight(args) -> None:
    from ..model.device import DeviceError, resolve_device
    preflight.input_path(args.run, "run", "a run folder (with model.pt) or a model.pt file")
    if args.data:
        preflight.input_file(args.data, "--data", DATA_FILE)
    if args.json:
        preflight.output_file(args.json, "--json", inputs=(args.data, args.run))
    try:
        resolve_device(args.device)
    except DeviceError as err:
        raise DinaError(f"--device {err.name}: {err.reason}") from None


def _interpreted(run, name: str):
    """An ensemble is interpreted through its first member, and the output says so."""
    from ..runs.ensemble import EnsembleModel, first_member
    if not isinstance(run.model, EnsembleModel):
        return run
    print(f"{name}: a {len(run.model.members)}-seed ensemble; interpreting its first member "
          f"(seed {run.model.seeds[0]})")
    return first_member(run)


def _run_and_data(args, interpret: bool = False):
    """(run, data, data path, DataCheck): the run, its recording (or --data), checked to belong together."""
    from ..data.fingerprint import recording_identity
    from ..data.io import read_dataset
    from ..runs.data_check import check_same_data
    from ..runs.run import check_compatible, load_run
    run = load_run(args.run, device=args.device)
    if interpret:
        run = _interpreted(run, args.run)
    data_path = args.data or run.metadata.get("data_path")
    if not data_path:
        raise DinaError(f"run {args.run}: the run does not record its data file; pass --data")
    if not args.data:
        preflight.input_file(data_path, f"data file recorded by run {args.run}", DATA_FILE + " (or pass --data)")
    data = read_dataset(data_path)
    check_compatible(run, data, data_path)
    check = check_same_data(run.metadata, recording_identity(data), source=f"data file {data_path}",
                            allow_other=args.allow_other_data, hint=OVERRIDE_HINT)
    if check.warning():
        print(check.warning() + " (--allow-other-data)")
    return run, data, data_path, check


def _write_json(path: str, payload: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2))


def cmd_evaluate(args) -> None:
    from ..evaluate.table import CEILING_NOTE, evaluation_table, format_rows
    from ..runs.joint import is_joint_run
    _scoring_preflight(args)
    if is_joint_run(args.run):
        from .recordings import cmd_evaluate_joint
        return cmd_evaluate_joint(args)
    run, data, _, check = _run_and_data(args)
    table = evaluation_table(run, data, "test")  # what DINA.score returns, from the same function
    print("\n".join(format_rows(table["rows"] + [{"level": "ceiling", **c} for c in table["ceiling"]])))
    print(table["ceiling_note"] or CEILING_NOTE)
    if check.warning():
        print(check.warning())
    if args.json:
        _write_json(args.json, {**table, "data_check": check.to_dict()})


def cmd_analyze(args) -> None:
    from ..interpret.analyze import analyze
    _scoring_preflight(args)
    run, data, _, check = _run_and_data(args, interpret=True)
    with Reporter(args.progress) as progress:
        summary = analyze(run, data, progress=progress)
    _write_json(args.json, {**summary, "data_check": check.to_dict()})
    print(f"full top-1 {summary['full_top1']:.3f} (chance {summary['chance_top1']:.3f}); wrote {args.json}")
    if check.warning():
        print(check.warning())
