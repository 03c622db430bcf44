"""Commands across recordings: ``dina simulate OUT_DIR --animals K`` and ``dina consistency RUN RUN ...``."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DinaError
from . import preflight
from .preflight import DATA_FILE


def add_consistency_parser(add) -> None:
    p = add("consistency", help="do the animals encode the same features? R^2 of one run's neural-tower outputs "
                                "from another's on their shared images, beside a shuffled-label control")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more runs, each trained on its own recording, or "
                   "a joint run (each of its recordings counts as one)")
    p.add_argument("--data", nargs="+", metavar="DATA", help="each run's recording, in the runs' order (default: the "
                                                             "file each run was trained on)")
    p.add_argument("--json", help="write the matrix, its control and the shared-image counts to this JSON file")
    p.set_defaults(func=cmd_consistency)


def _animals(args) -> tuple[int, ...]:
    """``--different-features 3,4`` (1-based animals) -> 0-based indices, checked against ``--animals``."""
    if not args.different_features:
        return ()
    try:
        chosen = tuple(int(v) - 1 for v in str(args.different_features).split(","))
    except ValueError:
        raise DinaError(f"--different-features {args.different_features!r}: expected animals 1..{args.animals}, "
                        "comma-separated") from None
    if any(not 0 <= i < args.animals for i in chosen):
        raise DinaError(f"--different-features {args.different_features}: expected animals 1..{args.animals}")
    return chosen


def cmd_simulate_animals(args, base) -> None:
    """``dina simulate OUT_DIR --animals K``: OUT_DIR/animal1.h5 ... animalK.h5 (``simulate.animals``)."""
    from ..data.format import write_dataset
    from ..simulate.animals import simulate_animals
    if args.animals < 2 or args.animals > 64:
        raise DinaError(f"--animals {args.animals}: expected 2 to 64")
    fraction = 0.5 if args.shared_fraction is None else args.shared_fraction
    preflight.fraction(fraction, "--shared-fraction", closed=True)
    if args.traces:
        raise DinaError("--traces: not with --animals (write one animal's traces with a plain dina simulate)")
    folder = preflight.output_folder(args.out, "OUT_DIR")
    files = [folder / f"animal{i + 1}.h5" for i in range(args.animals)]
    for file in files:
        if file.exists() and not args.overwrite:
            raise DinaError(f"{file}: already exists; pass --overwrite to replace it, or choose another OUT_DIR")
    different = _animals(args)
    folder.mkdir(parents=True, exist_ok=True)
    for file, data in zip(files, simulate_animals(args.animals, shared_fraction=fraction, config=base,
                                                  different=different)):
        write_dataset(file, data)
        print(f"wrote {file}: {data.n_images} images ({data.attrs['study']['feature_model']} neurons), "
              f"{data.n_neurons} neurons, {data.n_trials} trials")


def _expanded_runs(paths: list[str]) -> list[tuple[str, object]]:
    """(name, Run) per recording: a single run is one (its folder's name), a joint run one per recording in it
    ('JOINT/NAME')."""
    from ..runs.joint import is_joint_run, load_joint_run
    from ..runs.run import load_run
    found = []
    for path in paths:
        preflight.input_path(path, "run", "a run folder (single or joint)")
        if is_joint_run(path):
            found += [(f"{Path(path).name}/{name}", run) for name, run in load_joint_run(path).runs.items()]
        else:
            found.append((Path(path).name, load_run(path)))
    return found


def cmd_consistency(args) -> None:
    from ..data.io import read_dataset
    from ..evaluate.consistency import Recording, consistency
    if args.json:
        preflight.output_file(args.json, "--json")
    runs = _expanded_runs(args.runs)
    if len(runs) < 2:
        raise DinaError("consistency: expected two or more runs, or a joint run of several recordings")
    if args.data and len(args.data) != len(runs):
        raise DinaError(f"--data: {len(args.data)} files for {len(runs)} recordings' runs; expected one per run, in "
                        "order (a joint run counts once per recording)")
    paths = args.data or [run.metadata.get("data_path") for _, run in runs]
    for (name, _), path in zip(runs, paths):
        if not path:
            raise DinaError(f"{name}: the run does not record its recording; pass --data")
    recordings = [Recording(name, read_dataset(preflight.input_file(p, "data file", DATA_FILE)), run)
                  for (name, run), p in zip(runs, paths)]
    result = consistency(recordings)
    print(matrix_text(result))
    if args.json:
        from ..atomic import atomic_path
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


def matrix_text(result: dict) -> str:
    """The matrix as a table: each entry 'R^2 (control) [shared images]'; '–' without enough shared images."""
    names = result["names"]
    width = max(len(n) for n in names) + 2
    lines = [f"R^2 of the column's representation from the row's, on shared images (shuffled-label control in "
             f"brackets; {result['representation']})", " " * width + "".join(f"{n:>26}" for n in names)]
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            value, control, n = result["matrix"][i][j], result["control"][i][j], result["n_shared"][i][j]
            cells.append(f"{'–' if value is None else f'{value:.3f}'}"
                         + (f" ({control:+.3f})" if control is not None else "") + f" [{n}]")
        lines.append(f"{name:<{width}}" + "".join(f"{c:>26}" for c in cells))
    return "\n".join(lines)
