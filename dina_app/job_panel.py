"""The live progress panels of background jobs (``jobs``): a training's progress bar, ETA, loss and validation
curves (``job_progress``), and any job's status with a Stop button (``stoppable_status``)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from . import figures, jobs, state
from .chrome import guard, show


def _eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


def job_progress(key: str, curves: bool = True, chance: float | None = None) -> None:
    """Live progress of a background job, polled every second while it runs; reruns the page when it ends."""
    job = jobs.get(key)
    if job is None:
        return
    big = state.presenting()

    @st.fragment(run_every=1.0 if job.live else None)
    def panel() -> None:
        with guard():  # a fragment reruns alone, outside app.py's error handler
            draw(job.snapshot())
        if was_live and not job.live:
            st.rerun(scope="app")

    def draw(snap: dict) -> None:
        stage = f"{snap['stage']} · " if snap["stage"] else ""
        last = snap["last"]
        if snap["status"] == "queued":
            st.progress(0.0, text="Waiting for another training on this machine to finish…")
        elif last:
            done = last["step"] / max(last["total_steps"], 1)
            n_epochs = snap["meta"].get("epochs", "?")
            text = (f"{stage}epoch {last['epoch'] + 1}/{n_epochs} · step {last['step']}/{last['total_steps']} · "
                    f"loss {last['loss']:.3f} · ETA {_eta(last['eta_s'])} (at most; early stopping may end sooner)")
            st.progress(1.0 if snap["status"] == "finished" else min(done, 1.0), text=text)
        elif snap["status"] == "running":
            st.progress(0.0, text=f"{stage}starting: preparing the data (DINA: and fitting its linear level first)… "
                                  f"({_eta(snap['elapsed_s'])} elapsed)")
        if snap["meta"].get("device"):
            st.caption(f"Training on **{snap['meta']['device']}** · {_eta(snap['elapsed_s'])} elapsed")
        if snap["status"] == "failed":
            st.error(f"{snap['label']} failed: {snap['error']}")
        elif snap["status"] in ("finished", "stopped"):
            st.success(f"{snap['label']}: {snap['status']}.", icon=":material/check_circle:")
        if curves and snap["losses"]:
            left, right = st.columns(2)
            steps, losses = zip(*snap["losses"])
            with left:
                show(figures.lines({"training loss": (list(steps), list(losses))}, "step", "InfoNCE loss",
                                   big=big, percent=False, height=300),
                     "Is the model learning? The contrastive loss falls as matching pairs are pulled together.")
            with right:
                if snap["val_top1"]:
                    epochs, val = zip(*snap["val_top1"])
                    show(figures.lines({"validation top-1": ([e + 1 for e in epochs], list(val))}, "epoch",
                                       "top-1 accuracy", big=big, chance=chance, height=300),
                         "Does it generalise? Retrieval accuracy on held-out validation images after each epoch.")
                else:
                    st.caption("Validation accuracy appears after the first epoch.")

    was_live = job.live
    panel()


def stoppable_status(key: str, running: Callable[[dict], None], *, stop_label: str, stop_key: str, stop_help: str,
                     finished: str | None = None) -> None:
    """The status of job ``key``, polled every second while it lives, with a Stop button.

    ``running(snapshot)`` draws a queued or running job; a failed job is one error line, a stopped one says nothing
    was written, a finished one says ``finished`` (nothing when None); the page reruns once the job ends.
    """
    job = jobs.get(key)
    if job is None:
        return
    was_live = job.live
    if was_live and st.button(stop_label, icon=":material/stop:", key=stop_key, help=stop_help):
        job.stop()

    @st.fragment(run_every=1.0 if was_live else None)
    def panel() -> None:
        snap = job.snapshot()
        if snap["status"] in jobs.LIVE:
            running(snap)
        elif snap["status"] == "failed":
            st.error(f"{snap['label']} failed: {snap['error']}", icon=":material/error:")
        elif snap["status"] == "stopped":
            st.info(f"{snap['label']}: stopped; nothing was written.", icon=":material/stop:")
        elif finished is not None:
            st.success(f"{snap['label']}: {finished}", icon=":material/check_circle:")
        if was_live and not job.live:
            st.rerun(scope="app")

    panel()
