"""Decks: ordered lists of pinned views, saved per recording as JSON in the runs folder (no Streamlit).

A deck lives in ``<runs folder>/decks/<recording id>/<deck name>.json``::

    {"format": "dina-deck", "version": 1, "name": "lab meeting",
     "views": [{"page": "feature_maps", "title": "Feature maps", "params": {"rec": "demo", "maps.image": "3"},
                "caption": "...", "pinned": "2026-12-04T18:30:00",
                "provenance": {"recording": ..., "fingerprint": ..., "run": ...},
                "figures": [{"caption": "...", "figure": "<plotly JSON>"}]}]}

``params`` reopen the view live (``links``); ``figures`` are what it showed when pinned, for the exports.
Every read checks the whole file (``load``) and names the file and field of the first problem; a broken or
hand-edited deck is reported and left as it is: nothing here writes over a file it could not read. Writes
are atomic (``dina_core.atomic``).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from dina_core.atomic import atomic_path
from dina_core.errors import DinaError
from dina_core.paths import inside

from .browser import PAGES

FORMAT, VERSION = "dina-deck", 1
VIEW_PAGES = {stem: title for title, stem in PAGES}  # the pages a view may name: a link never leads elsewhere
MAX_VIEWS = 200  # a talk's worth; a file holding more is refused whole, not truncated
MAX_BYTES = 256 << 20  # pinned figures are ~0.1-2 MB each
MAX_CAPTION, MAX_PARAMS, MAX_VALUE, MAX_FIGURES = 500, 60, 200, 16
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}")


class DeckError(DinaError):
    """A deck file that cannot be read or a change that cannot be made; the message names file and field."""


def folder(runs_dir: str | Path, recording_id: str) -> Path:
    """Where a recording's decks live (links resolved: never outside the runs folder)."""
    return inside(runs_dir, Path("decks") / re.sub(r"[^A-Za-z0-9_-]", "_", recording_id)[:80])


def checked_name(name: str) -> str:
    """A deck name as typed, trimmed; DeckError unless letters, digits, spaces, ``_.-``, at most 60."""
    name = name.strip()
    if not NAME.fullmatch(name) or name.endswith("."):
        raise DeckError(f"deck name {name[:80]!r}: expected 1-60 letters, digits, spaces, '_', '-' or '.', "
                        "starting with a letter or digit")
    return name


def path(deck_folder: Path, name: str) -> Path:
    return deck_folder / f"{checked_name(name)}.json"


def names(deck_folder: Path) -> list[str]:
    """The decks in a recording's folder, by name (broken files included: opening one reports it)."""
    if not deck_folder.is_dir():
        return []
    return sorted(p.stem for p in deck_folder.glob("*.json") if p.is_file() and NAME.fullmatch(p.stem))


def clean_caption(text: str) -> str:
    """A caption as plain text: control characters dropped, whitespace collapsed, at most MAX_CAPTION characters."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(text))).strip()[:MAX_CAPTION]


def _expect(ok: bool, where: Path, field: str, expected: str, found) -> None:
    if not ok:
        shown = repr(found)
        raise DeckError(f"{where}: field {field}: expected {expected}, found {shown[:80]}"
                        f"{'...' if len(shown) > 80 else ''}; the deck was left as it is")


def _check_view(view, where: Path, at: str) -> None:
    _expect(isinstance(view, dict), where, at, "an object", type(view).__name__)
    _expect(view.get("page") in VIEW_PAGES, where, f"{at}.page", f"one of {', '.join(VIEW_PAGES)}", view.get("page"))
    params = view.get("params")
    _expect(isinstance(params, dict) and len(params) <= MAX_PARAMS, where, f"{at}.params",
            f"an object of at most {MAX_PARAMS} entries", type(params).__name__)
    for k, v in params.items():
        _expect(isinstance(v, str) and len(k) <= MAX_VALUE and len(v) <= MAX_VALUE, where, f"{at}.params.{k[:40]}",
                f"text of at most {MAX_VALUE} characters", v)
    for field in ("caption", "title"):
        _expect(isinstance(view.get(field), str) and len(view[field]) <= MAX_CAPTION, where, f"{at}.{field}",
                f"text of at most {MAX_CAPTION} characters", view.get(field))
    _expect(isinstance(view.get("provenance", {}), dict), where, f"{at}.provenance", "an object",
            view.get("provenance"))
    figures = view.get("figures", [])
    _expect(isinstance(figures, list) and len(figures) <= MAX_FIGURES, where, f"{at}.figures",
            f"a list of at most {MAX_FIGURES}", type(figures).__name__)
    for j, fig in enumerate(figures):
        _expect(isinstance(fig, dict) and isinstance(fig.get("figure"), str) and isinstance(fig.get("caption"), str),
                where, f"{at}.figures[{j}]", "an object with text 'figure' and 'caption'", fig)


def load(deck_path: Path) -> dict:
    """The deck in ``deck_path``, checked whole; DeckError naming the file and field otherwise."""
    try:
        size = deck_path.stat().st_size
        _expect(size <= MAX_BYTES, deck_path, "<file>", f"at most {MAX_BYTES >> 20} MB", f"{size >> 20} MB")
        deck = json.loads(deck_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DeckError(f"{deck_path}: not a readable deck (JSON expected): {type(exc).__name__}: "
                        f"{str(exc)[:120]}; the deck was left as it is") from None
    _expect(isinstance(deck, dict) and deck.get("format") == FORMAT, deck_path, "format", repr(FORMAT),
            deck.get("format") if isinstance(deck, dict) else type(deck).__name__)
    _expect(deck.get("version") == VERSION, deck_path, "version", VERSION, deck.get("version"))
    views = deck.get("views")
    _expect(isinstance(views, list), deck_path, "views", "a list", type(views).__name__)
    _expect(len(views) <= MAX_VIEWS, deck_path, "views", f"at most {MAX_VIEWS} views", f"{len(views)} views")
    for i, view in enumerate(views):
        _check_view(view, deck_path, f"views[{i}]")
    return deck


def save(deck_path: Path, deck: dict) -> None:
    """Write ``deck`` atomically (checked first: a change never produces a file ``load`` refuses)."""
    _expect(len(deck["views"]) <= MAX_VIEWS, deck_path, "views", f"at most {MAX_VIEWS} views", len(deck["views"]))
    for i, view in enumerate(deck["views"]):
        _check_view(view, deck_path, f"views[{i}]")
    deck_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(deck_path) as tmp:
        tmp.write_text(json.dumps(deck, indent=1), encoding="utf-8")


def empty(name: str) -> dict:
    return {"format": FORMAT, "version": VERSION, "name": checked_name(name), "views": []}


def new_view(page: str, params: dict[str, str], caption: str, provenance: dict,
             shown: list[tuple[go.Figure, str]]) -> dict:
    """A view to pin: the page (a ``pages/`` stem), its URL parameters and the figures it drew."""
    return {"page": page, "title": VIEW_PAGES.get(page, page), "params": dict(params),
            "caption": clean_caption(caption),
            "pinned": time.strftime("%Y-%m-%dT%H:%M:%S"), "provenance": provenance,
            "figures": [{"caption": c, "figure": pio.to_json(f)} for f, c in shown[:MAX_FIGURES]]}


def append(deck_path: Path, view: dict) -> int:
    """Add ``view`` at the end of the deck (made when new); returns the deck's length. A deck that cannot be read
    raises DeckError and stays as it is."""
    deck = load(deck_path) if deck_path.exists() else empty(deck_path.stem)
    if len(deck["views"]) >= MAX_VIEWS:
        raise DeckError(f"{deck_path}: the deck holds {MAX_VIEWS} views, the most a deck may hold; start another")
    deck["views"].append(view)
    save(deck_path, deck)
    return len(deck["views"])


def moved(views: list, index: int, offset: int) -> list:
    """``views`` with the view at ``index`` moved by ``offset`` places (clamped to the ends)."""
    views = list(views)
    target = min(max(index + offset, 0), len(views) - 1)
    views.insert(target, views.pop(index))
    return views


def rename(deck_path: Path, new_name: str) -> Path:
    """Rename a deck (file and recorded name); DeckError when the name is taken or the deck unreadable."""
    target = path(deck_path.parent, new_name)
    if target.exists():
        raise DeckError(f"{target}: a deck of that name exists already; choose another name")
    deck = load(deck_path)
    deck["name"] = checked_name(new_name)
    save(target, deck)
    deck_path.unlink()
    return target


def figures(view: dict) -> list[tuple[go.Figure, str]]:
    """The figures a view showed when pinned; DeckError naming the view when one is not a plotly figure."""
    out = []
    for j, item in enumerate(view.get("figures", [])):
        try:
            out.append((pio.from_json(item["figure"]), item["caption"]))
        except (ValueError, TypeError) as exc:
            raise DeckError(f"view {view.get('title')!r}: figure {j + 1} is not a plotly figure "
                            f"({str(exc)[:120]})") from None
    return out
