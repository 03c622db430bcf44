"""The Across animals page: pick saved DINA runs of different recordings, compute their consistency matrix
(``dina_core.evaluate.consistency``) in the background, draw it beside its shuffled-label control.

Each computation is saved as ``<runs folder>/consistency/<timestamp>.json`` (written atomically): the core's
result with the runs and recordings it compared; the newest is shown when the page opens. A run is offered only
when its recording (``metadata["data_path"]``) lies under the data or demo folder and opens as a DINA file; a joint
run (``joint_runs``) is offered as one choice that stands for its recordings' runs, when all of them are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from dina_core.atomic import atomic_path
from dina_core.errors import DinaError
from dina_core.paths import inside, is_inside

from . import figures as F
from . import job_panel, joint_runs, jobs, saved_runs, state
from .chrome import figure_columns, guard, show

RESULTS_DIR = "consistency"  # under the runs folder: one JSON per computation
EXPLANATION = ("Consistency asks whether two animals encode the same image features: each recording's "
               "trial-averaged responses to the images they share pass its own model's neural tower, and a ridge "
               "map from one animal's representation (first principal components) predicts the other's on held-out "
               "images, scored by R²; the control is the same map with one animal's image labels shuffled, which "
               "scores near 0 or below.")
MATRICES = ("matrix", "control", "matrix_sd", "control_sd", "n_shared")


def job_key() -> str:
    """The computation this browser session started (``jobs`` registry)."""
    return f"consistency:{state.session_id()}"


def recording_of(run: dict) -> dict:
    """{'data_path', 'recording'} of a ``saved_runs.list_runs`` entry: its recording's file and name.

    Raises:
        DinaError: the run is broken or not a DINA run, records no recording, or its recording is outside the
            data and demo folders, missing or not a DINA file.
    """
    if run["problem"]:
        raise DinaError(run["problem"])
    if run["kind"] != "dina":
        raise DinaError(f"a {run['kind']} run, without a neural tower to compare")
    path = (run.get("metadata") or {}).get("data_path")
    if not path:
        raise DinaError("its metadata names no recording (data_path)")
    if not any(is_inside(root, path) for root in (state.data_dir(), state.demo_dir())):
        raise DinaError(f"its recording {path} is outside the data folder {state.data_dir()}")
    summary = state.summary(state.file_key(path))
    return {"data_path": str(Path(path).resolve()), "recording": summary.get("name") or Path(path).stem}


def candidates() -> tuple[list[dict], list[tuple[str, str]]]:
    """(usable runs, each with its recording, labelled uniquely; [(run name, why it cannot be picked)])."""
    usable, refused = [], []
    for run in saved_runs.list_runs():
        try:
            usable.append({**run, **recording_of(run)})
        except DinaError as exc:
            refused.append((run["name"], str(exc)))
    for item in usable:
        same = sum(other["recording"] == item["recording"] for other in usable)
        item["label"] = item["recording"] if same == 1 else f"{item['recording']} · {item['name']}"
    return usable, refused


def consistency_work(chosen: list[dict], out: Path) -> Callable[[jobs.Job], dict]:
    """Work that loads the chosen runs and recordings, computes ``consistency`` and writes it to ``out``."""
    def work(job: jobs.Job) -> dict:
        from dina_core.data.io import read_dataset
        from dina_core.evaluate.consistency import Recording, consistency
        from dina_core.runs.run import load_run
        recordings = []
        for item in chosen:
            if job.should_stop():
                raise jobs.Stopped
            job.set_stage(f"Loading {item['label']}")
            recordings.append(Recording(item["label"], read_dataset(item["data_path"]),
                                        load_run(item["path"], device="cpu")))
        job.set_stage("Comparing the representations")
        result = consistency(recordings)
        if job.should_stop():
            raise jobs.Stopped
        saved = {**result, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "runs": [item["path"] for item in chosen], "recordings": [item["data_path"] for item in chosen]}
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(saved, indent=1))
        return {"file": str(out)}
    return work


def _running(snap: dict) -> None:
    waiting = snap["status"] == "queued"
    st.info("Waiting for another job on this machine to finish…" if waiting else
            f"{snap['stage'] or 'Starting'}… {snap['elapsed_s']:.0f} s elapsed", icon=":material/pending:")


def job_status() -> None:
    """This session's computation: its stage, polled every second, with a Stop button while it runs."""
    job_panel.stoppable_status(job_key(), _running, stop_label="Stop", stop_key="aa.stop", stop_help="Nothing is written")


def _option(path: str, joints: dict[str, dict], by_path: dict[str, dict]) -> str:
    if path in joints:
        return f"joint run {joints[path]['name']}: the runs of {', '.join(joints[path]['recordings'])}"
    return f"{by_path[path]['label']}: run {by_path[path]['name']}"


def builder() -> None:
    """The runs to compare, the Compute button, then this session's computation's progress."""
    usable, refused = candidates()
    joints, refused_joints = joint_runs.comparable(usable)
    job = jobs.get(job_key())
    by_path = {r["path"]: r for r in usable}  # paths as options: a run re-listed with new scores stays chosen
    picked = st.multiselect("DINA runs to compare (one per recording), or joint runs", [*joints, *by_path],
                            key="aa.runs", format_func=lambda p: _option(p, joints, by_path),
                            help="Each run's own recording is read; the images the recordings share are matched "
                                 "by content. A joint run stands for the runs of all its recordings")
    expanded = {r["path"]: r for p in picked for r in (joints[p]["members"] if p in joints else [by_path.get(p)]) if r}
    chosen = list(expanded.values())  # a run picked alone and through its joint run counts once
    if not usable:
        st.caption("No saved DINA run with a readable recording yet: train one per recording (Train page).")
    if refused or refused_joints:
        st.caption("Runs that cannot be compared:  \n" + "  \n".join(f"· {n}: {why}"
                                                                      for n, why in [*refused_joints, *refused]))
    if st.button("Compute consistency", type="primary", icon=":material/play_arrow:", key="aa.start",
                 disabled=len(chosen) < 2 or (job is not None and job.live),
                 help="Two or more runs; a few seconds per pair on small recordings"):
        with guard():  # a link named consistency must not lead out of the runs folder
            out = inside(state.runs_dir(), Path(RESULTS_DIR) / f"{time.strftime('%Y%m%d-%H%M%S')}.json")
            jobs.start(job_key(), f"Consistency {out.stem}", out, consistency_work(chosen, out))
            st.rerun()
    job_status()


def result_files() -> list[Path]:
    """Saved computations, newest first; files reached through a link that leads out of the runs folder are left
    out."""
    root = state.runs_dir()
    found = [f for f in (root / RESULTS_DIR).glob("*.json") if f.is_file() and is_inside(root, f)]
    return sorted(found, key=lambda f: (f.stat().st_mtime, f.name), reverse=True)


def _cell(value: float | None, sd: float | None) -> str:
    return "–" if value is None else f"{value:.2f} ± {sd or 0:.2f}"


def pair_rows(result: dict) -> list[dict]:
    """One row per ordered pair of different recordings: R² of the column predicted from the row, its control."""
    names, rows = result["names"], []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                rows.append({"from (row)": a, "to (column)": b,
                             "R² ± sd": _cell(result["matrix"][i][j], result["matrix_sd"][i][j]),
                             "control R² ± sd": _cell(result["control"][i][j], result["control_sd"][i][j]),
                             "shared images": int(result["n_shared"][i][j])})
    return rows


def matrix_figure(result: dict, which: str, big: bool = False) -> go.Figure:
    """The K x K matrix (``which``: 'matrix' or 'control'), each cell annotated with R² ± sd and the shared images,
    the other matrix's value in the hover text."""
    names, other = result["names"], "control" if which == "matrix" else "matrix"
    k = len(names)
    z = [[float("nan") if v is None else float(v) for v in row] for row in result[which]]
    text = [[f"{_cell(result[which][i][j], result[which + '_sd'][i][j])}<br>n={result['n_shared'][i][j]}"
             for j in range(k)] for i in range(k)]
    hover = [[f"{names[j]} from {names[i]}: {_cell(result[which][i][j], result[which + '_sd'][i][j])}; "
              f"{other} {_cell(result[other][i][j], result[other + '_sd'][i][j])}; "
              f"{result['n_shared'][i][j]} shared images" for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", customdata=hover,
                               hovertemplate="%{customdata}<extra></extra>", colorscale=F.DIVERGING, zmid=0.0,
                               zmin=-1.0, zmax=1.0, hoverongaps=False,
                               colorbar={"title": {"text": "R²", "side": "right"}}))
    fig.update_xaxes(title="predicted (column)", type="category")
    fig.update_yaxes(title="predicted from (row)", type="category", autorange="reversed")
    title = "Consistency" if which == "matrix" else "Control: image labels shuffled"
    return F.style(fig, big, height=420, title=title)


@st.cache_data(max_entries=8, show_spinner=False)
def _checked(path: str, stamp: tuple) -> dict:
    """The saved result, its table and figures built once, so a hand-edited file fails here in one line."""
    try:
        result = json.loads(Path(path).read_text())
        k = len(result["names"])
        if any(len(result[m]) != k or any(len(row) != k for row in result[m]) for m in MATRICES):
            raise ValueError(f"a matrix is not {k} x {k}")
        pair_rows(result), matrix_figure(result, "matrix"), matrix_figure(result, "control")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError,
            AttributeError) as exc:
        raise DinaError(f"{path}: not a consistency result as this page writes it "
                        f"({type(exc).__name__}: {exc})"[:300]) from None
    return result


def results_panel() -> None:
    """The newest saved computation: the matrix beside its control, the pairs' table, the notes."""
    found, big = result_files(), state.presenting()
    if not found:
        st.caption("No consistency computed yet: its matrix appears here once one has run.")
        return
    try:
        result = _checked(str(found[0]), state.file_key(found[0])[1:])
    except DinaError as exc:
        st.error(f"Consistency {found[0].name} cannot be shown: {exc}", icon=":material/error:")
        return
    st.caption(f"Computed {result.get('created', '?')} · {len(result['names'])} recordings · representation: "
               f"{result.get('representation', '?')}")
    left, right = figure_columns(2)
    with left:
        show(matrix_figure(result, "matrix", big), "How well does each animal's representation (row) predict "
             "another's (column)? Held-out R² ± sd over random halves of the shared images (n).", key="aa.matrix")
    with right:
        show(matrix_figure(result, "control", big), "The same maps with one animal's image labels shuffled: "
             "what matching nothing but the images' average scores.", key="aa.control")
    st.dataframe(pair_rows(result), hide_index=True)
    for note in result.get("notes") or []:
        st.markdown(f"- {note}")
