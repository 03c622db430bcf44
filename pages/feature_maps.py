"""Feature maps: where on the stimulus is the match?"""

import numpy as np
import streamlit as st

from dina_app import cached, labels, links, saved_runs, state
from dina_app import figures as F
from dina_app import map_figures as M
from dina_app.chrome import figure_columns, page_header, show
from dina_app.run_guard import require_run
from dina_core.interpret.alignment import upsample_maps

page_header("Feature maps", "Where on the stimulus do the image and the neural response match?")
big = state.presenting()
data_key = state.active_data_key()
run_key = require_run(data_key)
if not cached.is_dina(run_key):
    st.info("The active model is a linear two-tower baseline: it has no feature maps. Choose a DINA run on the "
            "Train page.", icon=":material/info:")
    st.stop()
data = state.load_data(data_key)

c1, c2, c3 = st.columns(3)
stages = list(saved_runs.load_run(run_key).model.config.aligned_stages)
stage = c1.selectbox("Feature-map level", stages, key=links.key("maps.stage", options=stages),
                     format_func=labels.level, help="Aligned stage of the image tower: each one halves the resolution")
maps = cached.stage_maps(run_key, data_key, stage)
n = len(maps["image_rows"])
pos = c2.slider("Test image", 0, n - 1, 0, key=links.key("maps.image", lo=0, hi=n - 1))
opacity = c3.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key=links.key("maps.opacity", lo=0.0, hi=1.0))
image = data.images[maps["image_rows"][pos]]
aligned = maps["alignment"][pos]
h, w = aligned.shape

left, right = figure_columns(2)
with left:
    share = 100 * aligned / (np.abs(aligned).sum() or 1.0)  # % of the pair's summed |contributions|
    fine = upsample_maps(share[None], image.shape)[0] * (image.size / aligned.size)
    fig = M.overlay(image, fine, opacity, big=big, height=460, colorbar="% of match",
                    title=f"Alignment, {labels.level(stage)}: {h} × {w} locations")
    show(fig, f"Where does the response match its own image? Each location's share of the pair's similarity in the "
              f"{labels.level(stage)} (similarity {aligned.sum():.2f}): red adds to the match, blue works against it. "
              "Repeat-averaged test response.")
channel_order = np.argsort(-maps["channels"])
with right:
    n_top = 8 if big else 12
    chosen = st.selectbox("Latent channel", channel_order, key=links.key("maps.channel", options=channel_order),
                          format_func=lambda c: f"channel {c} (#{int(np.flatnonzero(channel_order == c)[0]) + 1} "
                                                f"most alignable)")
    top = channel_order[:n_top]
    highlight = int(np.flatnonzero(top == chosen)[0]) if chosen in top else None
    show(F.bars([f"ch {c}" for c in top], maps["channels"][top], "alignability (true minus mismatched pairs)",
                big=big, highlight=highlight),
         "Which channels carry the match? Mean over test pairs of a shared-latent channel's contribution to the true "
         "pair's similarity minus its contribution to mismatched pairs.")

seen, predicted = maps["image"][pos, chosen], maps["neural"][pos, chosen]
corr = np.corrcoef(seen.ravel(), predicted.ravel())[0, 1] if seen.std() > 0 and predicted.std() > 0 else np.nan
show(M.side_by_side([seen, predicted], [f"from the image, channel {chosen}", "predicted from the neurons"], big=big),
     f"Can the neurons predict what the image tower sees? Latent channel {chosen} of the {labels.level(stage)} "
     f"computed from the image (left) and predicted from the population response (right); correlation {corr:.2f}. "
     "The similarity multiplies the two, channel by channel and location by location.")
