"""Train: fit a model on the active recording, watch it learn, manage checkpoints."""

import time
from pathlib import Path

import streamlit as st

from dina_app import active_run, jobs, keys, saved_runs, state, train_options
from dina_app.chrome import guard, page_header
from dina_app.forms import dataclass_form
from dina_app.job_panel import job_progress
from dina_app.tune_panel import tune_panel, tuned_values
from dina_core.errors import DinaError
from dina_core.runs.config import TrainConfig
from dina_core.runs.folder import check_target
from dina_core.runs.names import ALLOWED, MAX_NAME_LENGTH, check_run_name


def offer(run: dict, key: str) -> None:
    """A run's validation score and a "Use this model" button (the active model is always a deliberate choice)."""
    in_use = found is not None and found[0]["path"] == run["path"]
    text = f"**{run['name']}**: {active_run.describe(run, data_key)}."
    st.markdown(text + (" Every page uses it." if in_use else ""))
    clear = active_run.score(run, data_key).clearly_above_chance
    if not in_use and st.button("Use this model", icon=":material/check:", key=key,
                                type="primary" if clear else "secondary"):
        active_run.use(data_key, run["path"])
        st.rerun()


def submit() -> None:
    """Check the run name and the options, then start the training, or say in one line why not."""
    try:  # the name and folder rules of the core: never a path, never over another run (runs.names, runs.folder)
        out_dir = state.runs_dir() / check_run_name(name.strip(), taken=saved_runs.run_folder_names())
        check_target(out_dir)
        jobs.check_free(out_dir, job_key)  # a queued training of that name has no folder yet
    except DinaError as exc:
        st.error(f"Choose another run name: {exc}")
        return
    try:  # before the job: what the core would refuse only once the files are read
        names = train_options.check(options, data_key)
    except DinaError as exc:
        st.error(f"Not started: {exc}")
        return
    try:
        train_config = TrainConfig.from_dict(train_values)
        model_config = model_cls.from_dict(model_values).to_dict()
        train_options.start(job_key, out_dir, kind, options, names, data_key, train_config, model_config)
    except (TypeError, ValueError, DinaError) as exc:  # DinaError: a device this machine lacks
        st.error(f"Invalid configuration: {exc}")
        return
    st.session_state[keys.TRAIN_RENEW] = True
    st.rerun()


page_header("Train", "Does a model learn to match this recording's responses to its images?")
with st.spinner("Loading PyTorch (first visit only)…"):
    from dina_core.model import LinearConfig, ModelConfig
big = state.presenting()
data_key = state.active_data_key()
summary = state.summary(data_key)
job_key = state.training_job_key()
job = jobs.get(job_key)
busy = job is not None and job.live
found = active_run.active(data_key)  # (the run every page uses, 'chosen' | 'default') or None

st.subheader("New run")
kind = st.segmented_control("Model", ["dina", "linear"], default="dina", key="train.kind", disabled=busy,
                            format_func={"dina": "DINA (feature-map alignment)",
                                         "linear": "Linear two-tower (baseline)"}.get) or "dina"
if keys.TRAIN_NAME not in st.session_state or st.session_state.pop(keys.TRAIN_RENEW, False):
    st.session_state[keys.TRAIN_NAME] = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"  # fixed until a run starts
options = train_options.draw(data_key, busy) if kind == "dina" else train_options.Options()
tuned = tuned_values()  # a finished tuning's chosen settings, once the user took them
with st.form("train.form", border=not big, enter_to_submit=False):  # only the button starts a run
    name = st.text_input("Run name", key=keys.TRAIN_NAME,  # no max_chars: it would cut a pasted name silently
                         help=f"A new folder of that name is written under {state.runs_dir()}: at most "
                              f"{MAX_NAME_LENGTH} {ALLOWED}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Training**")
        train_values = dataclass_form(TrainConfig, keys.TRAIN_FORM, basic=("epochs", "batch_size", "lr", "device"),
                                      values=tuned and tuned["train"])
    with right:
        st.markdown("**Model**")
        model_cls = ModelConfig if kind == "dina" else LinearConfig
        model_values = dataclass_form(model_cls, keys.model_form(kind), basic=("aligned_stages", "embed_dim"),
                                      values=tuned["model"] if tuned and kind == "dina" else None)
    submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy)

if submitted:
    submit()

chance = 1 / max(summary["images_per_tier"]["validation"] or summary["images_per_tier"]["train"] // 10, 1)
if job is not None:
    st.subheader(f"Run {job.out_dir.name}")
    stop_slot = st.empty()  # drawn live or not, so the panel keeps its place when the button goes (no stale twin)
    if busy and stop_slot.button("Stop training", icon=":material/stop:", key="train.stop",
                                 help="Ends after this step and keeps the best weights so far"):
        job.stop()
    job_progress(job_key, chance=chance)
    members = train_options.joint_folders(job.out_dir) if not busy else None  # {name: folder} of a joint run
    if members:
        st.info(f"**{job.out_dir.name}** holds one model per recording: "
                + ", ".join(f"{n} in `{folder}`" for n, folder in members.items())
                + ". Each is listed under Checkpoints while its own recording is open (Data page): choose it there "
                  "and **Use this model**.", icon=":material/folder_copy:")
    mine = {job.out_dir, *(members or {}).values()}  # a joint run's model of this recording is its member's run
    finished = next((r for r in active_run.compatible_runs(data_key) if Path(r["path"]) in mine), None)
    if not busy and finished is not None:
        offer(finished, "train.use_finished")

st.subheader("Tune on validation")
tune_panel(data_key, chance)

st.subheader("Checkpoints")
runs = saved_runs.list_runs()
for r in runs:  # a model.pt that looks whole may still not load (weights-only, cached per file)
    if r["problem"] is None:
        r["problem"] = saved_runs.checkpoint_problem(state.file_key(Path(r["path"]) / "model.pt"))
ours = {r["path"] for r in active_run.compatible_runs(data_key)}
if not runs:
    st.caption(f"No finished runs in {state.runs_dir()} yet.")
else:
    st.dataframe([{"run": r["name"], "kind": r["kind"], "this recording": "✓" if r["path"] in ours else "",
                   "in use": "●" if found and found[0]["path"] == r["path"] else "",
                   "best val top-1": None if r["best_val_top1"] is None else round(100 * r["best_val_top1"], 1),
                   "epochs": r["epochs"], "minutes": round((r["seconds"] or 0) / 60, 1),
                   "saved": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["modified"])),
                   "problem": r["problem"] or ""} for r in runs],
                 hide_index=True)
    st.caption("Runs under the runs folder (newest first); only runs trained on this recording can be used with it. "
               "Until you choose one, pages use the shipped demo run or the best-validated run that beats chance "
               "clearly (top-1 at least 3x chance, binomial p < 0.001).")
    chosen = st.selectbox("Run", runs, format_func=lambda r: r["name"], key="train.chosen")
    if chosen["problem"]:
        st.warning(f"**{chosen['name']}** is broken and cannot be used: {chosen['problem']}", icon=":material/error:")
    elif chosen["path"] in ours:
        offer(chosen, "train.use")
    else:
        st.caption(f"**{chosen['name']}** was trained on another recording ({chosen['data_name'] or 'unnamed'}).")
    deletable = Path(chosen["path"]).is_relative_to(state.runs_dir()) and chosen["path"] not in jobs.live_out_dirs()
    with st.popover("Delete…", icon=":material/delete:", disabled=not deletable):
        st.write(f"Delete **{chosen['name']}** and its checkpoints? This cannot be undone.")
        if st.button("Delete for good", type="primary", key="train.delete"):
            with guard():
                saved_runs.delete_run(chosen["path"])
                if found and found[0]["path"] == chosen["path"] and found[1] == "chosen":
                    active_run.use(data_key, None)
                st.rerun()
