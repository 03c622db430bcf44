"""The guard of every page that needs a model: the active run, or an explanation (and, on the demo,
a quick demo model training in the background) and a stopped page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError

from . import jobs, keys, state
from .job_panel import job_progress

QUICK_DEMO_EPOCHS = 6  # quick fallback demo model: a few minutes on 2 cores (the shipped run trains fully)


def require_run(data_key: state.FileKey) -> state.FileKey:
    """The active run's key; otherwise (none, or one that does not load) explain, start the quick demo
    model if this is the demo, and stop."""
    run_key = state.active_run_key(data_key)
    if run_key is not None:
        try:
            run = state.load_run(run_key)  # cached: the page's own load finds it ready
        except DinaError as exc:
            st.error(f"The model **{state.run_label(run_key)}** cannot be used: {exc}", icon=":material/error:")
            st.page_link("pages/train.py", label="Choose or train another on the Train page",
                         icon=":material/model_training:")
            st.stop()
        _refuse_other_data(run_key, data_key)
        seeds = getattr(run.model, "seeds", None)
        if seeds:
            st.caption(f"This model is a {len(seeds)}-seed ensemble (seeds {', '.join(map(str, seeds))}): retrieval "
                       f"averages its members' similarities; maps, attributions, probes and neurons show its first "
                       f"member (seed {seeds[0]}).")
        return run_key
    if state.is_demo(data_key):
        job = _quick_demo_job(data_key)
        st.info("No trained demo model ships with this copy of DINA yet, so a quick one is being trained "
                f"({QUICK_DEMO_EPOCHS} epochs, a few minutes on 2 CPU cores). Every page uses it when it is done.",
                icon=":material/hourglass_top:")
        if job is not None:
            job_progress(job.key)
    else:
        st.warning("No model has been trained on this recording yet.", icon=":material/model_training:")
        st.page_link("pages/train.py", label="Train one on the Train page", icon=":material/model_training:")
    st.stop()


def _refuse_other_data(run_key: state.FileKey, data_key: state.FileKey) -> None:
    """Stop the page when the active run was trained on another recording: its scores here would mislead."""
    from dina_core.runs.data_check import OtherDataError, check_same_data

    try:
        check_same_data(state.load_run(run_key).metadata, state.identity(data_key), source=Path(data_key[0]).name,
                        hint="choose a run trained on this recording, or open the recording the run was trained on")
    except OtherDataError as exc:
        st.error(f"The model **{state.run_label(run_key)}** was not trained on this recording, so it is not "
                 f"scored on it. {exc}", icon=":material/block:")
        st.page_link("pages/train.py", label="Choose a run on the Train page", icon=":material/model_training:")
        st.stop()


def _quick_demo_job(data_key: state.FileKey) -> jobs.Job | None:
    """The recording's quick demo training, started unless it failed and the user has not asked to retry."""
    from dina_core.runs.config import TrainConfig

    fp = state.fingerprint(data_key)
    key = keys.demo_job(fp)
    job = jobs.get(key)
    retry = job is not None and job.status == "failed"
    if retry:
        st.error(f"Training the demo model failed: {job.error}")
        if not st.button("Try again", icon=":material/refresh:"):
            return None
    out = state.runs_dir() / f"demo-quick-{fp}"
    # Resume what an earlier session began; a retry starts afresh over it (the app's own throwaway model),
    # since resuming is what may have failed (a state of another DINA version's settings).
    return jobs.start_training(key, "quick demo model", state.load_data(data_key), out,
                               TrainConfig(epochs=QUICK_DEMO_EPOCHS, patience=3), metadata={"data_path": data_key[0]},
                               resume=not retry, overwrite=retry)
