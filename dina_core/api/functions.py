"""The API's plain functions: recordings in (load, simulate_recording, importers), the analyses and benchmark out.

Each is the function the CLI command of the same name (``simulate_recording``: ``dina simulate``,
``run_benchmark``: ``dina benchmark``; ``dina_core.simulate`` and ``dina_core.benchmark`` are modules) runs, with the same checks and one-line
``DinaError`` messages; files are written atomically and an existing file is never replaced unless
``overwrite=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..data.format import DinaData
from ..errors import DinaError
from ..progress import Progress
from .arrays import as_recording

SIZES = ("demo", "small")


def load(path: str | os.PathLike) -> DinaData:
    """Read and validate a DINA dataset file (``.h5``): images (n_images, H, W), responses (n_trials, n_neurons),
    image_index and tier per trial, behaviour, neurons and, for simulated data, ground truth."""
    from ..data.io import read_dataset
    return read_dataset(path)


def _refuse_existing(out: str | os.PathLike, overwrite: bool) -> None:
    path = Path(out)
    if path.is_dir():
        raise DinaError(f"{path}: is a folder; expected the path of a .h5 file to write")
    if path.exists() and not overwrite:
        raise DinaError(f"{path}: already exists; pass overwrite=True to replace it, or choose another file")


def simulate_recording(out: str | os.PathLike | None = None, *, size: str = "demo", seed: int | None = None,
             n_neurons: int | None = None, overwrite: bool = False) -> DinaData:
    """A simulated V1 recording with ground truth (``dina simulate``), written to ``out`` when given.

    Args:
        out: ``.h5`` file to write (atomically), or None to keep it in memory only.
        size: 'demo' (the app's demo: 1,000 neurons, 2,850 images) or 'small' (200 neurons; seconds to train).
        seed, n_neurons: override the size's simulator settings.
        overwrite: replace an existing ``out``.
    """
    from ..config import ConfigError
    from ..simulate import DEMO_CONFIG, SimConfig, simulate_recording as simulate_config
    if size not in SIZES:
        raise DinaError(f"simulate: size {size!r}: expected one of {', '.join(SIZES)}")
    if out is not None:
        _refuse_existing(out, overwrite)
    base = SimConfig.small() if size == "small" else DEMO_CONFIG
    overrides = {k: v for k, v in {"seed": seed, "n_neurons": n_neurons}.items() if v is not None}
    try:
        data = simulate_config(SimConfig.from_dict({**base.to_dict(), **overrides}))
    except ConfigError as err:
        raise DinaError(f"simulate: {err.field} {err.found!r}: expected {err.expected}") from None
    if out is not None:
        from ..data.format import write_dataset
        write_dataset(out, data)
    return data


def import_sensorium(src: str | os.PathLike, out: str | os.PathLike, *, final_test: str = "drop",
                     overwrite: bool = False, progress: Progress | None = None) -> DinaData:
    """Convert a Sensorium / neuralpredictors static folder (or its ``.zip``) into ``out``; returns it read back.

    See :func:`dina_core.importers.sensorium.import_sensorium` for the layout read and ``final_test``.
    """
    from ..importers.sensorium import import_sensorium as run_import
    _refuse_existing(out, overwrite)
    return load(run_import(src, out, final_test=final_test, progress=progress))


def import_suite2p(folder: str | os.PathLike, out: str | os.PathLike, *, stimuli: str | os.PathLike,
                   images: str | os.PathLike, overwrite: bool = False, **options) -> DinaData:
    """Convert suite2p output + a stimulus table + images into ``out``; returns it read back.

    ``options`` are those of :func:`dina_core.importers.suite2p.import_suite2p` (``config``: a
    ``TraceConfig``, ``iscell_threshold``, ``um_per_pixel``, the table's column names, ``progress``).
    """
    from ..importers.suite2p import import_suite2p as run_import
    _refuse_existing(out, overwrite)
    return load(run_import(folder, out, stimuli=stimuli, images=images, **options))


def import_nwb(path: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False, **options) -> DinaData:
    """Convert an NWB 2.x ophys file into ``out``; returns it read back (needs ``pip install pynwb``).

    ``options`` are those of :func:`dina_core.importers.nwb.import_nwb` (``config``, ``series``, ``table``,
    ``image_column``, ``tier_column``, ``images``, ``um_per_pixel``, ``progress``).
    """
    from ..importers.nwb import import_nwb as run_import
    _refuse_existing(out, overwrite)
    return load(run_import(path, out, **options))


def analyze(model, recording, *, allow_other_data: bool = False, progress: Progress | None = None,
            **config) -> dict:
    """The interpretability summary of ``dina analyze``, as plain data (see :mod:`dina_core.interpret.analyze`).

    Args:
        model: a fitted :class:`~dina_core.api.estimator.DINA` (an ensemble is analysed through its first
            member, as the CLI does) or a ``Run``.
        recording: the recording it was trained on (``DinaData`` or path); its test tier is analysed.
        allow_other_data: analyse another recording (the result's ``data_check`` then says so).
        progress: ``progress(done, total, stage)`` (``done`` counts within ``stage``: see ``dina_core.progress``).
        **config: fields of :class:`~dina_core.interpret.analyze.AnalyzeConfig` (e.g. ``random_draws=5``).

    Returns:
        {'full_top1', 'chance_top1', 'structure_probes', 'pruning', 'smallest_subset_90', 'interactions',
        'alignment_regions', 'ground_truth' (simulated data), 'data_check', ...}: JSON-ready.
    """
    from dataclasses import fields

    from ..data.fingerprint import recording_identity
    from ..interpret.analyze import AnalyzeConfig, analyze as run_analyze
    from ..runs.data_check import check_same_data
    from ..runs.ensemble import first_member
    from .scores import OTHER_DATA_HINT
    run = getattr(model, "run_", model)
    if not hasattr(run, "preprocessing"):
        raise DinaError(f"analyze: expected a fitted DINA estimator or a Run, found {type(model).__name__}")
    data, path = as_recording(recording, "analyze")
    check = check_same_data(run.metadata, recording_identity(data), source=path or "analyze: recording",
                            allow_other=allow_other_data, hint=OTHER_DATA_HINT)
    valid = [f.name for f in fields(AnalyzeConfig)]
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise DinaError(f"analyze: unknown setting(s) {unknown}; valid settings: {', '.join(valid)}")
    summary = run_analyze(first_member(run), data, config=AnalyzeConfig(**config), progress=progress)
    return {**summary, "data_check": check.to_dict()}


def run_benchmark(recording, out: str | os.PathLike, *, models: tuple[str, ...] | None = None, ensemble: int = 1,
              settings: dict | None = None, on_step=None, on_model=None) -> dict:
    """DINA beside every baseline on one split (``dina benchmark``); writes ``out/metrics.json`` and ``.md``.

    Args:
        recording: ``DinaData`` or path.
        out: the benchmark's folder (its model folders are its own: a rerun replaces them).
        models: a subset of :data:`dina_core.benchmark.ALL_MODELS` (default: all).
        ensemble: the ``dina`` row as a seed ensemble of this many runs.
        settings: estimator settings (as ``DINA(**settings)``) for the ``dina`` row and its null.
        on_step, on_model: progress callbacks of :func:`dina_core.benchmark.run_benchmark`.

    Returns:
        {'n_candidates', 'rows': [{'model', 'direction', 'responses', 'top1', 'ci95_top1', 'fraction_of_ceiling',
        ...}], 'per_level', 'seconds', ...}.
    """
    from ..benchmark import ALL_MODELS, run_benchmark as run_models
    from .settings import split
    data, _ = as_recording(recording, "benchmark")
    chosen = tuple(models or ALL_MODELS)
    unknown = [m for m in chosen if m not in ALL_MODELS]
    if unknown:
        raise DinaError(f"benchmark: unknown models {unknown}; choose from {list(ALL_MODELS)}")
    model_config, train_config = split("dina", dict(settings or {}))
    return run_models(data, out, train_config=train_config, model_config=model_config, ensemble=ensemble,
                         models=chosen, on_step=on_step, on_model=on_model)


def validate_model(recording, models, out: str | os.PathLike, *, layers: str | list[str] = "all",
                   dina=None, settings: dict | None = None, cache: str | os.PathLike | None = None, **options) -> dict:
    """Which layer of a vision network aligns with this recording's V1 (``dina validate-model``); writes
    ``out/validation.json``, ``.md`` and the layer profile.

    Args:
        recording: ``DinaData`` or path.
        models: one spec or a list: 'torchvision:resnet18', 'torchscript:net.pt', 'python:mylab.nets:v1',
            'dina:RUN', or (spec, weights file) pairs for torchvision.
        layers: 'all' (stage-level layers) or names, as the network names its modules.
        dina: the ``dina`` reference: a fitted :class:`DINA` or a run folder trained on this recording (None: no row).
        settings: the neural towers' training (``TrainConfig`` fields by name: ``epochs``, ``seed``, ...).
        cache: feature-cache folder (None: none).
        options: ``grid`` (gh, gw), ``channels``, ``input_channels``, ``input_size``, ``joint`` of
            :func:`dina_core.model_validation.validate_models`.

    Returns:
        validation.json's dict: 'rows', 'control', 'dina', 'pixel', 'ceiling', 'best', ...
    """
    from ..model_validation import parse_spec, validate_models
    from ..runs.config import TrainConfig
    from ..runs.run import load_run
    data, _ = as_recording(recording, "validate_model")
    entries = [models] if isinstance(models, (str, tuple)) else list(models)
    specs = [parse_spec(*entry) if isinstance(entry, tuple) else parse_spec(entry) for entry in entries]
    try:
        train_config = TrainConfig(**dict(settings or {}))
    except TypeError as exc:
        raise DinaError(f"validate_model: settings: {exc}") from None
    run = dina._run() if hasattr(dina, "_run") else (load_run(dina) if dina is not None else None)
    return validate_models(data, specs, out, layers=layers, train_config=train_config, dina_run=run,
                           cache_dir=cache, **options)
