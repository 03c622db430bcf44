"""Decks in DINA Studio through AppTest: "Pin this view" on the pages, the Deck page (reorder, caption, remove,
rename, a broken deck file) and presenting (one view at a time, the slide counter, next/previous).

The keyboard and the exports' downloads in a real browser: tests/test_browser_decks.py.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dina_app import deck_controls, decks, keys
from studio_pages import APP, TIMEOUT, texts

LINKS = [("feature_maps", {"maps.image": "3"}), ("retrieval", {"retrieval.k": "9"}),
         ("probes", {"probe.responses": "single_trial"}), ("neurons", {"neurons.k": "7"}), ("data", {})]


def deck_file(studio, name: str = "talk"):
    from dina_app import state
    return decks.path(deck_controls.deck_folder(state.file_key(studio / "demo" / "demo_small.h5")), name)


def visit(at: AppTest, page: str, params: dict[str, str]) -> AppTest:
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def pin(at: AppTest, caption: str, deck: str = "talk") -> None:
    choice = at.selectbox(key="deck.pin_deck")
    if deck in choice.options:
        choice.set_value(deck).run()
    else:
        choice.set_value(deck_controls.NEW_DECK).run()
        at.text_input(key="deck.pin_new").input(deck)
    at.text_area(key="deck.pin_caption").input(caption)
    at.button(key="deck.pin").click().run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def pinned(studio):
    """A deck "talk" of five views pinned from five pages (the last caption hostile), and the AppTest session."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    for i, (page, params) in enumerate(LINKS):
        visit(at, page, params)
        pin(at, "<script>alert(1)</script> *bold*" if i == 4 else f"view {i}")
        assert f"{i + 1} view" in "\n".join(s.value for s in at.sidebar.success)
    yield at
    deck_file(studio).unlink(missing_ok=True)


def test_pinning_saves_the_view_its_settings_and_figures(studio, pinned):
    views = decks.load(deck_file(studio))["views"]
    assert [v["page"] for v in views] == [page for page, _ in LINKS]
    for view, (_, params) in zip(views, LINKS):
        assert params.items() <= view["params"].items() and view["params"]["rec"] == "demo"
        assert keys.PRESENT not in view["params"]
        assert view["provenance"]["fingerprint"] and view["provenance"]["run"]
    assert views[0]["caption"] == "view 0" and views[0]["figures"]
    assert json.loads(views[0]["figures"][0]["figure"])["data"]


def test_the_deck_page_reorders_captions_and_removes(studio, pinned):
    at = visit(pinned, "deck", {})
    rows = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any("1. Feature maps" in r for r in rows) and any("5. Data" in r for r in rows), rows
    assert "alert(1)" in at.text_input(key="deck.cap.4").value  # shown as text in a field, never as markup
    at.button(key="deck.down.0").click().run()
    assert [v["page"] for v in decks.load(deck_file(studio))["views"]][:2] == ["retrieval", "feature_maps"]
    at.button(key="deck.up.1").click().run()
    at.text_input(key="deck.cap.1").input("the ranked candidates").run()
    views = decks.load(deck_file(studio))["views"]
    assert [v["page"] for v in views][:2] == ["feature_maps", "retrieval"]
    assert views[1]["caption"] == "the ranked candidates"


def test_presenting_steps_through_the_views_in_order(studio, pinned):
    at = visit(pinned, "deck", {})
    at.button(key="deck.present").click().run()
    assert at.session_state[keys.PRESENT] is True
    assert "Slide 1 / 5" in texts(at) and at.session_state["maps.image"] == 3
    assert at.title[0].value == "Feature maps"
    at.button(key="deck-next").click().run()
    assert "Slide 2 / 5" in texts(at) and at.title[0].value == "Retrieval" and at.session_state["retrieval.k"] == 9
    at.button(key="deck-prev").click().run()
    assert "Slide 1 / 5" in texts(at) and at.title[0].value == "Feature maps"
    for n in (2, 3, 4, 5):
        at.button(key="deck-next").click().run()
        assert f"Slide {n} / 5" in texts(at)
    assert at.button(key="deck-next").disabled
    shown = texts(at)
    assert "<script>" not in shown and "\\<script\\>" in shown  # the caption as typed, escaped for Markdown
    at.button(key="deck-end").click().run()
    assert at.title[0].value == "Deck" and keys.SHOWING not in at.session_state


def test_a_broken_deck_file_is_reported_and_left_as_it_is(studio, pinned):
    broken = deck_file(studio, "broken")
    broken.write_text("{ this is not json")
    try:
        at = visit(pinned, "deck", {"deck.name": "broken"})
        assert any(str(broken) in e.value and "left as it is" in e.value for e in at.error)
        visit(at, "probes", {})
        pin(at, "one more", deck="broken")
        assert any("left as it is" in e.value for e in at.sidebar.error)
        assert broken.read_text() == "{ this is not json"
    finally:
        broken.unlink()


def test_a_deck_of_10000_views_is_refused_whole(studio, pinned):
    huge = deck_file(studio, "huge")
    view = {"page": "probes", "params": {}, "caption": "", "title": "Structure probes"}
    huge.write_text(json.dumps({"format": "dina-deck", "version": 1, "name": "huge", "views": [view] * 10_000}))
    try:
        at = visit(pinned, "deck", {"deck.name": "huge"})
        assert any("at most 200 views" in e.value for e in at.error)
        assert "deck.present" not in [b.key for b in at.button]  # nothing to present from a refused deck
    finally:
        huge.unlink()


def test_renaming_and_deleting_a_deck(studio, pinned):
    copy = deck_file(studio, "spare")
    copy.write_bytes(deck_file(studio).read_bytes())
    at = visit(pinned, "deck", {"deck.name": "spare"})
    at.text_input(key="deck.rename").input("../outside")
    at.button(key="deck.rename_go").click().run()
    assert any("deck name" in e.value for e in at.error) and copy.exists()
    at.text_input(key="deck.rename").input("spare two")
    at.button(key="deck.rename_go").click().run()
    assert not copy.exists() and deck_file(studio, "spare two").exists()
    assert at.selectbox(key="deck.name").value == "spare two"
    at.button(key="deck.delete_go").click().run()
    assert not deck_file(studio, "spare two").exists() and deck_file(studio).exists()
