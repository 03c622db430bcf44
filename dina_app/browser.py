"""How to drive DINA Studio in headless Debian Chromium with Playwright: the browser tests and bench/bench_app.py.

The caller opens Playwright (``sync_playwright()``) and hands it in: playwright is never imported
here, so ``dina_app`` imports without it. The browser is Debian's ``chromium`` (apt), never
``playwright install``: set ``DINA_CHROMIUM`` to use another binary.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: playwright is an optional test dependency
    from playwright.sync_api import Browser, Page, Playwright

APP = Path(__file__).resolve().parents[1] / "app.py"
CHROMIUM = os.environ.get("DINA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PAGES = [("Data", "data"), ("Train", "train"), ("Retrieval", "retrieval"), ("Feature maps", "feature_maps"),
         ("Attributions", "attributions"), ("Structure probes", "probes"), ("Neurons", "neurons"),
         ("Model validation", "model_validation"), ("Across animals", "across_animals"),
         ("Report", "report"), ("Deck", "deck")]  # (sidebar title, file in pages/), in order
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"  # the page's script run is over
CHARTS_DRAWN = ("() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
                ".every(e => e.querySelector('.main-svg'))")  # JS: every plotly figure has its SVG


def launch(playwright: "Playwright") -> "Browser":
    """Debian's headless Chromium, through an open ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_server(env: dict[str, str], timeout_s: float = 180, app: Path = APP) -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port with ``env`` (the DINA_* folders); yields its URL.

    ``app``: another checkout's app.py (bench/bench_app.py's baseline), run from its own folder.

    Raises:
        RuntimeError: the server did not announce its URL within ``timeout_s`` or is not healthy
            (the message holds its output).
    """
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=app.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready, log = threading.Event(), []

    def read() -> None:  # the server announces its URL once it listens
        for line in proc.stdout:
            log.append(line)
            if "URL:" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(timeout_s) or proc.poll() is not None:
            raise RuntimeError("streamlit did not start:\n" + "".join(log))
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as response:
            if response.read().decode().strip() != "ok":
                raise RuntimeError("streamlit is not healthy:\n" + "".join(log))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def settle(page: "Page") -> None:
    """Wait until the script run is over and every plotly figure is drawn."""
    page.wait_for_selector(IDLE)
    page.wait_for_function(CHARTS_DRAWN)


def visit(page: "Page", title: str) -> None:
    """Open a page through the sidebar and wait until it is fully drawn."""
    page.locator("[data-testid=stSidebarNav] a", has_text=title).first.click()
    page.locator("[data-testid=stMain] h1", has_text=title).wait_for()
    settle(page)
