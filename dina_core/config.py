"""What every config dataclass shares (model, training, simulator, traces): the JSON round trip, and
``why``, a field that carries its one-line reason as ``metadata["help"]``."""

from __future__ import annotations

from dataclasses import asdict, field, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="DictConfig")


def why(default: Any, reason: str) -> Any:
    """A dataclass field whose default is ``default`` and whose ``metadata["help"]`` says why it exists.

    The app labels a config form's widgets with it, so the reason is written once, next to the field.
    """
    return field(default=default, metadata={"help": reason})


class DictConfig:
    """Mixin for dataclasses: ``to_dict`` and a ``from_dict`` that names unknown fields."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], values: dict) -> T:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
        return cls(**values)
