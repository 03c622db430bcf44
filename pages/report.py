"""Report: one click to a self-contained HTML report; PNG export of single figures."""

import re
import time

import streamlit as st

from dina_app import analysis, cached, keys, labels, report, report_validation, saved_runs, state
from dina_app.chrome import page_header
from dina_app.run_guard import require_run

page_header("Report", "What do I send to my collaborators?")
data_key = state.active_data_key()
run_key = require_run(data_key)
summary = state.summary(data_key)
run = saved_runs.load_run(run_key)

benchmark = analysis.find_benchmark(state.runs_dir(), state.fingerprint(data_key))
validation = report_validation.latest(state.runs_dir(), state.fingerprint(data_key))
st.markdown("The report holds the recording and model summaries, the test retrieval table with 95% intervals"
            + (", the baselines run on this recording (the Retrieval page's benchmark)" if benchmark else "")
            + (", the newest model validation of this recording (its table and layer profile)" if validation else "")
            + ", the main figures (interactive, with plotly.js inside the file so it opens offline) and what to cite.")
interpret = st.checkbox("Include alignment, pruning and probe figures (slower the first time)", value=True,
                        key="report.interpret")
if st.button("Build the report", type="primary", icon=":material/description:", key="report.build"):
    with st.spinner("Computing the figures…"):
        sections = report.collect(data_key, run_key, interpret, benchmark, validation)
        best = run.metadata.get("best_val_top1")
        info = {"run": saved_runs.run_label(run_key), "model": labels.RUN_KINDS.get(run.kind, run.kind),
                "epochs trained": len(run.history),
                "best validation top-1": "–" if best is None else f"{100 * best:.1f}%",
                "device": run.metadata.get("device"),
                "data fingerprint": run.metadata.get("data_fingerprint"), "model config": run.model_config,
                "train config": run.train_config.to_dict()}
        html = report.build_html(sections, summary, info, cached.evaluation(run_key, data_key), benchmark,
                                 validation)
    st.session_state[keys.REPORT_HTML] = html
    st.session_state[keys.REPORT_TITLES] = [s.title for s in sections]
    st.session_state[keys.REPORT_FIGURES] = {s.title: s.figure for s in sections}

if keys.REPORT_HTML in st.session_state:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", str(summary.get("name") or "recording"))[:40]
    st.download_button("Download the HTML report", st.session_state[keys.REPORT_HTML], mime="text/html",
                       file_name=f"dina-report-{name}-{time.strftime('%Y%m%d')}.html", icon=":material/download:",
                       key="report.download", on_click="ignore")
    size_mb = len(st.session_state[keys.REPORT_HTML]) / 1e6
    st.caption(f"{size_mb:.1f} MB, one file: open it in any browser, no network needed.")

    st.subheader("Figures as PNG")
    title = st.selectbox("Figure", st.session_state[keys.REPORT_TITLES], key="report.png_title")
    png_problem = report.png_export_problem()
    if png_problem:
        st.caption(png_problem)
    if st.button("Render PNG", icon=":material/image:", key="report.png", disabled=bool(png_problem)):
        with st.spinner("Rendering with Chromium…"):
            st.session_state[keys.REPORT_PNG] = (title, report.figure_png(st.session_state[keys.REPORT_FIGURES][title]))
    if st.session_state.get(keys.REPORT_PNG, ("", None))[0] == title:
        png = st.session_state[keys.REPORT_PNG][1]
        st.image(png, caption=title)
        st.download_button("Download PNG", png, file_name=f"{re.sub(r'[^A-Za-z0-9]+', '_', title)}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="report.png_download")
