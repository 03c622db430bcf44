"""The Across animals page's "Where the animals agree": one stimulus that every recording of a joint run saw, each
recording's alignment map of it and each pair's agreement map (``dina_core.interpret.cross_animal``)."""

from __future__ import annotations

import itertools

import streamlit as st

from . import across_animals, labels, state
from . import agreement_figures as AF
from . import joint_runs as J
from . import map_figures as M
from .chrome import figure_columns, guard, show

OPACITY = 0.6  # maps over the stimulus: enough to see both
AGREEMENT = ("Where do two animals' models predict the same features? For each pair of recordings, the cosine over "
             "latent channels between the maps that each recording's neural tower predicts from its own "
             "trial-averaged response to this stimulus, location by location: 1 where they predict the same "
             "features, near 0 where they are unrelated, below 0 where they are opposed. The joint model shares one "
             "image side, so the two predictions lie in one space.")


def panel() -> None:
    """Pick a joint run whose recordings can be read (``joint_runs.comparable``), a shared stimulus and a stage;
    draw its maps."""
    offered, _ = J.comparable(across_animals.candidates()[0])
    if not offered:
        st.caption("No joint run with readable recordings yet: train one model over several recordings "
                   "(`dina train a.h5 b.h5 --out RUN`).")
        return
    path = st.selectbox("Joint run", list(offered), key="aa.joint",
                        format_func=lambda p: f"{offered[p]['name']}: {', '.join(offered[p]['recordings'])}")
    joint = offered[path]
    with guard():
        keys, data_keys = J.run_keys(joint), J.recording_keys(joint)
        rows = J.shared_stimuli(data_keys)
        n = len(rows[joint["recordings"][0]])
        if n == 0:
            st.info(f"The recordings of {joint['name']} share no stimulus shown on a trial: there is nothing to "
                    "compare location by location.", icon=":material/info:")
            return
        left, right = st.columns(2)
        stage = left.selectbox("Feature-map level", J.stages(keys), key="aa.stage", format_func=labels.level,
                               help="Aligned stage of the shared image tower: each one halves the resolution")
        position = right.slider("Shared stimulus", 0, n - 1, 0, key="aa.stimulus",
                                help=f"{n} stimuli every recording saw, matched by content") if n > 1 else 0
        draw(J.agreement_maps(keys, data_keys, position, stage), joint, rows, position)


def draw(maps: dict, joint: dict, rows: dict, position: int) -> None:
    """The stimulus, the recordings' alignment maps beside it, then the pairs' agreement maps."""
    from dina_core.interpret.alignment import upsample_maps  # torch: only once there are maps to draw
    big, image, names = state.presenting(), maps["image"], joint["recordings"]
    where = ", ".join(f"{n} image {int(rows[n][position])}" for n in names)
    level = labels.level(maps["stage"])
    left, right = figure_columns([1, 2])
    with left:
        show(AF.stimulus(image, "The stimulus", big), f"Shown to every recording ({where}).", key="aa.stimulus_fig")
    with right:
        aligned = [maps["alignment"][n] for n in names]
        h, w = aligned[0].shape
        fine = upsample_maps(aligned, image.shape)
        titles = [f"{n}: similarity {maps['similarity'][n]:.2f}" for n in names]
        show(M.overlays(image, list(fine), titles, OPACITY, big=big),
             f"Where does each animal's response match the stimulus? Each recording's alignment map in the {level} "
             f"({h} × {w} locations): each location's term of the similarity between the stimulus and that "
             "recording's trial-averaged response, relative to its peak; red adds to the match, blue works against "
             "it.", key="aa.alignment")
    pairs = list(itertools.combinations(names, 2))
    show(AF.agreement(image, [maps["agreement"][f"{a}|{b}"] for a, b in pairs], [f"{a} and {b}" for a, b in pairs],
                      OPACITY, big=big), AGREEMENT, key="aa.agreement")
