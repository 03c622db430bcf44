"""What every page shares around its content: CSS and presentation mode, the sidebar, the page header,
figure display, and the error guard."""

from __future__ import annotations

import contextlib
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError

from . import active_run, keys, links, saved_runs, state

APP_FILE = Path(__file__).resolve().parents[1] / "app.py"
_inside_app = threading.local()  # per script thread: is app.py running the page now?

# Both modes: labels and metric titles wrap instead of ending in "..."; a segmented control wraps its
# options onto a second line rather than cutting the last one off in a narrow column.
SHARED_CSS = """
.stApp [data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"], .stApp [data-testid="stMetricLabel"] p,
.stApp [data-testid="stWidgetLabel"] p { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
.stApp [data-testid="stButtonGroup"] [role="radiogroup"] { flex-wrap: wrap; row-gap: 0.3rem; }
"""
# The root font grows (every rem-sized part of Streamlit with it); paddings are reset so that the larger
# rem does not eat the width that the figures need.
PRESENTATION_CSS = """<style>
html, body, .stApp { font-size: 21px; }
.stApp h1 { font-size: 2.9rem !important; }
.stApp h2 { font-size: 2.1rem !important; }
.stApp h3 { font-size: 1.6rem !important; }
.stApp [data-testid="stMarkdownContainer"] p, .stApp li { font-size: 1.25rem; line-height: 1.5; }
.stApp [data-testid="stCaptionContainer"] { font-size: 1.15rem; color: #333; }
.stApp [data-testid="stMetricValue"] p { font-size: 3.2rem !important; line-height: 1.15; }
.stApp [data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stSidebar"] { min-width: 300px; max-width: 300px; }
.stApp .stProgress p { font-size: 1.2rem; }
.stApp label p { font-size: 1.15rem !important; }
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none; }
.stApp [data-testid="stMainBlockContainer"] { padding: 1.2rem 1.6rem 3rem; max-width: 100%; }
""" + SHARED_CSS + "</style>"
BASE_CSS = """<style>
.block-container { padding-top: 2.2rem; }
.stApp [data-testid="stCaptionContainer"] { font-size: 0.95rem; color: #3d4450; }
""" + SHARED_CSS + "</style>"


def presentation_toggle() -> bool:
    on = st.sidebar.toggle("Presentation mode", key=links.key(keys.PRESENT, options=[False, True]),
                           help="Large fonts and figures, fewer controls: for a projector.")
    st.markdown(PRESENTATION_CSS if on else BASE_CSS, unsafe_allow_html=True)
    return on


def sidebar_status() -> tuple[state.FileKey, state.FileKey] | None:
    """What the user is looking at, on every page; returns (run key, recording key) in use, if any."""
    with guard():
        data_key = state.active_data_key()
        summary = state.summary(data_key)
        st.sidebar.caption("Recording")
        st.sidebar.markdown(f"**{summary.get('name') or Path(data_key[0]).name}**  \n"
                            f"{summary['n_neurons']:,} neurons · {summary['n_images']:,} images")
        found = active_run.active(data_key)
        st.sidebar.caption("Model")
        if found is None:
            st.sidebar.markdown("*none in use yet*")
        else:
            run, how = found
            run_key = state.file_key(Path(run["path"]) / "model.pt")
            st.sidebar.markdown(f"**{saved_runs.run_label(run_key)}**{'' if how == 'chosen' else ' (default)'}  \n"
                                f"{active_run.describe(run, data_key)}")
            return run_key, data_key
    return None


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a DinaError's message (naming the file and field) instead of a traceback."""
    try:
        yield
    except DinaError as exc:
        st.error(str(exc), icon=":material/error:")


def show(fig, caption: str, key: str | None = None) -> None:
    """A figure with the caption that says which question it answers (kept for "Pin this view")."""
    st.session_state.setdefault(keys.SHOWN, []).append((fig, caption))
    st.plotly_chart(fig, key=key, config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})
    st.caption(caption)


@contextlib.contextmanager
def running_page() -> Iterator[None]:
    """app.py runs the chosen page inside this: ``page_header`` knows the sidebar and links are in place."""
    _inside_app.active = True
    try:
        yield
    finally:
        _inside_app.active = False


def page_header(title: str, question: str) -> None:
    """Every page's first call: its title and the one question it answers.

    Streamlit runs a ``pages/`` file alone (its legacy multipage mode) when a server's first request is a page's
    URL (a link, a bookmark) and in AppTest's ``switch_page``; the page then runs app.py, which draws the sidebar
    and runs this page again inside it, and this run ends there.
    """
    if not getattr(_inside_app, "active", False):
        runpy.run_path(str(APP_FILE), run_name="__main__")
        st.stop()
    st.title(title)
    st.markdown(f"*{question}*")


def figure_columns(spec: int | list[float]) -> list:
    """Columns for figures side by side; in presentation mode each gets the full width, one under the other
    (``with`` blocks fill them in order), so a projected figure is never squeezed into half a slide."""
    if state.presenting():
        return [st.container() for _ in range(spec if isinstance(spec, int) else len(spec))]
    return st.columns(spec)
