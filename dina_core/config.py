"""The JSON round trip every config dataclass shares (model, training, simulator, traces)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TypeVar

T = TypeVar("T", bound="DictConfig")


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
