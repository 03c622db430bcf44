"""Widgets for a config dataclass's fields, labelled by the field names and explained by their ``help`` metadata."""

from __future__ import annotations

import typing
from dataclasses import MISSING, Field, fields

import streamlit as st

from . import state


def _default(f: Field):
    return f.default if f.default is not MISSING else f.default_factory()


def _element_type(cls: type, f: Field, default: tuple) -> type:
    """What a tuple field holds, from its annotation (``tuple[float, ...]``: float), so an empty default still
    types what is typed; the default's first element (else str) when the annotation says nothing."""
    try:
        hint = typing.get_type_hints(cls).get(f.name)
    except (NameError, TypeError):  # an annotation that does not evaluate
        hint = None
    for candidate in (hint, *typing.get_args(hint)):  # the tuple itself, or the tuple in ``tuple[...] | None``
        if typing.get_origin(candidate) is tuple:
            args = [a for a in typing.get_args(candidate) if a is not Ellipsis]
            if args and all(a is args[0] for a in args) and isinstance(args[0], type):
                return args[0]
    return type(default[0]) if default else str


def device_choices(saved: str) -> tuple[list[str], str | None]:
    """(options, note) of the device field: 'auto', 'cpu' and this machine's devices (each ``cuda:N``, ``mps``).

    A ``saved`` value that is none of them (a tuning's setting, a run from another machine) stays an option,
    last; the note then says why training on it would be refused, when it would.
    """
    import torch  # here, not at the top: the Train page loads PyTorch under a spinner of its own

    from dina_core.model.device import DeviceError, resolve_device

    options = ["auto", "cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        options.append("mps")
    if saved in options:
        return options, None
    try:
        resolve_device(saved)
        note = None
    except DeviceError as exc:
        note = f"{saved!r} is kept from the saved settings, but {exc.reason}: choose another device to train here"
    return [*options, saved], note


def dataclass_form(cls: type, key: str, basic: tuple[str, ...], values: dict | None = None) -> dict:
    """Inputs for a config dataclass's fields; each widget's help is the field's ``metadata["help"]``.

    Fields in ``basic`` are shown directly, the rest in an "Advanced" expander (hidden, at their
    defaults, in presentation mode). Tuples are typed as comma-separated lists of the type the field's
    annotation names (``tuple[float, ...]``: ``1, 2, 1`` -> (1.0, 2.0, 1.0)). A ``device`` field offers the
    devices of this machine (``device_choices``). Widget keys are ``{key}.{field name}``. Returns {field: value}.
    """
    out = {}
    advanced = [f for f in fields(cls) if f.name not in basic]
    boxes = [(st.container(), [f for f in fields(cls) if f.name in basic])]
    if advanced and not state.presenting():
        boxes.append((st.expander("Advanced"), advanced))
    for box, group in boxes:
        for f in group:
            default = (values or {}).get(f.name, _default(f))
            label, k, help_ = f.name.replace("_", " "), f"{key}.{f.name}", f.metadata.get("help") or None
            if isinstance(default, bool):
                out[f.name] = box.checkbox(label, value=default, key=k, help=help_)
            elif isinstance(default, int):
                out[f.name] = int(box.number_input(label, value=default, step=1, key=k, help=help_))
            elif isinstance(default, float):
                out[f.name] = float(box.number_input(label, value=default, format="%.4g", key=k, help=help_,
                                                     step=max(abs(default) / 10, 1e-4)))
            elif isinstance(default, tuple):
                kind = _element_type(cls, f, default)
                text = box.text_input(label, value=", ".join(map(str, default)), key=k, help=help_)
                try:
                    out[f.name] = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
                except ValueError:
                    box.error(f"{label}: expected a comma-separated list of {kind.__name__} values")
                    out[f.name] = default
            elif f.name == "device":
                options, note = device_choices(str(default))
                out[f.name] = box.selectbox(label, options, index=options.index(str(default)), key=k, help=help_)
                if note:
                    box.caption(note)
            else:
                out[f.name] = box.text_input(label, value=str(default), key=k, help=help_)
    for f in advanced if state.presenting() else []:
        out[f.name] = _default(f)
    return out
