"""What every config dataclass shares (model, training, simulator, traces): the JSON round trip, ``why``
(a field that carries its one-line reason as ``metadata["help"]``) and the value checks their
``__post_init__`` run, so the command line and the app's forms refuse the same values with the same words."""

from __future__ import annotations

import math
from dataclasses import asdict, field, fields
from numbers import Integral, Real
from typing import Any, TypeVar

T = TypeVar("T", bound="DictConfig")


class ConfigError(ValueError):
    """A config field holds a value it cannot take; names the class, the field, what was expected and what was found.

    A ValueError, so callers that catch ValueError (the app's forms) keep working.
    """

    def __init__(self, owner: str, field_name: str, expected: str, found: Any):
        self.owner, self.field, self.expected, self.found = owner, field_name, expected, found
        super().__init__(f"{owner} field '{field_name}': expected {expected}, found {found!r}")


def why(default: Any, reason: str) -> Any:
    """A dataclass field whose default is ``default`` and whose ``metadata["help"]`` says why it exists.

    The app labels a config form's widgets with it, so the reason is written once, next to the field.
    """
    return field(default=default, metadata={"help": reason})


def _bound(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    def number(v: float) -> str:
        return str(v) if isinstance(v, int) else f"{v:g}"
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {number(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {number(hi)}")
    return " and ".join(parts)


def _in_range(value: float, lo, hi, lo_open: bool, hi_open: bool) -> bool:
    return ((lo is None or (value > lo if lo_open else value >= lo))
            and (hi is None or (value < hi if hi_open else value <= hi)))


def check_int(config: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """Check that field ``name`` of ``config`` is an integer in [lo, hi] and store it as ``int``."""
    value = getattr(config, name)
    expected = " ".join(filter(None, ("an integer", _bound(lo, hi, False, False))))
    if isinstance(value, bool) or not isinstance(value, Integral) or not _in_range(value, lo, hi, False, False):
        raise ConfigError(type(config).__name__, name, expected, value)
    setattr(config, name, int(value))
    return int(value)


def check_float(config: Any, name: str, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """Check that field ``name`` is a finite number in the given range (open ends when asked) and store it as ``float``."""
    value = getattr(config, name)
    expected = " ".join(filter(None, ("a finite number", _bound(lo, hi, lo_open, hi_open))))
    if (isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
            or not _in_range(value, lo, hi, lo_open, hi_open)):
        raise ConfigError(type(config).__name__, name, expected, value)
    setattr(config, name, float(value))
    return float(value)


def check_bool(config: Any, name: str) -> bool:
    """Check that field ``name`` is true or false (not 0/1, not a string)."""
    value = getattr(config, name)
    if not isinstance(value, bool):
        raise ConfigError(type(config).__name__, name, "true or false", value)
    return value


def check_tuple(config: Any, name: str, length: int | None = None, kind: type = float,
                lo: float | None = None, lo_open: bool = False) -> tuple:
    """Check that field ``name`` is a sequence (of ``length`` items, when given) of ``kind`` values >= lo
    (> lo when ``lo_open``); store it as a tuple."""
    value = getattr(config, name)
    noun = "integers" if kind is int else "finite numbers"
    expected = " ".join(filter(None, (f"a list of {length or 'one or more'} {noun}", _bound(lo, None, lo_open, False))))
    items = list(value) if isinstance(value, (list, tuple)) else None
    ok = items is not None and (len(items) == length if length else len(items) > 0)
    for item in items or []:
        if isinstance(item, bool) or not isinstance(item, Integral if kind is int else Real):
            ok = False
        elif kind is not int and not math.isfinite(item):
            ok = False
        elif not _in_range(item, lo, None, lo_open, False):
            ok = False
    if not ok:
        raise ConfigError(type(config).__name__, name, expected, value)
    result = tuple(kind(item) for item in items)
    setattr(config, name, result)
    return result


class DictConfig:
    """Mixin for dataclasses: ``to_dict`` and a ``from_dict`` that names unknown fields and lists the valid ones."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], values: dict) -> T:
        if not isinstance(values, dict):
            raise ConfigError(cls.__name__, "<all>", "an object of fields", values)
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise UnknownFieldError(cls.__name__, unknown, valid)
        return cls(**values)


class UnknownFieldError(ValueError):
    """``from_dict`` got field names the config does not have."""

    def __init__(self, owner: str, unknown: list[str], valid: list[str]):
        self.owner, self.unknown, self.valid = owner, unknown, valid
        super().__init__(f"unknown {owner} field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"valid fields: {', '.join(valid)}")
