"""Links and decks in a real headless browser: `streamlit run app.py` + Debian's Chromium via Playwright.

A link as a fresh server's very first request restores its view with the sidebar; the link copied from
every page restores that exact view in a new browser session; five views pinned from five pages present one
at a time with the keys a presenter's clicker sends (arrows, Page Up/Page Down, space) and export to HTML and
PNG. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from dina_app.browser import IDLE, PAGES, settle, studio_server
from studio_pages import SLOW_MS

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.slow
PINNED = [("feature_maps", "Feature maps", "maps.image=3"), ("retrieval", "Retrieval", "retrieval.k=9"),
          ("probes", "Structure probes", ""), ("neurons", "Neurons", "neurons.k=7"), ("data", "Data", "")]


@pytest.fixture(scope="module")
def server(tmp_path_factory, playwright_chromium, small_data, small_run_dir):
    """A fresh server (no visit to its root first): the small demo, the suite's small run as its model."""
    from dina_core.data.format import write_dataset

    root = tmp_path_factory.mktemp("decks")
    write_dataset(root / "demo" / "demo_small.h5", small_data)
    (root / "data").mkdir()
    env = {**os.environ, "DINA_DATA_DIR": str(root / "data"), "DINA_RUNS_DIR": str(root / "runs"),
           "DINA_DEMO_DIR": str(root / "demo"), "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": str(small_run_dir[0])}
    with studio_server(env, timeout_s=120) as url:
        yield url, root


@pytest.fixture
def new_session(playwright_chromium):
    """Opens pages, each in a browser context of its own (a new session: nothing shared but the server)."""
    contexts = []

    def open_page():
        context = playwright_chromium.new_context(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(SLOW_MS)
        return page
    yield open_page
    for context in contexts:
        context.close()


def opened(page, url: str, title: str):
    page.goto(url)
    page.locator("[data-testid=stMain] h1", has_text=title).wait_for()
    page.locator("[data-testid=stSidebar]", has_text="Presentation mode").wait_for()
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0, f"{title}: exception shown"
    return page


def copied_link(page) -> str:
    page.locator("[data-testid=stSidebar] button", has_text="Copy link").click()
    code = page.locator("[data-testid=stPopoverBody] code").first
    code.wait_for()
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_link_as_a_fresh_servers_first_request_restores_its_view(server, new_session):
    url, _ = server
    page = opened(new_session(), f"{url}/feature_maps?maps.image=3&maps.opacity=0.25", "Feature maps")
    assert page.get_by_role("slider", name="Test image").input_value() == "3"
    assert "maps.image=3" in page.url and "rec=demo" in page.url  # the view is written back into the address
    assert page.locator("[data-testid=stAlert]", has_text="could not be restored").count() == 0


@pytest.mark.parametrize("title, name", PAGES)
def test_the_link_copied_from_each_page_restores_that_view_in_a_new_session(server, new_session, title, name):
    url, _ = server
    extra = {"feature_maps": "?maps.image=4", "retrieval": "?retrieval.k=8", "neurons": "?neurons.k=5",
             "probes": "?probe.responses=single_trial"}.get(name, "")
    first = opened(new_session(), f"{url}/{'' if name == 'data' else name}{extra}", title)
    link = copied_link(first)
    assert link.startswith(f"{url}/{'' if name == 'data' else name}") and "rec=demo" in link, link
    if extra:
        assert extra[1:] in link, link
    second = opened(new_session(), link, title)
    assert copied_link(second) == link  # every choice of the view, recording and model included, is back


def test_a_tampered_link_opens_with_a_notice(server, new_session):
    url, _ = server
    page = opened(new_session(), f"{url}/feature_maps?maps.image=99999&run=gone&maps.stage=%3Cscript%3E",
                  "Feature maps")
    notices = page.locator("[data-testid=stAlert]", has_text="restored")
    assert notices.count() == 2 and page.locator("[data-testid=stAlert]", has_text="gone").count() == 1


def pin(page, caption: str) -> None:
    page.locator("[data-testid=stSidebar] button", has_text="Pin this view").click()
    body = page.locator("[data-testid=stPopoverBody]")
    body.get_by_label("Caption (optional)").fill(caption)
    body.get_by_role("button", name="Pin").click()
    page.wait_for_selector(IDLE)
    page.locator("[data-testid=stSidebar] [data-testid=stAlert]", has_text="Pinned to").wait_for()


def slide(page, n: int, title: str) -> None:
    page.get_by_text(f"Slide {n} / {len(PINNED)}").wait_for()
    page.locator("[data-testid=stMain] h1", has_text=title).wait_for()
    page.wait_for_selector(IDLE)


def test_five_pinned_views_present_with_the_keyboard_and_export(server, new_session):
    url, root = server
    page = new_session()
    for i, (name, title, query) in enumerate(PINNED):
        opened(page, f"{url}/{'' if name == 'data' else name}{'?' + query if query else ''}", title)
        pin(page, "<script>alert(1)</script> five" if i == 4 else f"slide {i + 1}: {title}")
    opened(page, f"{url}/deck", "Deck")
    page.get_by_role("button", name="Present", exact=True).click()
    slide(page, 1, "Feature maps")
    assert page.get_by_role("slider", name="Test image").input_value() == "3"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deck-slide-1.png"))
    for key, n in [("ArrowRight", 2), ("PageDown", 3), ("Space", 4), ("ArrowLeft", 3), ("PageUp", 2),
                   ("ArrowRight", 3), ("ArrowRight", 4), ("ArrowRight", 5)]:
        page.keyboard.press(key)
        slide(page, n, PINNED[n - 1][1])
    assert page.get_by_text("<script>alert(1)</script> five").count() == 1  # the caption as typed, as text
    page.keyboard.press("ArrowRight")  # past the last slide: stays
    slide(page, 5, "Data")
    page.get_by_role("button", name="End").click()
    opened(page, f"{url}/deck", "Deck")

    page.get_by_role("button", name="Prepare the exports").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the HTML report").click()
    report = ARTIFACTS / "deck.html"
    info.value.save_as(report)
    html = report.read_text()
    positions = [html.index(f"slide {i + 1}: {title}") for i, (_, title, _) in enumerate(PINNED[:4])]
    assert positions == sorted(positions) and "&lt;script&gt;alert(1)" in html and "<script>alert(1)" not in html
    from dina_app import report as report_module
    if report_module.png_export_problem() is None:
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the PNGs (zip)").click()
        info.value.save_as(ARTIFACTS / "deck-png.zip")
        with zipfile.ZipFile(ARTIFACTS / "deck-png.zip") as z:
            assert len(z.namelist()) >= len(PINNED) - 1 and all(z.read(n)[:4] == b"\x89PNG" for n in z.namelist())
