"""Helpers of the AppTest tests of DINA Studio (tests/test_app_*.py): open a page, read what it says.

The app's environment (temporary folders, the small demo, the shared small run as its model) is the
``studio`` fixture of conftest.py; ``studio_demo`` is (run, data) as the app loads them.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT = 180  # seconds per script run: generous for a loaded 2-core machine


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
