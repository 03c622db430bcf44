"""Compute, once per server and in the background, what every visitor of the shipped model needs.

The first visit to Structure probes or Neurons on the demo used to wait for probe scores, neuron
rankings by integrated gradients, pruning curves and pair ablations (before and after:
``bench/results/app_responsiveness_cpu.txt``). Every visitor asks the same
questions of the shipped run on the demo recording, so as soon as a session opens with it active,
a daemon thread fills the very caches the pages read (``cached``, with the pages' default widget
values), page by page in the sidebar's order. A page visited before its turn computes its own
share under its spinner, and the thread then finds it cached. Other runs are not warmed: their
analyses cost minutes on a large recording, and only a visit (or a deck presented: ``prefetch``) should
spend them. What each view needs is ``view_needs``' list.

At interpreter exit the thread is asked to stop after its current step and waited for: a daemon thread
still inside torch when Python finalises aborts the process ("terminate called without an active
exception"), which turned a clean server shutdown into a crash.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path

from . import state

log = logging.getLogger(__name__)
_STARTED: set[tuple] = set()
_LOCK = threading.Lock()
_STOP = threading.Event()
_THREADS: list[threading.Thread] = []
EXIT_WAIT_S = 60  # the longest single step (pair ablations on the demo) takes seconds; never hang an exit for long


@atexit.register
def _stop_at_exit() -> None:
    _STOP.set()
    for thread in _THREADS:
        thread.join(timeout=EXIT_WAIT_S)


def warm_shipped_run(run_key: state.FileKey | None, data_key: state.FileKey) -> None:
    """Start warming the caches for (run, recording) once, when the run is the shipped demo run on the demo."""
    if run_key is None or Path(run_key[0]).parent != state.demo_run_dir() or not state.is_demo(data_key):
        return
    with _LOCK:
        if (run_key, data_key) in _STARTED:
            return
        _STARTED.add((run_key, data_key))
    from . import cached, view_needs  # torch: in the thread's steps, never in the Data page's run

    def steps() -> list[view_needs.Step]:
        pages = ["retrieval", "feature_maps", "probes", "neurons"]  # the pages' default first views, in order
        return [*[s for page in pages for s in view_needs.steps(page, run_key, data_key, {})],
                ("single-trial ranks", lambda: cached.ranks(run_key, data_key, None, "neural_to_image",
                                                            "single_trial")),
                ("test scores", lambda: cached.evaluation(run_key, data_key))]
    background(steps, name="dina-warmup")


def background(steps, name: str, on_step=None) -> threading.Thread:
    """Run ``steps()``'s (what, call) pairs one after the other in a daemon thread (stopped at exit between two
    steps); ``on_step(done, what)`` before each and at the end (``what`` None). A failing step is logged and ends
    the thread: the page that needs it computes it (and reports its error) itself."""
    def work() -> None:
        done = 0
        try:
            for what, call in steps():
                if _STOP.is_set():
                    return
                if on_step is not None:
                    on_step(done, what)
                call()
                done += 1
        except Exception:  # noqa: BLE001  a page computes (and reports) the same thing itself when visited
            log.exception("%s: a background step failed", name)
        finally:
            if on_step is not None:
                on_step(done, None)
    thread = threading.Thread(target=work, name=name, daemon=True)
    _THREADS.append(thread)
    thread.start()
    return thread
