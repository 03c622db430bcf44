"""Streamlit pieces every page shares: the sidebar, presentation mode, errors, run guard, job progress."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError

from . import figures, jobs, state

PRESENTATION_CSS = """<style>
html, body, .stApp { font-size: 21px; }
.stApp h1 { font-size: 2.9rem !important; }
.stApp h2 { font-size: 2.1rem !important; }
.stApp h3 { font-size: 1.6rem !important; }
.stApp [data-testid="stMarkdownContainer"] p, .stApp li { font-size: 1.25rem; line-height: 1.5; }
.stApp [data-testid="stCaptionContainer"] { font-size: 1.15rem; color: #333; }
.stApp [data-testid="stMetricValue"] p { font-size: 3.2rem !important; line-height: 1.15; }
.stApp [data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stSidebar"] { min-width: 330px; }
.stApp .stProgress p { font-size: 1.2rem; }
.stApp label p { font-size: 1.15rem !important; }
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none; }
.block-container { padding-top: 1.5rem; max-width: 96%; }
</style>"""
BASE_CSS = """<style>
.block-container { padding-top: 2.2rem; }
.stApp [data-testid="stCaptionContainer"] { font-size: 0.95rem; color: #3d4450; }
</style>"""
QUICK_DEMO_EPOCHS = 6  # quick fallback demo model: a few minutes on 2 cores (the shipped run trains fully)


def presentation_toggle() -> bool:
    on = st.sidebar.toggle("Presentation mode", key=state.KEY_PRESENT,
                           help="Large fonts and figures, fewer controls: for a projector.")
    st.markdown(PRESENTATION_CSS if on else BASE_CSS, unsafe_allow_html=True)
    return on


def adopt_finished_training() -> None:
    """Once this session's training has saved its model, make it the active run (before the sidebar names it)."""
    job = jobs.get(state.training_job_key())
    if (job is not None and not job.live and (job.out_dir / "model.pt").is_file()
            and st.session_state.get(state.KEY_ADOPTED) != str(job.out_dir)):
        st.session_state[state.KEY_ADOPTED] = str(job.out_dir)
        state.set_active_run(job.out_dir)


def sidebar_status() -> None:
    """What the user is looking at, on every page."""
    with guard():
        data_key = state.active_data_key()
        summary = state.summary(data_key)
        st.sidebar.caption("Recording")
        st.sidebar.markdown(f"**{summary.get('name') or Path(data_key[0]).name}**  \n"
                            f"{summary['n_neurons']:,} neurons · {summary['n_images']:,} images")
        run_key = state.active_run_key(data_key)
        st.sidebar.caption("Model")
        st.sidebar.markdown(f"**{state.run_label(run_key)}**" if run_key else "*none trained yet*")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a DinaError's message (naming the file and field) instead of a traceback."""
    try:
        yield
    except DinaError as exc:
        st.error(str(exc), icon=":material/error:")


def show(fig, caption: str, key: str | None = None) -> None:
    """A figure with the caption that says which question it answers."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})
    st.caption(caption)


def page_header(title: str, question: str) -> None:
    """Every page's first call: its title and the one question it answers."""
    st.title(title)
    st.markdown(f"*{question}*")


def require_run(data_key: state.FileKey) -> state.FileKey:
    """The active run's key; otherwise explain, start the quick demo model if this is the demo, and stop."""
    run_key = state.active_run_key(data_key)
    if run_key is not None:
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


def _quick_demo_job(data_key: state.FileKey) -> jobs.Job | None:
    from dina_core.runs.config import TrainConfig
    from dina_core.model.device import resolve_device

    fp = state.fingerprint(data_key)
    key = f"demo:{fp}"
    job = jobs.get(key)
    if job is not None and job.status == "failed":
        st.error(f"Training the demo model failed: {job.error}")
        if not st.button("Try again", icon=":material/refresh:"):
            return None
    out = state.runs_dir() / f"demo-quick-{fp}"
    config = TrainConfig(epochs=QUICK_DEMO_EPOCHS, patience=3)
    return jobs.start(key, "quick demo model", out, jobs.training_work(
        state.load_data(data_key), out, "dina", None, config, {"data_path": data_key[0]}, resume=True),
        meta={"epochs": config.epochs, "device": str(resolve_device(config.device))})


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
            st.progress(0.0, text=f"{stage}starting… ({_eta(snap['elapsed_s'])} elapsed)")
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


def dataclass_form(cls: type, key: str, basic: tuple[str, ...], values: dict | None = None) -> dict:
    """Inputs for a config dataclass's fields, labelled and explained by the fields' own comments.

    Fields in ``basic`` are shown directly, the rest in an "Advanced" expander (hidden, at their
    defaults, in presentation mode). Tuples are typed as comma-separated lists. Returns {field: value}.
    """
    from dataclasses import MISSING, fields

    from .analysis import config_help

    helps, out = config_help(cls), {}
    advanced = [f for f in fields(cls) if f.name not in basic]
    boxes = [(st.container(), [f for f in fields(cls) if f.name in basic])]
    if advanced and not state.presenting():
        boxes.append((st.expander("Advanced"), advanced))
    for box, group in boxes:
        for f in group:
            default = (values or {}).get(f.name, f.default if f.default is not MISSING else f.default_factory())
            label, k, help_ = f.name.replace("_", " "), f"{key}.{f.name}", helps.get(f.name) or None
            if isinstance(default, bool):
                out[f.name] = box.checkbox(label, value=default, key=k, help=help_)
            elif isinstance(default, int):
                out[f.name] = int(box.number_input(label, value=default, step=1, key=k, help=help_))
            elif isinstance(default, float):
                out[f.name] = float(box.number_input(label, value=default, format="%.4g", key=k, help=help_,
                                                     step=max(abs(default) / 10, 1e-4)))
            elif isinstance(default, tuple):
                kind = type(default[0]) if default else str
                text = box.text_input(label, value=", ".join(map(str, default)), key=k, help=help_)
                try:
                    out[f.name] = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
                except ValueError:
                    box.error(f"{label}: expected a comma-separated list of {kind.__name__} values")
                    out[f.name] = default
            elif f.name == "device":
                out[f.name] = box.selectbox(label, ["auto", "cpu", "cuda"], key=k, help=help_)
            else:
                out[f.name] = box.text_input(label, value=str(default), key=k, help=help_)
    for f in advanced if state.presenting() else []:
        out[f.name] = f.default if f.default is not MISSING else f.default_factory()
    return out
