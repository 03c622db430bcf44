"""A deck as the offline HTML report and as one PNG per pinned figure, in deck order (no Streamlit).

The HTML inlines plotly.js once (opens without a network), like ``report.build_html``; each view gets its title,
caption, provenance (recording and fingerprint, run, the view's settings, when it was pinned) and the figures it
showed when pinned. Every text from the deck file is escaped: a caption is text, never markup or script.
"""

from __future__ import annotations

import html
import io
import re
import time
import zipfile

from plotly.offline import get_plotlyjs

from dina_core import __version__

from . import decks, report

PROVENANCE = [("recording", "recording"), ("fingerprint", "recording fingerprint"), ("run", "run"),
              ("run_folder", "run folder"), ("dina", "DINA version")]


def _rows(view: dict) -> list[list[str]]:
    prov = view.get("provenance") or {}
    rows = [[label, str(prov[k])] for k, label in PROVENANCE if prov.get(k) not in (None, "")]
    settings = ", ".join(f"{k} = {v}" for k, v in view["params"].items() if k not in ("rec", "run"))
    return rows + [["settings", settings or "the page's defaults"], ["pinned", str(view.get("pinned", "–"))]]


def _table(rows: list[list[str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table>{body}</table>"


def deck_html(deck: dict) -> str:
    """The deck as one self-contained HTML file; DeckError when a pinned figure is not a plotly figure."""
    parts = []
    for i, view in enumerate(deck["views"], 1):
        figures = "".join(
            f'<div class="figure">{fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})}'
            f'<p class="caption">{html.escape(caption)}</p></div>' for fig, caption in decks.figures(view))
        caption = f'<p class="slide-caption">{html.escape(view["caption"])}</p>' if view["caption"] else ""
        parts.append(f'<section><h2>{i}. {html.escape(view["title"])}</h2>{caption}{_table(_rows(view))}'
                     f'{figures or "<p>(this view showed no figure)</p>"}</section>')
    name = html.escape(str(deck.get("name", "deck")))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>DINA deck: {name}</title>'
            f'<style>{report.CSS}.slide-caption{{font-size:1.2rem}}section{{margin-bottom:3rem}}th{{width:14rem}}'
            f'</style><script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f'<h1>DINA deck: {name}</h1><p>{len(deck["views"])} views · exported '
            f'{html.escape(time.strftime("%Y-%m-%d %H:%M"))} · DINA {__version__}</p>{"".join(parts)}</body></html>')


def png_name(index: int, view: dict, figure: int) -> str:
    """``03-feature_maps-1.png``: the view's place in the deck, its page, the figure's place in the view."""
    return f"{index + 1:02d}-{re.sub(r'[^a-z_]', '', view['page'])}-{figure + 1}.png"


def deck_pngs(deck: dict, width: int = 1200) -> bytes:
    """A zip of one PNG per pinned figure (``png_name``), rendered by ``report.figure_png`` (kaleido + Chromium)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, view in enumerate(deck["views"]):
            for j, (fig, _) in enumerate(decks.figures(view)):
                archive.writestr(png_name(i, view, j), report.figure_png(fig, width=width))
    return buffer.getvalue()
