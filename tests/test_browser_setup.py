"""DINA Studio on a fresh machine: a fresh checkout opens the shipped model, and PNG export finds Chromium.

With no demo folder and no runs, the demo recording is simulated and the shipped run is active within
30 s, in a real headless browser, without training anything. PNG export uses the system Chromium, and
without a Chrome says what to install. Chromium comes from the ``playwright_chromium`` fixture
(``studio_pages.chromium``): without it the tests skip locally and fail under CI=true. The main flows
against a running server: test_browser.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dina_app.browser import CHROMIUM, settle, studio_server, visit
from studio_pages import SLOW_MS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_a_fresh_checkout_opens_the_shipped_model_without_training(playwright_chromium, tmp_path):
    """No demo folder, no runs: the demo recording is simulated and the shipped run is active within 30 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINA_")}
    env.update(DINA_DATA_DIR=str(tmp_path / "data"), DINA_RUNS_DIR=str(tmp_path / "runs"),
               DINA_DEMO_DIR=str(tmp_path / "demo"))  # the defaults: demo size, assets/demo_run
    with studio_server(env, timeout_s=120) as url:
        context = playwright_chromium.new_context(viewport={"width": 1400, "height": 1800})
        try:
            page = context.new_page()
            page.goto(url)
            page.locator("[data-testid=stSidebar]", has_text="shipped demo run").wait_for(timeout=30_000)
            page.set_default_timeout(SLOW_MS)
            settle(page)
            shipped = json.loads((ROOT / "assets" / "demo_run" / "run.json").read_text())["metadata"]
            # 250 validation images; the score no level-weight search chose (evaluate.chance.validation_score)
            score = (f"validation top-1 {100 * shipped['unselected_val_top1']:.1f}% (chance 0.4%; trained level "
                     "weights, before validation chose them)")
            assert score in page.locator("[data-testid=stSidebar]").inner_text()
            visit(page, "Retrieval")
            assert page.locator("[data-testid=stPlotlyChart]").count() > 0
            assert page.get_by_text("is being trained").count() == 0
        finally:
            context.close()
    assert (tmp_path / "demo" / "demo.h5").is_file() and not (tmp_path / "runs").exists()  # nothing trained


def test_png_export_uses_the_system_chromium(playwright_chromium, monkeypatch):
    import plotly.graph_objects as go

    from dina_app.report import figure_png

    monkeypatch.setenv("BROWSER_PATH", CHROMIUM)
    png = figure_png(go.Figure(go.Scatter(y=[1, 3, 2])), width=400, height=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_without_a_chrome_png_export_says_what_to_install(monkeypatch, tmp_path):
    import plotly.graph_objects as go

    from dina_app.report import figure_png, png_export_problem
    from dina_core.errors import DinaError

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium, no chrome
    assert "apt-get install chromium" in png_export_problem()
    with pytest.raises(DinaError, match="apt-get install chromium"):
        figure_png(go.Figure(go.Scatter(y=[1, 2])))
