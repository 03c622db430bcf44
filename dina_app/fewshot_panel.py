"""The Across animals page's few-shot curves: how many trials the next recording needs, with transfer and from
scratch (``dina fewshot``, ``dina_core.fewshot``).

Any folder under the runs folder (one or two levels down) that holds a ``fewshot.json`` is offered. The file is read
only through ``load``: anything but the shape ``dina_core.fewshot.write_fewshot`` gives (a broken or hand-edited
file) is one line naming the file, and the message never quotes the file's content. Its strings are drawn as plain
text (``st.text``, table cells), never as markdown or HTML.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dina_core.errors import DinaError
from dina_core.paths import is_inside

from . import figures as F
from . import state
from .chrome import show

FILE = "fewshot.json"  # dina_core.fewshot.JSON, named here without importing torch
MAX_BYTES = 1_000_000  # a curve of a few dozen budgets is a few kB
ARMS, MODES = ("transfer", "scratch"), ("single_trial", "averaged")


def result_files() -> list[Path]:
    """Few-shot curves under the runs folder, newest first; files reached through a link that leads out of the runs
    folder are left out."""
    root = state.runs_dir()
    found = {f for pattern in (f"*/{FILE}", f"*/*/{FILE}") for f in (root.glob(pattern) if root.is_dir() else [])
             if f.is_file() and is_inside(root, f)}
    return sorted(found, key=lambda f: (f.stat().st_mtime, str(f)), reverse=True)


def _fraction(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _checked(result: object) -> dict:
    """``result`` when it has the shape ``write_fewshot`` gives; ValueError naming the first field that has not."""
    if not isinstance(result, dict):
        raise ValueError("expected a JSON object")
    rows = result.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("field 'rows': expected a non-empty list of objects")
    for i, row in enumerate(rows):
        if not _count(row.get("trials")):
            raise ValueError(f"field 'rows[{i}].trials': expected a whole number of trials, at least 1")
        for arm in ARMS:
            scores = row.get(arm)
            if not isinstance(scores, dict) or not any(m in scores for m in MODES):
                raise ValueError(f"field 'rows[{i}].{arm}': expected an object with a single_trial or averaged top-1")
            for mode in (m for m in MODES if m in scores):
                ci = scores.get(f"ci95_{mode}")
                if not (_fraction(scores[mode]) and isinstance(ci, list) and len(ci) == 2 and all(map(_fraction, ci))):
                    raise ValueError(f"field 'rows[{i}].{arm}.{mode}': expected a top-1 from 0 to 1 and its "
                                     f"ci95_{mode} [low, high]")
        if not isinstance(row["transfer"].get("image_tower", ""), str):
            raise ValueError(f"field 'rows[{i}].transfer.image_tower': expected a string")
    if len({r["trials"] for r in rows}) != len(rows):
        raise ValueError("field 'rows[].trials': each budget once")
    for field in ("source", "recording", "image_tower"):
        if not isinstance(result.get(field, ""), str):
            raise ValueError(f"field '{field}': expected a string")
    if not _count(result.get("test_images")):
        raise ValueError("field 'test_images': expected a whole number of images, at least 1")
    return {**result, "rows": sorted(rows, key=lambda r: r["trials"])}


@st.cache_data(max_entries=16, show_spinner=False)
def load(path: str, stamp: tuple) -> dict:
    """The curve in ``path`` (rows by budget), read again when the file changes (``stamp``: mtime_ns, size).

    Raises:
        DinaError: one line naming the file and the field that is wrong.
    """
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"{size:,} bytes; a few-shot curve is far smaller")
        return _checked(json.loads(Path(path).read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:  # its message names a position, never the content
        why = f"not valid JSON ({exc.msg} at line {exc.lineno})"
    except UnicodeDecodeError:
        why = "not UTF-8 text"
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or type(exc).__name__})"
    except RecursionError:
        why = "JSON nested too deeply"
    except ValueError as exc:  # the size or ``_checked``'s field, never the content
        why = str(exc)
    raise DinaError(f"{path}: not a few-shot curve as `dina fewshot` writes it: {why}")


def _cell(scores: dict, mode: str) -> str:
    if mode not in scores:
        return "–"
    low, high = scores[f"ci95_{mode}"]
    return f"{scores[mode]:.1%} ({low:.0%}–{high:.0%})"


def table(result: dict) -> list[dict]:
    """One row per budget: each arm's top-1 (95% CI) single-trial and averaged, the transfer's image tower."""
    return [{"train trials": r["trials"],
             **{f"{arm} {mode.replace('_', '-')}": _cell(r[arm], mode) for mode in MODES for arm in ARMS},
             "image tower": r["transfer"].get("image_tower", "–")} for r in result["rows"]]


def figure(result: dict, big: bool = False) -> go.Figure:
    """Top-1 against train trials (log axis): transfer solid, scratch dotted, each with its 95% CI band."""
    curves, bands, dashes = {}, {}, {}
    for mode in MODES:
        for arm in ARMS:
            rows = [r for r in result["rows"] if mode in r[arm]]
            if rows:
                name = f"{arm}, {mode.replace('_', '-')}"
                curves[name] = (np.array([r["trials"] for r in rows]), np.array([r[arm][mode] for r in rows]))
                bands[name] = tuple(np.array([r[arm][f"ci95_{mode}"][k] for r in rows]) for k in (0, 1))
                dashes[name] = "solid" if arm == "transfer" else "dot"
    return F.lines(curves, "train trials of the new recording", "neural → image top-1 (test)", big,
                   chance=1 / result["test_images"], log_x=True, dashes=dashes, bands=bands)


def panel() -> None:
    """The chosen (by default the newest) few-shot curve: what it is, its curve and its table."""
    found, root = result_files(), state.runs_dir()
    if not found:
        st.caption("No few-shot curve yet: `dina fewshot NEW.h5 --from RUN --trials 100,250,500 --out "
                   f"{root.name}/NAME` writes one into a folder of the runs folder, and it appears here.")
        return
    by_name = {str(f.relative_to(root).parent): f for f in found}
    name = st.selectbox("Few-shot curve", list(by_name), key="aa.fewshot", help="Folders of the runs folder that "
                        "hold a fewshot.json, newest first") if len(by_name) > 1 else next(iter(by_name))
    try:
        result = load(str(by_name[name]), state.file_key(by_name[name])[1:])
    except DinaError as exc:
        st.warning(f"Few-shot curve {name} cannot be shown: {exc}", icon=":material/warning:")
        return
    st.text(f"{result.get('recording') or 'The new recording'}, started from {result.get('source') or '?'} "
            f"(image tower {result.get('image_tower') or '?'}): top-1 among {result['test_images']} test images")
    show(figure(result, state.presenting()), "How many trials does the next animal need? Neural → image top-1 on the "
         "new recording's test images against the train trials it was given: started from the source run's image "
         "tower (transfer, solid) or from scratch (dotted), single-trial and trial-averaged responses, each with its "
         "95% interval; chance is one in the number of test images.", key="aa.fewshot_fig")
    st.dataframe(table(result), hide_index=True)
