"""The guard of every page that needs a model: the active run, or an explanation and a stopped page.

On the built-in demo the shipped run (``assets/demo_run``) is the model; only when it is missing or
was trained on another simulated recording does a model train at launch, and then it is DINA's
documented default (``TrainConfig()``, the configuration of the shipped run and of the README's
benchmark), never a weaker quick variant. It trains in the background: the Data and Train pages
work meanwhile.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError

from . import active_run, jobs, keys, saved_runs, state
from .job_panel import job_progress

# Minutes the default model takes on the demo when the shipped run.json cannot say (assets/demo_run, 2 CPU cores).
FALLBACK_TRAIN_MINUTES = 5


def shipped_train_minutes() -> int:
    """Minutes (rounded, at least 1) the shipped demo run took to train (its run.json), else FALLBACK_TRAIN_MINUTES."""
    try:
        seconds = float(json.loads((state.demo_run_dir() / "run.json").read_text())["metadata"]["train_seconds"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return FALLBACK_TRAIN_MINUTES
    return max(1, round(seconds / 60)) if math.isfinite(seconds) else FALLBACK_TRAIN_MINUTES


def require_run(data_key: state.FileKey) -> state.FileKey:
    """The active run's key; otherwise say why there is none (training the demo's default model if needed), and stop."""
    run_key = active_run.active_run_key(data_key)
    if run_key is not None:
        try:
            run = saved_runs.load_run(run_key)  # cached: the page's own load finds it ready
        except DinaError as exc:
            st.error(f"The model **{saved_runs.run_label(run_key)}** cannot be used: {exc}", icon=":material/error:")
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
    runs = active_run.compatible_runs(data_key)
    if runs:
        best = max(runs, key=lambda r: active_run.score(r, data_key).top1 or 0)
        st.warning(f"{len(runs)} run(s) were trained on this recording, but none beats chance clearly on its "
                   f"validation images (best: **{best['name']}**, {active_run.describe(best, data_key)}), so none "
                   "is used without asking. Choose one deliberately on the Train page, or train a better one.",
                   icon=":material/warning:")
        st.page_link("pages/train.py", label="Train page", icon=":material/model_training:")
    elif state.is_demo(data_key):
        job = _default_demo_job(data_key)
        st.info(f"{_why_no_shipped_run(data_key)} So DINA's default model (the shipped run's configuration: up to "
                "25 epochs, early stopping on validation) is being trained on this machine, which takes about "
                f"{shipped_train_minutes()} minutes on 2 CPU cores (the ETA is below). The Data and Train pages work "
                "meanwhile; this page opens with the model when it is done.", icon=":material/hourglass_top:")
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
        check_same_data(saved_runs.load_run(run_key).metadata, state.identity(data_key), source=Path(data_key[0]).name,
                        hint="choose a run trained on this recording, or open the recording the run was trained on")
    except OtherDataError as exc:
        st.error(f"The model **{saved_runs.run_label(run_key)}** was not trained on this recording, so it is not "
                 f"scored on it. {exc}", icon=":material/block:")
        st.page_link("pages/train.py", label="Choose a run on the Train page", icon=":material/model_training:")
        st.stop()


def _why_no_shipped_run(data_key: state.FileKey) -> str:
    folder = state.demo_run_dir()
    if not (folder / "model.pt").is_file() or not (folder / "run.json").is_file():
        return f"No trained demo model ships with this copy of DINA ({folder} has no model.pt and run.json)."
    try:
        made_by = json.loads((folder / "run.json").read_text())["metadata"].get("data_provenance")
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return f"The shipped demo model's {folder / 'run.json'} cannot be read."
    now = state.identity(data_key).get("data_provenance")
    return (f"The shipped demo model ({folder}) was trained on another simulated recording (provenance "
            f"{made_by}; this copy's simulator makes {now}: another simulator version or configuration).")


def _default_demo_job(data_key: state.FileKey) -> jobs.Job | None:
    """The demo's default-model training, started unless it failed and the user has not asked to retry."""
    from dina_core.runs.config import TrainConfig

    fp = state.fingerprint(data_key)
    key = keys.demo_job(fp)
    job = jobs.get(key)
    retry = job is not None and job.status == "failed"
    if retry:
        st.error(f"Training the demo model failed: {job.error}")
        if not st.button("Try again", icon=":material/refresh:"):
            return None
    out = state.runs_dir() / f"demo-default-{fp}"
    # Resume what an earlier session began; a retry starts afresh over it (the app's own model of the demo),
    # since resuming is what may have failed (a state of another DINA version's settings).
    return jobs.start_training(key, "default demo model", state.load_data(data_key), out, TrainConfig(),
                               metadata={"data_path": data_key[0]}, resume=not retry, overwrite=retry)
