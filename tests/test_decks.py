"""Decks on disk (dina_app/decks.py) and their exports (dina_app/deck_export.py), without Streamlit.

A deck is written atomically and read back as it was; a broken, hand-edited, oversized or hostile deck file is
refused with its file and field named and is never written over; nothing from a caption reaches the HTML
export as markup.
"""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import plotly.graph_objects as go
import pytest

from dina_app import deck_export, decks


def a_view(caption: str = "the low-pass curve", page: str = "probes", figures: int = 1) -> dict:
    shown = [(go.Figure(go.Scatter(x=[0, 1, 2], y=[3, 1, 2])), f"figure {i}") for i in range(figures)]
    return decks.new_view(page, {"rec": "demo", "probe.name": "low_pass"}, caption,
                          {"recording": "demo", "fingerprint": "abc123", "run": "shipped"}, shown)


@pytest.fixture()
def deck_path(tmp_path):
    return decks.path(decks.folder(tmp_path / "runs", "demo"), "lab meeting")


def test_a_deck_round_trips_through_its_file(deck_path):
    assert decks.append(deck_path, a_view("first")) == 1
    assert decks.append(deck_path, a_view("second", page="neurons", figures=2)) == 2
    deck = decks.load(deck_path)
    assert [v["caption"] for v in deck["views"]] == ["first", "second"]
    assert [v["title"] for v in deck["views"]] == ["Structure probes", "Neurons"]
    fig, caption = decks.figures(deck["views"][1])[1]
    assert caption == "figure 1" and list(fig.data[0].y) == [3, 1, 2]
    assert decks.names(deck_path.parent) == ["lab meeting"]


def test_reordering_and_renaming(deck_path):
    for caption in "abc":
        decks.append(deck_path, a_view(caption))
    views = decks.load(deck_path)["views"]
    assert [v["caption"] for v in decks.moved(views, 0, 1)] == ["b", "a", "c"]
    assert [v["caption"] for v in decks.moved(views, 2, -5)] == ["c", "a", "b"]  # clamped at the top
    assert [v["caption"] for v in decks.moved(views, 2, 1)] == ["a", "b", "c"]
    target = decks.rename(deck_path, "journal club")
    assert not deck_path.exists() and decks.load(target)["name"] == "journal club"
    decks.append(deck_path, a_view())
    with pytest.raises(decks.DeckError, match="exists already"):
        decks.rename(deck_path, "journal club")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 61, "end.", "semi;colon"])
def test_a_deck_name_that_could_leave_its_folder_is_refused(tmp_path, name):
    with pytest.raises(decks.DeckError, match="deck name"):
        decks.path(tmp_path, name)


def test_captions_are_plain_text(deck_path):
    view = a_view("two\x00\nlines\t and <b>bold</b> " + "x" * 1000)
    assert "\x00" not in view["caption"] and "\n" not in view["caption"]
    assert len(view["caption"]) == decks.MAX_CAPTION


BROKEN = {
    "not JSON": b"{not json",
    "not text": b"\xff\xfe\x00garbage",
    "a list": b"[]",
    "another format": json.dumps({"format": "other", "version": 1, "views": []}).encode(),
    "a newer version": json.dumps({"format": "dina-deck", "version": 99, "views": []}).encode(),
    "views not a list": json.dumps({"format": "dina-deck", "version": 1, "views": {}}).encode(),
    "an unknown page": json.dumps({"format": "dina-deck", "version": 1, "views": [
        {"page": "../../etc/passwd", "params": {}, "caption": "", "title": ""}]}).encode(),
    "a number as a parameter": json.dumps({"format": "dina-deck", "version": 1, "views": [
        {"page": "probes", "params": {"probe.name": 3}, "caption": "", "title": ""}]}).encode(),
    "10,000 views": json.dumps({"format": "dina-deck", "version": 1, "views": [
        {"page": "probes", "params": {}, "caption": "", "title": ""}] * 10_000}).encode(),
}


@pytest.mark.parametrize("problem", list(BROKEN))
def test_a_broken_deck_is_reported_and_left_as_it_is(deck_path, problem):
    deck_path.parent.mkdir(parents=True)
    deck_path.write_bytes(BROKEN[problem])
    with pytest.raises(decks.DeckError) as raised:
        decks.load(deck_path)
    assert str(deck_path) in str(raised.value) and "left as it is" in str(raised.value)
    with pytest.raises(decks.DeckError):
        decks.append(deck_path, a_view())  # pinning to it refuses too ...
    assert deck_path.read_bytes() == BROKEN[problem]  # ... and never writes over it


def test_a_full_deck_refuses_one_more_view(deck_path):
    deck = decks.empty("lab meeting")
    deck["views"] = [a_view(str(i), figures=0) for i in range(decks.MAX_VIEWS)]
    decks.save(deck_path, deck)
    before = deck_path.read_bytes()
    with pytest.raises(decks.DeckError, match="the most a deck may hold"):
        decks.append(deck_path, a_view())
    assert deck_path.read_bytes() == before


def test_a_failed_write_leaves_the_previous_deck(deck_path, monkeypatch):
    decks.append(deck_path, a_view("kept"))
    before = deck_path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(json, "dumps", fail)
    with pytest.raises(OSError):
        decks.append(deck_path, a_view("lost"))
    assert deck_path.read_bytes() == before
    assert [p.name for p in deck_path.parent.iterdir()] == [deck_path.name]  # no half-written file beside it


def test_a_figure_that_is_not_plotly_is_named(deck_path):
    view = a_view()
    view["figures"][0]["figure"] = "{\"data\": 5}"
    with pytest.raises(decks.DeckError, match="figure 1 is not a plotly figure"):
        decks.figures(view)


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_the_html_export_keeps_the_order_and_never_injects_a_caption(deck_path):
    decks.append(deck_path, a_view("first view"))
    decks.append(deck_path, a_view(HOSTILE, page="neurons"))
    deck = decks.load(deck_path)
    deck["name"] = HOSTILE
    page = deck_export.deck_html(deck)
    assert page.index("first view") < page.index('class="slide-caption">&lt;script&gt;alert(1)')
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "abc123" in page and "shipped" in page  # provenance: fingerprint and run
    from plotly.offline import get_plotlyjs
    assert "<script src" not in page.replace(get_plotlyjs(), "")  # offline: plotly.js inline, nothing fetched


def test_a_figure_title_cannot_close_the_exports_script(deck_path):
    view = a_view()
    view["figures"][0]["figure"] = go.Figure(layout={"title": {"text": "</script>" + HOSTILE}}).to_json()
    decks.append(deck_path, view)
    assert "</script><script>alert(1)" not in deck_export.deck_html(decks.load(deck_path))


def test_the_png_export_names_one_file_per_figure(deck_path):
    from dina_app import report
    if (problem := report.png_export_problem()) is not None:
        pytest.skip(problem)
    decks.append(deck_path, a_view("a", figures=2))
    decks.append(deck_path, a_view("b", page="neurons"))
    with zipfile.ZipFile(BytesIO(deck_export.deck_pngs(decks.load(deck_path)))) as z:
        names = z.namelist()
        assert len(names) == 3 and all(z.read(n)[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    assert names == sorted(names)  # deck order
