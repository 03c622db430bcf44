"""The estimator's flat settings: every field of the model kind's config and of ``TrainConfig`` by name.

``DINA(epochs=10, trunk_dim=128)`` routes each keyword to the dataclass that owns it, so one
parameter grid can mix architecture and training settings, and ``get_params`` lists them all with
their defaults, as scikit-learn's ``clone`` expects. The dataclasses stay the one home of each
setting's default, check and reason (``metadata["help"]``).
"""

from __future__ import annotations

from dataclasses import MISSING, Field, fields

from ..config import ConfigError, UnknownFieldError
from ..errors import DinaError
from ..model import MODEL_KINDS
from ..runs.config import TrainConfig

ESTIMATOR_PARAMS = ("kind", "ensemble")  # the estimator's own parameters, beside the config fields


def _default(f: Field):
    return f.default if f.default is not MISSING else f.default_factory()


def model_fields(kind: str) -> tuple[Field, ...]:
    """The config fields of model ``kind`` ('dina' | 'linear')."""
    if kind not in MODEL_KINDS:
        raise DinaError(f"kind {kind!r}: expected one of {', '.join(sorted(MODEL_KINDS))}")
    return fields(MODEL_KINDS[kind][1])


def defaults(kind: str) -> dict:
    """{setting: default} of ``kind``'s model config and of ``TrainConfig``, as declared (before checks)."""
    return {f.name: _default(f) for f in (*model_fields(kind), *fields(TrainConfig))}


def check_names(kind: str, names) -> None:
    """Refuse setting names that neither ``kind``'s model config nor ``TrainConfig`` has, listing the valid ones."""
    valid = [*ESTIMATOR_PARAMS, *defaults(kind)]
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise DinaError(f"DINA: unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"for kind {kind!r}; valid settings: {', '.join(valid)}")


def split(kind: str, settings: dict) -> tuple[dict, TrainConfig]:
    """(model config dict, TrainConfig) from flat ``settings``, each value checked by its dataclass.

    Raises:
        DinaError: naming the setting, what it must be and what it is.
    """
    check_names(kind, settings)
    model_names = {f.name for f in model_fields(kind)}
    model = {k: v for k, v in settings.items() if k in model_names}
    train = {k: v for k, v in settings.items() if k not in model_names and k not in ESTIMATOR_PARAMS}
    config_cls = MODEL_KINDS[kind][1]
    try:
        model_config = config_cls.from_dict(model).to_dict()
        train_config = TrainConfig.from_dict(train)
    except ConfigError as err:
        raise DinaError(f"DINA setting {err.field!r}: expected {err.expected}, found {err.found!r}") from None
    except UnknownFieldError as err:  # unreachable after check_names; kept so no ValueError escapes as a traceback
        raise DinaError(str(err)) from None
    return model_config, train_config


def settings_doc(kind: str = "dina") -> str:
    """One line per setting (name, default, reason), for the estimator's docstring."""
    groups = (("Model settings", model_fields(kind)), ("Training settings", fields(TrainConfig)))
    lines = []
    for title, group in groups:
        lines += ["", f"    {title} (kind={kind!r}):"]
        lines += [f"        {f.name} = {_default(f)!r}: {f.metadata.get('help', '')}" for f in group]
    return "\n".join(lines)


def same_setting(a, b) -> bool:
    """Equal as settings: a list and a tuple of the same values are the same setting."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b
