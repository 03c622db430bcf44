"""Widgets for a config dataclass's fields, labelled by the field names and explained by their ``help`` metadata."""

from __future__ import annotations

from dataclasses import MISSING, Field, fields

import streamlit as st

from . import state


def _default(f: Field):
    return f.default if f.default is not MISSING else f.default_factory()


def dataclass_form(cls: type, key: str, basic: tuple[str, ...], values: dict | None = None) -> dict:
    """Inputs for a config dataclass's fields; each widget's help is the field's ``metadata["help"]``.

    Fields in ``basic`` are shown directly, the rest in an "Advanced" expander (hidden, at their
    defaults, in presentation mode). Tuples are typed as comma-separated lists. Widget keys are
    ``{key}.{field name}``. Returns {field: value}.
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
                kind = type(default[0]) if default else str
                text = box.text_input(label, value=", ".join(map(str, default)), key=k, help=help_)
                try:
                    out[f.name] = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
                except ValueError:
                    box.error(f"{label}: expected a comma-separated list of {kind.__name__} values")
                    out[f.name] = default
            elif f.name == "device":
                out[f.name] = box.selectbox(label, ["auto", "cpu", "cuda"], key=k, help=help_)
            else:
                out[f.name] = box.text_input(label, value=str(default), key=k, help=help_)
    for f in advanced if state.presenting() else []:
        out[f.name] = _default(f)
    return out
