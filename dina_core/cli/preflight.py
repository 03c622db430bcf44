"""Everything the command line can check before any expensive work: paths, config files, option values.

Each check raises DinaError naming the option (or argument), the value, what is wrong and what was
expected, so ``dina benchmark --out FILE`` fails in a moment instead of after an hour of training.
The value checks themselves live in the config dataclasses (the app's forms run the same ones);
here they are only attributed to the option or the config file they came from.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

from ..config import ConfigError, UnknownFieldError
from ..errors import DinaError
from ..importers.traces.config import TraceConfig
from ..runs.config import TrainConfig

TRAIN_OPTIONS = ("epochs", "device", "seed", "batch_size", "lr")  # TrainConfig fields that have an option
CONFIG_LAYOUT = '{"model": {...}, "train": {...}}'
DATA_FILE = "an existing DINA dataset file (.h5)"  # what every command's data-file argument expects


def option(name: str) -> str:
    """A field name as its command-line option: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def input_file(path: str, what: str, expected: str) -> Path:
    """``path`` is an existing regular file this process may read (not a folder, FIFO or device)."""
    p = Path(path)
    if not p.exists():
        raise DinaError(f"{what} {path}: no such file; expected {expected}")
    if p.is_dir():
        raise DinaError(f"{what} {path}: is a folder; expected {expected}")
    if not p.is_file():
        raise DinaError(f"{what} {path}: is not a regular file (a pipe or device); expected {expected}")
    if not os.access(p, os.R_OK):
        raise DinaError(f"{what} {path}: permission denied; expected {expected} you may read")
    return p


def input_path(path: str, what: str, expected: str) -> Path:
    """``path`` exists and may be read: a regular file or a folder."""
    p = Path(path)
    if not p.exists():
        raise DinaError(f"{what} {path}: no such file or folder; expected {expected}")
    if p.is_dir():
        if not os.access(p, os.R_OK | os.X_OK):
            raise DinaError(f"{what} {path}: permission denied; expected {expected} you may read")
        return p
    return input_file(path, what, expected)


def _writable_folder(folder: Path, what: str, path: str) -> None:
    if not folder.exists():
        raise DinaError(f"{what} {path}: folder {folder} does not exist; expected an existing folder to write into")
    if not folder.is_dir():
        raise DinaError(f"{what} {path}: {folder} is not a folder; expected an existing folder to write into")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DinaError(f"{what} {path}: permission denied in {folder}; expected a folder you may write into")


def output_file(path: str, what: str, inputs: tuple[str | None, ...] = (), overwrite: bool | None = None) -> Path:
    """``path`` can be written as a file: its folder exists and is writable, it is not a folder, not an input,
    and, unless ``overwrite`` is true or None (a report that is always rewritten), not an existing file."""
    p = Path(path)
    if p.is_dir():
        raise DinaError(f"{what} {path}: is a folder; expected a file name to write")
    _writable_folder(p.absolute().parent, what, path)
    for source in filter(None, inputs):
        if p.exists() and Path(source).exists() and p.resolve() == Path(source).resolve():
            raise DinaError(f"{what} {path}: is the input {source}; expected another file, so the input is kept")
    if overwrite is False and (p.exists() or p.is_symlink()):
        raise DinaError(f"{what} {path}: already exists; pass --overwrite to replace it, or choose another file")
    return p


def output_folder(path: str, what: str) -> Path:
    """``path`` can be a folder to write into: an existing folder, or a new one under a writable folder."""
    p = Path(path).absolute()
    if p.exists() and not p.is_dir():
        raise DinaError(f"{what} {path}: is an existing file; expected a folder (existing or new) to write into")
    existing = p
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise DinaError(f"{what} {path}: {existing} is a file; expected a folder (existing or new) to write into")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DinaError(f"{what} {path}: permission denied in {existing}; expected a folder you may write into")
    return p


def read_config(path: str | None) -> dict:
    """The ``--config`` file as {"model": dict, "train": dict}, or {} without one."""
    if not path:
        return {}
    expected = f"a UTF-8 JSON file {CONFIG_LAYOUT}"
    input_file(path, "--config", expected)
    try:
        raw = json.loads(Path(path).read_bytes().decode("utf-8"))
    except RecursionError:
        raise DinaError(f"--config {path}: JSON nested too deeply to read; expected {expected}") from None
    except UnicodeDecodeError as err:
        raise DinaError(f"--config {path}: byte 0x{err.object[err.start]:02x} at offset {err.start} is not UTF-8 "
                        f"text; expected {expected}") from None
    except json.JSONDecodeError as err:
        raise DinaError(f"--config {path}: not JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
                        f"expected {expected}") from None
    if not isinstance(raw, dict):
        raise DinaError(f"--config {path}: holds a JSON {type(raw).__name__}; expected an object {CONFIG_LAYOUT}")
    unknown = sorted(set(raw) - {"model", "train"})
    if unknown:
        raise DinaError(f"--config {path}: unknown top-level keys {unknown}; expected only 'model' and 'train'")
    for section in ("model", "train"):
        if not isinstance(raw.get(section, {}), dict):
            raise DinaError(f"--config {path}: section '{section}' is a JSON {type(raw[section]).__name__}; "
                            f"expected an object of {section} fields")
    return raw


def _config_error(where: str, err: ValueError) -> DinaError:
    """A config class's ValueError, said from where the value came."""
    if isinstance(err, UnknownFieldError):
        return DinaError(f"{where}: unknown field{'s' if len(err.unknown) > 1 else ''} "
                         f"{', '.join(map(repr, err.unknown))}; valid fields: {', '.join(err.valid)}")
    if isinstance(err, ConfigError):
        return DinaError(f"{where}: field '{err.field}': expected {err.expected}, found {err.found!r}")
    return DinaError(f"{where}: {err}")


def train_config(args, raw: dict) -> TrainConfig:
    """The training config: ``--config``'s train section, then the options given; checked, device included."""
    from ..model.device import DeviceError, resolve_device  # torch: only for commands that train

    where = f"--config {args.config}: section 'train'"
    try:
        config = TrainConfig.from_dict(raw.get("train", {}))
    except ValueError as err:
        raise _config_error(where, err) from None
    given = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k, None) is not None}
    try:
        config = TrainConfig.from_dict({**config.to_dict(), **given})
    except ConfigError as err:
        raise DinaError(f"{option(err.field)} {err.found}: expected {err.expected}") from None
    try:
        resolve_device(config.device)
    except DeviceError as err:
        raise DinaError(f"--device {err.name}: {err.reason}" if "device" in given else f"{where}: {err}") from None
    return config


def model_config(args, raw: dict, kind: str) -> dict | None:
    """``--config``'s model section checked against the fields of ``kind``'s config (None: defaults)."""
    from ..model import MODEL_KINDS

    if "model" not in raw:
        return None
    try:
        return MODEL_KINDS[kind][1].from_dict(raw["model"]).to_dict()
    except ValueError as err:
        raise _config_error(f"--config {args.config}: section 'model' ({kind})", err) from None


def trace_config(args) -> TraceConfig:
    """The importers' trace options as a checked TraceConfig."""
    values = {f.name: getattr(args, f.name) for f in fields(TraceConfig) if getattr(args, f.name) is not None}
    for name, value in values.items():
        if isinstance(value, list):
            try:
                values[name] = None if [v.lower() for v in value] == ["none"] else tuple(float(v) for v in value)
            except ValueError:
                raise DinaError(f"{option(name)} {' '.join(value)}: expected START END in seconds") from None
    try:
        return TraceConfig.from_dict(values)
    except ConfigError as err:
        raise DinaError(f"{option(err.field)} {err.found}: expected {err.expected}") from None


def positive(value: float | None, name: str) -> None:
    """A finite number > 0 (or not given)."""
    if value is not None and not (value > 0 and value != float("inf")):
        raise DinaError(f"{name} {value}: expected a finite number > 0")


def fraction(value: float | None, name: str, *, closed: bool = False) -> None:
    """A number in [0, 1) ([0, 1] when ``closed``), or not given."""
    if value is not None and not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise DinaError(f"{name} {value}: expected a number in [0, {'1]' if closed else '1)'}")
