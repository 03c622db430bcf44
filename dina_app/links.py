"""Every view has a link: the recording, the run and the page's choices live in the URL (``st.query_params``).

The page is the URL's path (``/feature_maps``); its query holds ``rec`` (the recording: ``demo``, or its path
inside the data folder), ``run`` (the model: its name in the run list, ``saved_runs.list_runs``) and one
parameter per view widget, named by the widget's key (``maps.image=3``). A page names its view widgets by
passing ``key=links.key("maps.image", lo=0, hi=n - 1)``: the URL value is checked against the widget's range or
options and, when valid, becomes the widget's value; when not, the page opens with its default and a one-line
notice of what could not be restored (``notices``), never an exception. After the page ran, ``publish`` writes
the view back into the URL, so the address bar, "Copy link" and a pinned view always hold the view on screen.

A URL value is applied once: when it differs from the value last restored or published in this session
(``keys.LINK_APPLIED``), or when its widget has no state (Streamlit drops a widget's state while another page
shows). A widget the user moves is therefore never pulled back by the URL, while a link opened in a new
session, or a deck switching to a pinned view (``forget_applied``, then ``st.switch_page(query_params=...)``),
restores its view.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from dina_core.errors import DinaError
from dina_core.paths import is_inside

from . import active_run, keys, state

RECORDING, RUN, DEMO = "rec", "run", "demo"
MAX_VALUE_CHARS = 200  # a longer URL value is refused unread: no option or number is this long


def begin() -> None:
    """Start a script run: forget the previous run's view keys, notices and figures."""
    st.session_state[keys.LINK_KEYS] = {}
    st.session_state[keys.LINK_NOTICES] = []
    st.session_state[keys.SHOWN] = []


def encode(value) -> str:
    """A widget value as URL text: ints plainly, floats to 6 significant digits, booleans 1/0, lists by commas."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(encode(v) for v in value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, np.integer):
        return str(int(value))
    return "" if value is None else str(value)


def notice(text: str) -> None:
    st.session_state.setdefault(keys.LINK_NOTICES, []).append(text)


def notices() -> list[str]:
    """What this script run could not restore from the URL, one line each."""
    return list(st.session_state.get(keys.LINK_NOTICES, []))


def _new_value(name: str, missing: bool = False) -> str | None:
    """The URL's value of ``name`` when it is new to this session (see the module doc) or ``missing`` (a widget
    whose state Streamlit dropped while another page showed), else None."""
    raw = st.query_params.get(name)
    applied = st.session_state.setdefault(keys.LINK_APPLIED, {})
    if raw is None or (applied.get(name) == raw and not missing):
        return None
    applied[name] = raw
    return raw


def forget_applied() -> None:
    """Make the next run apply every URL value (before switching to a view: a deck's next slide, say)."""
    st.session_state[keys.LINK_APPLIED] = {}


def _parse(raw: str, options: Sequence | None, lo, hi, multi: bool):
    """The widget value that ``raw`` names; ValueError saying what was expected otherwise."""
    if len(raw) > MAX_VALUE_CHARS:
        raise ValueError(f"a value of {len(raw)} characters")
    if options is not None:
        by_text = {encode(o): o for o in options}
        wanted = raw.split(",") if multi else [raw]
        if multi and raw == "":
            return []
        unknown = [w for w in wanted if w not in by_text]
        if unknown:
            shown = ", ".join(list(by_text)[:8]) + (", ..." if len(by_text) > 8 else "")
            raise ValueError(f"one of {shown}")
        return [by_text[w] for w in wanted] if multi else by_text[raw]
    integral = isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer))
    try:
        value = int(raw) if integral else float(raw)
    except ValueError:
        raise ValueError(f"{'a whole number' if integral else 'a number'} from {lo} to {hi}") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"a number from {lo} to {hi}")
    return value


def key(name: str, *, options: Sequence | None = None, lo=None, hi=None, multi: bool = False) -> str:
    """Register widget key ``name`` as part of this page's view and restore it from the URL; returns ``name``.

    Give the widget's ``options`` (a selectbox, segmented control, select slider, toggle: ``[False, True]``;
    ``multi`` for a multiselect, whose URL value joins its choices by commas) or its range ``lo``..``hi``
    (a slider: ints for a whole-number slider). Call it just before the widget, as its ``key=``.
    """
    st.session_state.setdefault(keys.LINK_KEYS, {})[name] = None
    raw = _new_value(name, missing=name not in st.session_state)
    if raw is None:
        return name
    try:
        st.session_state[name] = _parse(raw, options, lo, hi, multi)
    except ValueError as exc:
        notice(f"{name}={raw[:40]!r} could not be restored: expected {exc}; showing the default instead.")
    return name


def hidden(name: str, default, **spec):
    """The value of a control a page hides (in presentation mode): the view's own, from its link or from this
    session, else ``default``. Registered like ``key`` (``spec``: its options or range), so the view keeps it in
    its URL: a view pinned with its advanced settings presents with them."""
    key(name, **spec)
    return st.session_state.get(name, default)


def recording_param(data_key: state.FileKey) -> str:
    """``rec``'s value for a recording: ``demo``, or its path relative to the data folder."""
    if state.is_demo(data_key):
        return DEMO
    path = Path(data_key[0])
    return str(path.relative_to(state.data_dir())) if path.is_relative_to(state.data_dir()) else str(path)


def restore_context() -> None:
    """Apply a new ``rec`` and ``run`` from the URL (before the sidebar reads them); notices for what is gone."""
    raw = _new_value(RECORDING)
    if raw == DEMO:
        if st.session_state.pop(keys.DATA, None) is not None:
            st.session_state.pop(keys.RUN, None)
    elif raw is not None:
        try:
            path = state.data_dir() / raw
            if len(raw) > 1000 or not is_inside(state.data_dir(), path) or not path.is_file():
                raise DinaError(f"{raw[:80]!r} is not a recording in the data folder {state.data_dir()}")
            state.summary(state.file_key(path))  # a broken file is reported here, never made active
            if st.session_state.get(keys.DATA) != str(path.resolve()):
                state.set_active_data(path)
        except DinaError as exc:
            notice(f"The link's recording could not be opened: {exc}. Showing {_current_recording()} instead.")
    raw = _new_value(RUN)
    if raw is not None:
        try:
            path = run_path(state.active_data_key(), raw)
        except DinaError:
            path = None
        if path is not None:
            st.session_state[keys.RUN] = path  # this session only
        else:
            notice(f"The link's model {raw[:80]!r} is not a saved model of this recording; using the model in "
                   "the sidebar instead.")


def run_path(data_key: state.FileKey, name: str) -> str | None:
    """The folder of the saved model of this recording that a link names ``run=name``, or None."""
    found = [r for r in active_run.compatible_runs(data_key) if r["name"] == name]
    return str(Path(found[0]["path"]).resolve()) if found else None


def _current_recording() -> str:
    return Path(st.session_state.get(keys.DATA) or "the demo").name


def view_params() -> dict[str, str]:
    """The view on screen as URL parameters: recording, run, then every registered widget's value."""
    params: dict[str, str] = {}
    try:
        data_key = state.active_data_key()
        params[RECORDING] = recording_param(data_key)
        found = active_run.active(data_key)
        if found is not None:
            params[RUN] = found[0]["name"]
    except DinaError:  # a recording gone since: the link holds the page's choices only
        pass
    for name in st.session_state.get(keys.LINK_KEYS, {}):
        value = st.session_state.get(name)
        if value is not None:
            params[name] = encode(value)
    return params


def publish() -> dict[str, str]:
    """Write the view on screen into the URL (only when it changed); returns its parameters."""
    params = view_params()
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state.setdefault(keys.LINK_APPLIED, {}).update(params)
    return params


def url(params: dict[str, str], page: str) -> str:
    """The full link to the view on screen: the app's address, this page (a ``pages/`` file stem) and ``params``."""
    here = st.context.url or "http://localhost:8501/"  # this page's address, without its query
    root = here.rsplit("/", 1)[0] + "/" if page != "data" and not here.endswith("/") else here.rstrip("/") + "/"
    return root + ("" if page == "data" else page) + ("?" + urllib.parse.urlencode(params) if params else "")
