# %% [markdown]
# # DINA quickstart: fit, score, retrieve, explain, prune
#
# A simulated V1 recording (200 neurons, ground truth known), a DINA model fitted on its train tier,
# its test-tier retrieval beside the noise ceiling, the images one response retrieves, which pixels drive
# a match, and how few neurons are enough. About a minute on 2 CPU cores. `examples/quickstart.ipynb`
# holds the same cells (`python examples/build_notebook.py` writes it from this file).
#
# For your own recording: `recording = dina_core.load("mouse1.h5")`, or an importer such as
# `dina_core.import_sensorium("static....zip", "mouse1.h5")`.

# %%
import os
import sys
from pathlib import Path

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

import dina_core

OUT = Path(os.environ.get("DINA_QUICKSTART_OUT", "quickstart_out"))


def show(fig: go.Figure, name: str) -> None:
    """In Jupyter, draw the figure; from a terminal, write it to OUT/name.html (offline: plotly.js included)."""
    if "ipykernel" in sys.modules:
        fig.show()
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        fig.write_html(OUT / f"{name}.html", include_plotlyjs=True)
        print(f"wrote {OUT / name}.html")


# %% [markdown]
# ## Fit and score
# Settings are the fields of `ModelConfig` and `TrainConfig` by name (`help(dina_core.DINA)` lists them).
# Training early-stops on the validation tier; test trials are never seen.

# %%
recording = dina_core.simulate_recording(size="small", seed=0)
model = dina_core.DINA(epochs=15, batch_size=32, lr=3e-3, patience=100).fit(recording)
scores = model.score(recording)
print(scores)
chance = 1 / scores.n_candidates
print(f"single-trial neural->image top-1 {scores.top1():.3f} (chance {chance:.3f})")

# %% [markdown]
# ## Retrieve: which images does a response point to?
# `retrieve` takes raw responses (and behaviour, which this model corrects for) and raw images.

# %%
test = np.flatnonzero(recording.tiers == "test")
candidates = np.unique(recording.image_index[test])
trial = test[0]
hits = model.retrieve(recording.responses[[trial]], recording.images[candidates], k=5,
                      behavior=recording.behavior[[trial]])
shown = recording.image_index[trial]
print("shown:", shown, "retrieved:", candidates[hits.indices[0]].tolist())
fig = px.imshow(recording.images[candidates[hits.indices[0]]], facet_col=0, binary_string=True,
                title=f"Top 5 for a response to image {shown}")
show(fig, "retrieval")

# %% [markdown]
# ## Explain: which pixels drive the match?
# Integrated gradients of the image -> similarity function for the trial's own image.

# %%
attribution = model.attribute(recording.images[[shown]], recording.responses[[trial]],
                              behavior=recording.behavior[[trial]], method="integrated_gradients")
fig = px.imshow(attribution[0], color_continuous_scale="RdBu_r", color_continuous_midpoint=0,
                title="Integrated gradients: similarity per pixel")
show(fig, "attribution")

# %% [markdown]
# ## Prune: how few neurons are enough?
# Neurons ranked by importance on validation pairs, scored on test images, against random subsets.

# %%
summary = dina_core.analyze(model, recording, manipulations=("low_pass",), random_draws=5)
fig = go.Figure()
for ranking in ("importance", "random"):
    curve = summary["pruning"][ranking]
    fig.add_scatter(x=[p["k"] for p in curve], y=[p["top1"] for p in curve], name=ranking, mode="lines+markers")
fig.add_hline(y=summary["chance_top1"], line_dash="dot", annotation_text="chance")
fig.update_layout(title="Pruning curve", xaxis_title="neurons kept", yaxis_title="top-1 (averaged responses)",
                  xaxis_type="log")
show(fig, "pruning")
print("smallest subset keeping 90% of full top-1:", summary["smallest_subset_90"]["importance"], "neurons")
