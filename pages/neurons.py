"""Neurons: which neurons carry the match?"""

import numpy as np
import streamlit as st

from dina_app import analysis, cached, labels, links, saved_runs, state
from dina_app import figures as F
from dina_app import map_figures as M
from dina_app import result_figures as R
from dina_app.chrome import figure_columns, guard, page_header, show
from dina_app.run_guard import require_run
from dina_core.interpret.neurons import model_columns, order, strong_responder_auc

TIERS = ["validation", "test"]
page_header("Neurons", "Which neurons carry the match, and how few are enough?")
big = state.presenting()
data_key = state.active_data_key()
run_key = require_run(data_key)
run, data = saved_runs.load_run(run_key), state.load_data(data_key)

c1, c2 = (st, st) if big else st.columns(2)  # presentation: one control fewer, no gap; the view's tier kept
tier = links.hidden("neurons.tier", "validation", options=TIERS) if big else c1.segmented_control(
    "Rank neurons on", TIERS, default="validation", key=links.key("neurons.tier", options=TIERS),
    help="validation: the ranking never sees the test images it is scored on (honest subset sizes); test: "
         "repeat-averaged, less noisy, mildly optimistic") or "validation"
responses = c2.segmented_control("Responses", list(analysis.RESPONSES), format_func=analysis.RESPONSES.get,
                                 default="averaged",
                                 key=links.key("neurons.responses", options=list(analysis.RESPONSES))) or "averaged"
ranked, unavailable = cached.rankings(run_key, data_key, tier)
ev = cached.evaluator(run_key, data_key, responses)
n = ev.n_neurons
columns = model_columns(run, data)
ids = np.asarray(data.neurons.get("ids", columns))[columns] if "ids" in data.neurons else columns
strong = None if data.ground_truth is None else np.asarray(data.ground_truth["strong_responder"])[columns]
positions = data.neurons.get("positions_um")
criteria = [c for c in labels.RANKING_CHOICES if c in ranked or c in ("importance_bottom", "random")]


@st.fragment
def pruning_panel() -> None:
    with guard():  # a fragment reruns alone, outside app.py's error handler
        _pruning_panel()


def _pruning_panel() -> None:
    left, right = st.columns([2, 3])
    with left:
        criterion = st.selectbox("Keep", criteria, format_func=labels.RANKING_CHOICES.get,
                                 key=links.key("neurons.criterion", options=criteria),
                                 help="Importance: mean |integrated gradients| of the true pair's similarity with "
                                      "respect to each neuron")
        k = st.slider("Neurons kept (k)", 1, n, max(1, n // 10), key=links.key("neurons.k", lo=1, hi=n))
        by = "importance" if criterion == "importance_bottom" else criterion
        source = None if criterion == "random" else ranked[by]
        mask = analysis.keep_mask(source, k, n, least_first=criterion == "importance_bottom")
        st.markdown(f"### Top-1 with {k} neurons: {100 * ev.top1(mask):.1f}%")
        st.caption(f"All {n} neurons: {100 * ev.top1(np.ones(n, np.float32)):.1f}% · chance {100 * ev.chance:.1f}% · "
                   f"{ev.n_queries} {analysis.RESPONSES[responses]} test queries. Removed neurons are set to their "
                   "train mean; the model is not retrained.")
        for name, why in unavailable.items():
            st.caption(f"Ranking by {labels.RANKINGS.get(name, name)} unavailable on this recording.", help=why)
    with right:
        if positions is not None:
            show(F.positions(np.asarray(positions)[columns, :2], ranked["importance"], "importance", big=big,
                             highlight=mask > 0),
                 "Where are the kept neurons? Kept cells (outlined, coloured by importance) among the removed ones.")


pruning_panel()

curves = cached.pruning(run_key, data_key, tier, responses)
show(R.pruning_figure(curves, ev.chance, big=big),
     "How few neurons are enough? Retrieval top-1 when only the k first neurons of each ranking are kept; a ranking "
     "worth its name beats random subsets of the same size (shaded: ± one sd over the random draws).")

left, right = figure_columns(2)
with left:
    top = order(ranked["importance"])[:12 if big else 20]
    show(F.bars([f"neuron {ids[i]}" + (" ★" if strong is not None and strong[i] else "") for i in top],
                ranked["importance"][top], "mean |integrated gradients|", big=big),
         "Which neurons matter most? Mean absolute attribution of the true pair's similarity to each neuron"
         + (" (★ = a strong responder in the simulation)." if strong is not None else "."))
    if strong is not None:
        st.metric("Strong responders found (ROC AUC)", f"{strong_responder_auc(ranked['importance'], strong):.2f}",
                  help="1: every simulated strong responder outranks every weak neuron; 0.5: no better than chance")
with right:
    kind = st.segmented_control("Matrix", list(labels.INTERACTIONS), default="synergy",
                                key=links.key("neurons.matrix", options=list(labels.INTERACTIONS)),
                                format_func=labels.INTERACTIONS.get) or "synergy"
    metrics = list(labels.SYNERGY_METRICS)
    if big:  # presentation: the view's own matrix size and score, without their controls
        m = links.hidden("neurons.m", 10, lo=4, hi=20)
        metric = links.hidden("neurons.metric", "margin", options=metrics) if kind == "synergy" else "margin"
    else:
        m = st.slider("Top neurons in the matrix", 4, 20, 10, key=links.key("neurons.m", lo=4, hi=20))
        metric = "margin" if kind != "synergy" else st.segmented_control(
            "Pair ablation scored by", metrics, default="margin", format_func=labels.SYNERGY_METRICS.get,
            key=links.key("neurons.metric", options=metrics)) or "margin"
    inter = cached.synergy(run_key, data_key, tier, m, metric)
    title = labels.INTERACTIONS[kind] + (f" ({labels.SYNERGY_METRICS[metric]})" if kind == "synergy" else " (r)")
    show(M.interaction_matrix(inter[kind], [str(ids[i]) for i in inter["neurons"]], title, big=big),
         labels.INTERACTION_CAPTIONS[kind])
