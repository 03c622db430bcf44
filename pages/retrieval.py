"""Retrieval: does the decoder find the right image?"""

from pathlib import Path

import numpy as np
import streamlit as st

from dina_app import analysis, cached, jobs, keys, labels, links, saved_runs, state
from dina_app import figures as F
from dina_app.chrome import figure_columns, page_header, show
from dina_app.job_panel import job_progress
from dina_app.run_guard import require_run
from dina_core.paths import inside
from dina_core.runs.config import TrainConfig

POINT_COLORS = {"ridge": F.RED, "encoding": "#6d4c41"}  # baselines scored as top-1/top-5 points, not curves

page_header("Retrieval", "Does the decoder find the right image among all test images?")
big = state.presenting()
data_key = state.active_data_key()
run_key = require_run(data_key)
data = state.load_data(data_key)

levels = ["combined", *cached.levels(run_key)]
if big:  # presentation: the view's level without its control, and no empty column where it would be
    level, (c2, c3) = links.hidden("retrieval.level", "combined", options=levels), st.columns([1.5, 1])
else:
    c1, c2, c3 = st.columns([1, 1.3, 1])
    level = c1.selectbox("Feature-map level", levels, key=links.key("retrieval.level", options=levels),
                         format_func=labels.level,
                         help="combined: the retrieval score (weighted sum over aligned levels); or one level alone")
responses = c2.segmented_control("Responses", list(analysis.RESPONSES), format_func=analysis.RESPONSES.get,
                                 default="averaged",
                                 key=links.key("retrieval.responses", options=list(analysis.RESPONSES))) or "averaged"
k = c3.slider("Candidates shown", 3, 12, 6, key=links.key("retrieval.k", lo=3, hi=12))
emb = cached.embeddings(run_key, data_key, None if level == "combined" else level)
n = len(emb["candidates"])

to_image, to_response = st.tabs(["Response → images", "Image → responses"])
with to_image:
    n_queries = n if responses == "averaged" else len(emb["trials"])
    q = st.slider("Test response", 0, n_queries - 1, 0, key=links.key("retrieval.query", lo=0, hi=n_queries - 1),
                  help="averaged: one repeat-averaged response per test image; single trial: one trial")
    top = analysis.query_topk(emb, "neural_to_image", responses, q, k)
    st.markdown(f"**The true image ranks #{top['true_rank']} of {n}.**")
    show(F.ranked_images(data.images[top["image_rows"]], top["scores"], top["correct"], big=big),
         "Which images does this response point to? The best-scoring test images, with their similarity; "
         "the image actually shown is framed in green.")
with to_response:
    single = responses == "single_trial"
    n_repeats = int(np.bincount(emb["trial_target"]).max()) if single else 1  # repeat sets (tasks.repeat_sets)
    s1, s2 = st.columns([2, 1]) if n_repeats > 1 and not big else (st, None)
    q = s1.slider("Test image", 0, n - 1, 0, key=links.key("retrieval.image", lo=0, hi=n - 1))
    if s2 is not None:
        repeat = s2.slider("Repeat", 1, n_repeats, 1, key=links.key("retrieval.repeat", lo=1, hi=n_repeats),
                           help="Single trials are scored N-way: the image ranks one trial of every test image "
                                "(repeat 1: each image's first presentation, and so on)") - 1
    else:  # one presentation per image, or presentation mode: the view's own repeat without its control
        repeat = (links.hidden("retrieval.repeat", 1, lo=1, hi=n_repeats) if n_repeats > 1 else 1) - 1
    top = analysis.query_topk(emb, "image_to_neural", responses, q, k, repeat=repeat)
    among = f"the {top['n']} trials of repeat {repeat + 1} (one per test image)" if single else f"{top['n']}"
    st.markdown(f"**Its own response ranks #{top['true_rank']} of {among}.**")
    show(F.ranked_images(data.images[top["image_rows"]], top["scores"], top["correct"], big=big),
         "Which responses does this image predict? Each best-scoring response is shown by the image it was "
         "recorded for; the response to this very image is framed in green.")

scores, _ = analysis.similarity(emb, responses)
rows_title = "test response" if responses == "averaged" else "test trial (grouped by image)"
fig = F.heatmap(scores, "test image", rows_title, big=big, height=520, colorbar="similarity (z in row)", zmid=None,
                colorscale="Viridis")
show(fig, "Is every response most similar to its own image? Similarity of each test response (rows) with each "
          "test image (columns), standardised within each row; a bright diagonal means correct retrieval.")

st.subheader("Top-k accuracy")
direction = st.segmented_control("Direction", list(analysis.DIRECTIONS), format_func=analysis.DIRECTIONS.get,
                                 default="neural_to_image",
                                 key=links.key("retrieval.direction", options=list(analysis.DIRECTIONS))) \
    or "neural_to_image"
fp = state.fingerprint(data_key)
bench = analysis.find_benchmark(state.runs_dir(), fp)
ks = np.arange(1, n + 1)
ceiling = cached.ceiling_curves(run_key, data_key)
panels = figure_columns(2)
dina = "DINA" if level == "combined" else f"DINA, {labels.level(level)}"
for panel, mode in zip(panels, analysis.RESPONSES):
    curves = {dina: (ks, analysis.topk_curve(cached.ranks(run_key, data_key, None if level == "combined" else level,
                                                          direction, mode), n))}
    hover = {dina: f"DINA: run {saved_runs.run_label(run_key)}"}  # the full id on hover, the legend keeps it short
    for name, folder in sorted((bench or {}).get("runs", {}).items()):
        if Path(folder) != Path(run_key[0]).parent:
            key = state.file_key(Path(folder) / "model.pt")
            ranks = cached.ranks(key, data_key, None, direction, mode)
            curves[labels.model(name)] = (ks, analysis.topk_curve(ranks, n))
            hover[labels.model(name)] = f"{labels.model(name)}: run {folder}"
    fig = F.lines(curves, "k (candidates accepted)", "top-k accuracy", big=big, chance=(ks, ks / n), log_x=n > 20,
                  dashes={labels.model("shuffled_null"): "dot"}, hover=hover)
    for row in (bench or {}).get("metrics", {}).get("rows", []):
        if row["model"] in POINT_COLORS and row["direction"] == direction and row["responses"] == mode:
            F.add_points(fig, labels.model(row["model"]), [1, 5], [row["top1"], row["top5"]],
                         [[row["top1"] - row["ci95_top1"][0], row["ci95_top1"][1] - row["top1"]], [0, 0]],
                         color=POINT_COLORS[row["model"]])
    if (direction, mode) in ceiling["curves"]:
        F.add_ceiling(fig, ceiling["curves"][direction, mode])
    with panel:
        show(F.style(fig, big, title=analysis.RESPONSES[mode]),
             f"How often is the right {'image' if direction == 'neural_to_image' else 'response'} among the top k "
             f"of {n}? Higher than the chance line (k/N) means the decoder uses the response.")
st.caption("**Noise ceiling** (dashed): how well one recorded response identifies another response to the same "
           "image, from the test repeats (averaged: half the repeats against the other half). It is a "
           "response-to-response bound, not a proof that no model can do better." if ceiling["curves"] else
           f"No noise ceiling on this recording: {ceiling['note']}.")

baselines_key = keys.baselines_job(fp)
if bench is None or "linear" not in bench["runs"]:
    st.caption("No baselines on this recording yet: a linear two-tower model (trained like DINA) and ridge-regression "
               "identification (Kay et al. 2008) put the curves in context.")
    job = jobs.get(baselines_key)
    if st.button("Run the fast baselines (linear + ridge)", icon=":material/compare_arrows:", key="retrieval.baselines",
                 disabled=job is not None and job.live):
        out = inside(state.runs_dir(), Path("benchmarks") / fp)  # a link named benchmarks must not lead out
        jobs.start(baselines_key, "Baselines", out, jobs.benchmark_work(data, out, ("linear", "ridge"), TrainConfig()),
                   meta={"epochs": TrainConfig().epochs})
        st.rerun()
job_progress(baselines_key, curves=False)
