"""Compute, once per server and in the background, what every visitor of the shipped model needs.

The first visit to Structure probes or Neurons on the demo used to wait for probe scores, neuron
rankings by integrated gradients, pruning curves and pair ablations (before and after:
``bench/results/app_responsiveness_cpu.txt``). Every visitor asks the same
questions of the shipped run on the demo recording, so as soon as a session opens with it active,
a daemon thread fills the very caches the pages read (``cached``, with the pages' default widget
values), page by page in the sidebar's order. A page visited before its turn computes its own
share under its spinner, and the thread then finds it cached. Other runs are not warmed: their
analyses cost minutes on a large recording, and only a visit should spend them.

At interpreter exit the thread is asked to stop after its current step and waited for: a daemon thread
still inside torch when Python finalises aborts the process ("terminate called without an active
exception"), which turned a clean server shutdown into a crash.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path

from . import saved_runs, state

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
    thread = threading.Thread(target=_warm, args=(run_key, data_key), name="dina-warmup", daemon=True)
    _THREADS.append(thread)
    thread.start()


def _warm(run_key: state.FileKey, data_key: state.FileKey) -> None:
    """The pages' default first views: retrieval, feature maps, probes, neurons (no Streamlit elements)."""
    from dina_core.interpret.probes import MANIPULATIONS  # torch: in this thread, never in the Data page's run

    from . import cached

    steps = [lambda: cached.embeddings(run_key, data_key, None),
             *[lambda mode=mode: cached.ranks(run_key, data_key, None, "neural_to_image", mode)
               for mode in ("averaged", "single_trial")],
             lambda: cached.stage_maps(run_key, data_key, saved_runs.load_run(run_key).model.config.aligned_stages[0]),
             lambda: cached.probe(run_key, data_key, next(iter(MANIPULATIONS)), "averaged"),
             lambda: cached.rankings(run_key, data_key, "validation"),
             lambda: cached.evaluator(run_key, data_key, "averaged"),
             lambda: cached.pruning(run_key, data_key, "validation", "averaged"),
             lambda: cached.synergy(run_key, data_key, "validation", 10, "margin"),
             lambda: cached.evaluation(run_key, data_key)]
    try:
        for step in steps:
            if _STOP.is_set():
                return
            step()
    except Exception:  # a page computes (and reports) the same thing itself when visited
        log.exception("warming the caches of %s failed", run_key[0])
