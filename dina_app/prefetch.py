"""Compute what a deck's views need (``view_needs``) in the background, in deck order, while the first one shows.

Opening a deck on the Deck page, or presenting it, starts one thread per deck version (its file's mtime) and
recording; every session presenting that deck shares it and its progress. Each view is computed with the run
it was pinned with (by name, as its link names it) when that run is still a model of the recording, else
with the active run, the run its slide will then show.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from . import active_run, links, state, view_needs, warmup

_LOCK = threading.Lock()
_JOBS: dict[tuple, "Progress"] = {}
MAX_JOBS = 16  # finished jobs beyond this many are forgotten (oldest first)


@dataclass
class Progress:
    """How far the computation of a deck's views has come (written by its thread, read by the pages)."""
    views: int
    ready: int = 0  # views whose needs are all computed
    current: str | None = None  # what is being computed now
    ended: bool = False  # the thread is done: every view ready, or a step failed (its page computes it itself)

    def describe(self) -> str:
        if self.ended:
            return (f"All {self.views} views are ready." if self.ready == self.views else
                    f"{self.ready} of {self.views} views prepared; the others compute when they show.")
        return (f"Preparing the views in the background: {self.ready} of {self.views} ready"
                + (f" (now: {self.current})." if self.current else "."))


def _run_key(data_key: state.FileKey, params: dict[str, str]) -> state.FileKey | None:
    path = links.run_path(data_key, params.get(links.RUN, ""))
    return state.file_key(Path(path) / "model.pt") if path else active_run.active_run_key(data_key)


def start(deck_path: Path, views: list[dict], data_key: state.FileKey) -> Progress:
    """Start computing ``views``' needs (once per deck version and recording); returns the shared progress."""
    job = (str(deck_path), deck_path.stat().st_mtime_ns if deck_path.exists() else 0, data_key)
    with _LOCK:
        if job in _JOBS:
            return _JOBS[job]
        progress = _JOBS[job] = Progress(len(views))
        for old in [k for k, p in _JOBS.items() if p.ended][:max(0, len(_JOBS) - MAX_JOBS)]:
            del _JOBS[old]
    run_keys = [_run_key(data_key, v["params"]) for v in views]  # here: the session knows the active run

    def steps() -> list[view_needs.Step]:
        out = []
        for i, (view, run_key) in enumerate(zip(views, run_keys)):
            needs = [] if run_key is None else view_needs.steps(view["page"], run_key, data_key, view["params"])
            out += [(f"view {i + 1}: {what}", call) for what, call in needs]
            out.append((f"view {i + 1} ready", lambda i=i: setattr(progress, "ready", i + 1)))
        return out

    def on_step(done: int, what: str | None) -> None:
        progress.current, progress.ended = what, what is None

    warmup.background(steps, name="dina-prefetch", on_step=on_step)
    return progress
