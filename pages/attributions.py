"""Attributions: which image regions drive the match?"""

import numpy as np
import streamlit as st

from dina_app import cached, labels, links, saved_runs, state
from dina_app import map_figures as M
from dina_app import view_needs as V
from dina_app.chrome import figure_columns, page_header, show
from dina_app.run_guard import require_run
from dina_core.interpret import ground_truth
from dina_core.interpret.attribution import BASELINES, SPATIAL_METHODS, TARGETS
from dina_core.interpret.regions import mean_abs_map

METHOD_NAMES = {"integrated_gradients": "Integrated gradients", "saliency": "Saliency (gradient)",
                "gradient_shap": "GradientSHAP", "occlusion": "Occlusion", "grad_cam": "Grad-CAM"}
page_header("Attributions", "Which image regions make the model match this response to its image?")
big = state.presenting()
data_key = state.active_data_key()
run_key = require_run(data_key)
data = state.load_data(data_key)
gt = data.ground_truth

n = len(cached.embeddings(run_key, data_key, None)["candidates"])
available = [m for m in SPATIAL_METHODS if m != "grad_cam" or cached.is_dina(run_key)]  # Grad-CAM needs a CNN layer
methods = st.multiselect("Methods", available, default=V.ATTR_METHODS,
                         format_func=METHOD_NAMES.get, key=links.key("attr.methods", options=available, multi=True),
                         max_selections=4)  # own row: 4 fit
c1, c2 = st.columns(2)
pos = c1.slider("Test image", 0, n - 1, 0, key=links.key("attr.image", lo=0, hi=n - 1))
opacity = c2.slider("Map opacity", 0.0, 1.0, 0.65, 0.05, key=links.key("attr.opacity", lo=0.0, hi=1.0))
explained = [None, *cached.levels(run_key)]
if big:  # presentation: the view's own method parameters, without their controls
    target = links.hidden("attr.target", V.ATTR_TARGET, options=TARGETS)
    baseline = links.hidden("attr.baseline", V.ATTR_BASELINE, options=BASELINES)
    n_steps = links.hidden("attr.steps", V.ATTR_STEPS, options=V.ATTR_STEP_CHOICES)
    size = links.hidden("attr.window", V.ATTR_WINDOW, lo=2, hi=12)
    stage = links.hidden("attr.stage", None, options=explained)
else:
    with st.expander("Method parameters"):
        p1, p2, p3, p4 = st.columns(4)
        target = p1.selectbox("Explain", TARGETS, key=links.key("attr.target", options=TARGETS),
                              format_func=labels.ATTRIBUTION_TARGETS.get,
                              help="similarity of the true pair, or its margin over the other responses")
        baseline = p2.selectbox("Reference image", BASELINES, key=links.key("attr.baseline", options=BASELINES),
                                format_func=labels.ATTRIBUTION_BASELINES.get,
                                help="mean grey, or the image blurred (keeps coarse luminance)")
        n_steps = p3.slider("Integration steps", 8, 64, V.ATTR_STEPS, 8,
                            key=links.key("attr.steps", options=V.ATTR_STEP_CHOICES))
        size = p4.slider("Occlusion patch (px)", 2, 12, V.ATTR_WINDOW, key=links.key("attr.window", lo=2, hi=12))
        stage = st.selectbox("Level explained", explained, key=links.key("attr.stage", options=explained),
                             format_func=labels.level)
top_n = st.slider("True receptive fields of the top-k driven neurons", 0, 30, 10, key=links.key("attr.rf", lo=0, hi=30),
                  help="Simulated data only: outlines of the RFs of the neurons this image drives most") if gt else 0
key_params = V.attribution_key(target, baseline, n_steps, size, stage)

if methods:
    results = {m: cached.attributions(run_key, data_key, m, (pos,), key_params) for m in methods}
    image_row = int(results[methods[0]]["image_rows"][0])
    union = cached.rf_union(data_key, run_key, (image_row,), top_n) if top_n else None
    fig = M.overlays(data.images[image_row], [results[m]["maps"][0] for m in methods],
                     [METHOD_NAMES[m] for m in methods], opacity, big=big, contours=union)
    show(fig, "Which pixels does each method credit? Red pixels raise the similarity of the true pair, blue lower "
         "it; each map is scaled to its own peak, so the methods compare by where they point, not by size."
         + (f" Green: true RFs of the {top_n} neurons this image drives most." if union is not None else ""),
         key="attr.fig")

st.subheader("Across the test set")
a1, a2 = st.columns([1, 2], vertical_alignment="bottom")
aggregated = methods or ["integrated_gradients"]
method = a1.selectbox("Method", aggregated, format_func=METHOD_NAMES.get, key=links.key("attr.agg", options=aggregated))
if a2.toggle(f"Aggregate over all {n} test images", key=links.key("attr.aggregate", options=[False, True]),
             help="Runs the method on every test pair: seconds to a minute"):
    result = cached.attributions(run_key, data_key, method, tuple(range(n)), key_params)
    maps, rows = result["maps"], result["image_rows"]
    left, right = figure_columns([3, 2])
    with left:
        union = cached.rf_union(data_key, run_key, tuple(int(r) for r in rows), max(top_n, 1)) if gt else None
        coverage = None if union is None else union.mean(axis=0)[None] > 0.25
        fig = M.overlay(data.images[rows].mean(axis=0), mean_abs_map(maps), 0.8, symmetric=False, big=big,
                        contours=coverage, title=f"mean |{METHOD_NAMES[method]}|", height=360)
        show(fig, "Where does the evidence usually lie? Mean absolute attribution over the test pairs"
             + (", with the screen region covered by the driven neurons' RFs in green." if gt else "."))
    with right:
        if gt:
            args = (rows, gt, max(top_n, 1), saved_runs.load_run(run_key).preprocessing.neuron_indices)
            st.metric("Peak inside the driven neurons' RFs", f"{ground_truth.attribution_rf_hit_rate(maps, *args):.0%}")
            st.metric("… inside another image's driven RFs", f"{ground_truth.mismatched_image_rate(maps, *args):.0%}")
            st.metric("… for a random pixel", f"{ground_truth.random_location_rate(*args):.0%}")
            st.caption("Do attributions point at the right neurons' receptive fields? Simulated ground truth: well "
                       "above both controls means the attribution follows what this image drives.")
        else:
            st.caption(f"Spread: mean |attribution| is {np.abs(maps).mean():.3g} per pixel. Ground-truth receptive "
                       "fields exist only for simulated recordings.")
