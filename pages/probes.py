"""Structure probes: does decoding rest on coarse or fine structure, on shape or texture?"""

import streamlit as st

from dina_app import analysis, cached, labels, links, state
from dina_app import figures as F
from dina_app import result_figures as R
from dina_app.chrome import page_header, show
from dina_app.run_guard import require_run
from dina_core.interpret.probes import MANIPULATIONS

page_header("Structure probes", "Which visual structure does decoding rest on: coarse or fine, shape or texture?")
big = state.presenting()
data_key = state.active_data_key()
run_key = require_run(data_key)
n = len(cached.embeddings(run_key, data_key, None)["candidates"])

c1, c2 = st.columns([1, 1] if big else [2, 1])  # room for both options at presentation size
name = c1.selectbox("Manipulation", list(MANIPULATIONS), format_func=lambda m: labels.MANIPULATIONS.get(m, m),
                    key=links.key("probe.name", options=list(MANIPULATIONS)))
responses = c2.segmented_control("Responses", list(analysis.RESPONSES), format_func=analysis.RESPONSES.get,
                                 default="averaged",
                                 key=links.key("probe.responses", options=list(analysis.RESPONSES))) or "averaged"
manipulation, title = MANIPULATIONS[name], labels.MANIPULATIONS.get(name, name)
st.caption(manipulation.description + " The responses are untouched: only the candidate images change.")
grid = list(manipulation.strengths)
strength = st.select_slider(f"Strength: {manipulation.unit}", options=grid, value=grid[len(grid) // 2],
                            key=links.key(f"probe.strength.{name}", options=grid))

examples = cached.manipulated(data_key, run_key, name, strength, 4 if big else 6)
show(F.image_grid(examples, [f"test image {i + 1}" for i in range(len(examples))], cols=len(examples), big=big),
     f"What does the model get to see? The first test images at {manipulation.unit} = {strength:g}.")

rows = cached.probe(run_key, data_key, name, responses)
# the unmanipulated score is the test retrieval itself, not a grid point: high-pass has no strength that
# leaves an image unchanged, and its first point (sigma 0.5) keeps almost nothing of it
unmanipulated = analysis.topk_curve(cached.ranks(run_key, data_key, None, "neural_to_image", responses), n)[0]
x = [r["strength"] for r in rows]
fig = F.lines({"top-1": (x, [r["top1"] for r in rows]), "top-5": (x, [r["top5"] for r in rows]),
               "top-1, unmanipulated": ([min(x), max(x)], [unmanipulated] * 2)},
              manipulation.unit, "accuracy", big=big, chance=1 / n,
              dashes={"top-5": "dash", "top-1, unmanipulated": "dashdot"})
fig.add_vline(x=strength, line_color=F.GREY, line_width=1)
at = next(r for r in rows if r["strength"] == strength)
st.markdown(f"**{title} at {strength:g} ({manipulation.unit}): top-1 {at['top1']:.1%}** "
            f"(unmanipulated {unmanipulated:.1%} · chance {1 / n:.1%})")
show(fig, f"How much of the decoding survives {title.lower()}? Response → image retrieval among "
          f"the {n} test images as the manipulation grows; the grey line marks the strength shown above.")

compare = links.hidden("probe.all", False, options=[False, True]) if big else st.toggle(
    "Compare every manipulation", key=links.key("probe.all", options=[False, True]),
    help="Scores all manipulations at their default strengths: a few seconds each")
if compare:
    panels = {}
    for other in MANIPULATIONS:
        other_rows = cached.probe(run_key, data_key, other, responses)
        panels[labels.MANIPULATIONS.get(other, other)] = ([r["strength"] for r in other_rows],
                                                          [r["top1"] for r in other_rows], MANIPULATIONS[other].unit)
    show(R.small_multiples(panels, "top-1", chance=1 / n),
         "Which manipulation costs the most? Top-1 under each manipulation, every panel on the same scale (dotted: "
         "chance). " + " ".join(m.description for m in MANIPULATIONS.values()), key="probe.small")
