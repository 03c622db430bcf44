"""Every view has a link (dina_app/links.py): the URL restores a page's choices, a tampered link opens the page
with a one-line notice and never an exception, and the view on screen is written back into the URL.

AppTest's ``query_params`` play the URL of a new browser session; tests/test_browser_decks.py opens real
links in Chromium.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dina_app import keys, links
from studio_pages import APP, TIMEOUT


def open_link(page: str, **params) -> AppTest:
    """A new session opening ``/page?params`` (AppTest switches page before its first run, as a URL path does)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def warnings_of(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def widget(at: AppTest, key: str):
    for kind in ("slider", "selectbox", "toggle", "multiselect", "select_slider"):
        found = [w for w in at.get(kind) if getattr(w, "key", None) == key]
        if found:
            return found[0]
    return [w for w in at.get("button_group") if getattr(w, "key", None) == key][0]


@pytest.mark.parametrize("page, params, expected", [
    ("feature_maps", {"maps.image": "3", "maps.opacity": "0.25"}, {"maps.image": 3, "maps.opacity": 0.25}),
    ("retrieval", {"retrieval.k": "9", "retrieval.responses": "single_trial"},
     {"retrieval.k": 9, "retrieval.responses": "single_trial"}),
    ("neurons", {"neurons.k": "7", "neurons.m": "5", "neurons.matrix": "signal_correlation"},
     {"neurons.k": 7, "neurons.m": 5, "neurons.matrix": "signal_correlation"}),
    ("probes", {"probe.responses": "single_trial"}, {"probe.responses": "single_trial"}),
])
def test_a_link_restores_the_pages_choices(studio, page, params, expected):
    at = open_link(page, **params)
    assert not warnings_of(at), warnings_of(at)
    for name, value in expected.items():
        assert at.session_state[name] == value, name
        assert widget(at, name).value == value, name


def test_the_view_on_screen_is_written_into_the_url(studio):
    at = open_link("feature_maps", **{"maps.image": "2"})
    assert at.query_params[links.RECORDING] == links.DEMO
    widget(at, "maps.image").set_value(4).run()
    assert at.session_state["maps.image"] == 4
    assert at.query_params["maps.image"] == "4"


def test_a_moved_widget_is_not_pulled_back_by_the_url(studio):
    at = open_link("feature_maps", **{"maps.image": "2"})
    widget(at, "maps.image").set_value(5).run()
    at.run()  # a rerun with the URL the app published: the user's choice stays
    assert at.session_state["maps.image"] == 5


@pytest.mark.parametrize("params, field", [
    ({"maps.image": "100000"}, "maps.image"),  # index out of range
    ({"maps.image": "-1"}, "maps.image"),
    ({"maps.image": "nan"}, "maps.image"),
    ({"maps.image": "3; drop"}, "maps.image"),
    ({"maps.opacity": "inf"}, "maps.opacity"),
    ({"maps.stage": "stage99"}, "maps.stage"),  # unknown option
    ({"maps.image": "9" * 5000}, "maps.image"),
    ({links.RUN: "gone_run"}, "model"),  # unknown run
    ({links.RECORDING: "../../etc/passwd"}, "recording"),
    ({links.RECORDING: "no_such.h5"}, "recording"),
    ({keys.PRESENT: "maybe"}, keys.PRESENT),
])
def test_a_tampered_link_opens_the_page_with_a_notice(studio, params, field):
    at = open_link("feature_maps", **params)
    notes = warnings_of(at)
    assert len(notes) == 1 and field in notes[0], notes
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart"), "the page still draws its view"
    assert at.session_state["maps.image"] == 0  # the default, not a clipped or half-applied value


def test_a_link_to_a_broken_recording_never_makes_it_active(studio):
    (studio / "data" / "broken.h5").write_bytes(b"not hdf5 at all")
    try:
        at = open_link("data", **{links.RECORDING: "broken.h5"})
        assert any("broken.h5" in w and "recording" in w for w in warnings_of(at)), warnings_of(at)
        assert keys.DATA not in at.session_state or not str(at.session_state[keys.DATA]).endswith("broken.h5")
    finally:
        (studio / "data" / "broken.h5").unlink()


def test_a_link_opens_in_presentation_mode(studio):
    at = open_link("retrieval", **{keys.PRESENT: "1"})
    assert at.session_state[keys.PRESENT] is True
    assert not warnings_of(at)


def test_copy_link_shows_the_full_address_of_the_view(studio):
    at = open_link("feature_maps", **{"maps.image": "3"})
    shown = [c.value for c in at.code]
    assert any(s.startswith("http://localhost:8501/feature_maps?") and "maps.image=3" in s and "rec=demo" in s
               for s in shown), shown
