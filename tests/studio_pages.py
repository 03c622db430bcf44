"""Helpers of DINA Studio's tests: AppTest (tests/test_app_*.py: open a page, read what it says) and the
headless browser (tests/test_browser*.py: Debian's Chromium through Playwright).

The app's environment (temporary folders, the small demo, the shared small run as its model) is the
``studio`` fixture of conftest.py; ``studio_demo`` is (run, data) as the app loads them;
``playwright_chromium`` is :func:`chromium` for a test module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT = 180  # seconds per script run: generous for a loaded 2-core machine
SLOW_MS = 300_000  # a browser on a loaded 2-core machine: first renders import torch and compute the analyses


def open_page(name: str, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def demo_fingerprint(studio: Path) -> str:
    from dina_app import state
    return state.fingerprint(state.file_key(studio / "demo" / "demo_small.h5"))


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def traces(chart) -> list[dict]:
    return json.loads(chart.proto.spec)["data"]


def wait_for_a_maps_epoch(job, timeout_s: float = 600) -> None:
    """Block until ``job`` (a background training) has finished an epoch of the maps, so a stop keeps a
    model (stopped during the linear level, before it, nothing is saved), or until it ends."""
    import time

    deadline = time.monotonic() + timeout_s
    while job.live and time.monotonic() < deadline:
        snap = job.snapshot()
        if snap["val_top1"] and (snap["last"] or {}).get("stage") == "maps":
            return
        time.sleep(0.1)


def missing(reason: str) -> None:
    """Skip a browser test for lack of ``reason``, except under CI=true, where that is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium launched through Playwright (never ``playwright install``); closed on exit."""
    from dina_app.browser import CHROMIUM, launch
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Python package playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()
