"""DINA Studio in a real headless browser: `streamlit run app.py` + Debian's Chromium via Playwright.

Against one server (the small demo, the suite's small run as its model): visits every page through the
sidebar in normal and presentation mode with no request leaving the machine, moves the pruning slider,
trains a short run from the Train page (Enter in a field never starts one), previews and imports a
suite2p session with the Data page's wizard, and downloads the report and opens it offline, asserting
that no page shows an exception. Screenshots go to test-artifacts/. Chromium comes from the
``playwright_chromium`` fixture (``studio_pages.chromium``): without it the tests skip locally and fail
under CI=true. A fresh checkout and PNG export: test_browser_setup.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dina_app.browser import IDLE, PAGES, settle, studio_server, visit
from simulated_sessions import simulated_files
from studio_pages import SLOW_MS

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, playwright_chromium, small_data, small_run_dir):
    """`streamlit run app.py` on a free loopback port: the small demo, the suite's shared small run as its model."""
    from dina_core.data.format import write_dataset

    root = tmp_path_factory.mktemp("browser")
    write_dataset(root / "demo" / "demo_small.h5", small_data)
    shutil.copytree(simulated_files(small_data, tmp_path_factory).suite2p.parent, root / "data" / "session1")
    env = {**os.environ, "DINA_DATA_DIR": str(root / "data"), "DINA_RUNS_DIR": str(root / "runs"),
           "DINA_DEMO_DIR": str(root / "demo"), "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": str(small_run_dir[0])}
    with studio_server(env, timeout_s=120) as url:  # its first request is a page's URL (/train): see app.py
        yield url, root


@pytest.fixture
def page(playwright_chromium):
    context = playwright_chromium.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(SLOW_MS)
    yield page
    context.close()


def check(page, title: str) -> None:
    """Open a page through the sidebar; it must show no exception."""
    visit(page, title)
    assert page.locator("[data-testid=stException]").count() == 0, f"{title}: exception shown"


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_enter_in_a_train_field_does_not_start_a_training(server, page):
    url, root = server
    page.goto(f"{url}/train")
    page.locator("[data-testid=stMain] h1", has_text="Train").wait_for()
    page.wait_for_selector(IDLE)
    name = page.get_by_role("textbox", name="Run name", exact=True)
    name.fill("enter-run")
    name.press("Enter")
    epochs = page.get_by_role("spinbutton", name="epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_selector(IDLE)
    assert page.get_by_text("Run enter-run").count() == 0 and not (root / "runs" / "enter-run").exists()


def test_short_training_from_the_train_page(server, page):
    url, root = server
    page.goto(f"{url}/train")
    page.locator("[data-testid=stMain] h1", has_text="Train").wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_role("textbox", name="Run name", exact=True).fill("browser-run")
    page.get_by_role("spinbutton", name="epochs", exact=True).fill("2")
    page.get_by_role("spinbutton", name="batch size", exact=True).fill("64")
    page.get_by_role("button", name="Start training").click()
    use = page.locator("[data-testid=stMain] button", has_text="Use this model").first
    use.wait_for()  # the finished run is offered, not adopted
    page.wait_for_selector(IDLE)
    assert page.get_by_text("Training browser-run: finished.").count() == 1  # no stale twin of the panel
    assert "browser-run" not in page.locator("[data-testid=stSidebar]").inner_text()
    use.click()
    page.locator("[data-testid=stSidebar]", has_text="browser-run").wait_for()  # now the active model
    settle(page)
    assert (root / "runs" / "browser-run" / "model.pt").is_file()
    assert page.locator("[data-testid=stException]").count() == 0
    shoot(page, "interaction-training")
    page.reload()  # a deliberate choice survives a reload
    page.locator("[data-testid=stSidebar]", has_text="browser-run").wait_for()


def test_import_wizard_previews_and_imports_a_suite2p_session(server, page):
    url, root = server
    page.goto(url)
    page.locator("[data-testid=stMain] h1", has_text="Data").wait_for()
    settle(page)
    page.get_by_text("Import suite2p", exact=True).click()
    page.get_by_text("Neurons previewed").wait_for()
    settle(page)
    sample = page.get_by_role("spinbutton", name="Neurons in the preview")
    sample.fill("50")
    sample.press("Enter")
    page.get_by_text("50 of ").wait_for()
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    shoot(page, "interaction-import-preview")
    page.get_by_role("button", name="Import and open").click()
    page.get_by_text("Opened session1.h5").wait_for()
    page.locator("[data-testid=stSidebar]", has_text="session1").wait_for()  # now the active recording
    settle(page)
    assert (root / "data" / "imported" / "session1.h5").is_file()
    assert page.locator("[data-testid=stException]").count() == 0


def test_every_page_renders_in_both_modes_and_no_request_leaves_the_machine(server, page):
    url, _ = server
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda w: requests.append(w.url))
    page.goto(url)
    page.locator("[data-testid=stMain] h1", has_text="Data").wait_for()
    for mode in ("normal", "presentation"):
        if mode == "presentation":
            page.locator("[data-testid=stSidebar] label", has_text="Presentation mode").click()
            page.wait_for_selector(IDLE)
        for title, name in PAGES:
            check(page, title)
            shoot(page, f"{mode}-{name}")
    hosts = {urlsplit(r).hostname for r in requests if not r.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(r for r in requests if urlsplit(r).hostname != "127.0.0.1")


def test_pruning_slider_updates_the_accuracy_text(server, page):
    url, _ = server
    page.goto(f"{url}/neurons")
    page.get_by_text("Top-1 with 20 neurons:").wait_for()
    slider = page.get_by_role("slider", name="Neurons kept (k)")
    slider.focus()
    slider.press("End")
    page.get_by_text("Top-1 with 200 neurons:").wait_for()
    slider.press("Home")
    page.get_by_text("Top-1 with 1 neurons:").wait_for()
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    shoot(page, "interaction-pruning")


def test_report_downloads_and_opens_offline(server, page, playwright_chromium):
    url, _ = server
    page.goto(f"{url}/report")
    page.get_by_role("button", name="Build the report").click()
    download_button = page.get_by_role("button", name="Download the HTML report")
    download_button.wait_for()
    with page.expect_download() as info:
        download_button.click()
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / "report.html"
    info.value.save_as(report)
    html = report.read_text()
    n_figures = html.count('class="plotly-graph-div"')
    assert n_figures >= 6

    offline = playwright_chromium.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    try:
        viewer = offline.new_page()
        requests = []
        viewer.on("request", lambda r: requests.append(r.url))
        viewer.goto(report.as_uri())
        viewer.wait_for_function(f"() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= "
                                 f"{n_figures}", timeout=SLOW_MS)
        assert all(r.startswith(("file:", "data:", "blob:", "about:")) for r in requests), requests
        viewer.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        offline.close()
