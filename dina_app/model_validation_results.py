"""The Model validation page's results: a finished validation's layer profile, its table, the best layer of each
network and that layer's alignment map over a test stimulus.

Validations of a recording live in ``<runs folder>/validation/<recording fingerprint>/<name>/`` (as the
benchmarks of the Retrieval page live in ``benchmarks/<fingerprint>``), each as ``validate_models`` wrote it:
``validation.json``, ``validation.md``, ``layer_profile.html`` and ``levels/*.pt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dina_core.errors import DinaError
from dina_core.interpret.alignment import upsample_maps
from dina_core.model_validation import JOINT, outputs, views
from dina_core.model_validation.networks import CONTROL_SUFFIX
from dina_core.paths import is_inside

from . import analysis, state
from . import figures as F
from . import map_figures as M
from .chrome import figure_columns, guard, show

VALIDATION_DIR = "validation"  # under the runs folder: one folder per recording, and the shared feature cache
RESPONSES = ("single_trial", "averaged")


def folders(runs_dir: Path, fingerprint: str) -> list[Path]:
    """Validation folders (holding a ``validation.json``) of the recording ``fingerprint``, newest first; files
    reached through a link that leads out of ``runs_dir`` are left out."""
    found = [f.parent for f in (runs_dir / VALIDATION_DIR / fingerprint).glob(f"*/{outputs.JSON}")
             if is_inside(runs_dir, f)]
    return sorted(found, key=lambda f: -(f / outputs.JSON).stat().st_mtime)


def short(label: str) -> str:
    """A network's label with the data and runs folders left out of its paths ('torchscript:nets/v1.pt')."""
    for root in (state.data_dir(), state.runs_dir()):
        label = label.replace(f"{root}/", "")
    return label


def _percent(value) -> float | None:
    return None if value is None else round(100 * value, 1)


def _interval(ci) -> str:
    return "–" if not ci or ci[0] is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


def _difference(paired: dict | None) -> str:
    """A paired difference of single-trial top-1 in percentage points, with its 95% CI: '+3.3 [-1.7, 8.3]'."""
    if not paired:
        return "–"
    lo, hi = paired["ci95"]
    return f"{100 * paired['single_trial']:+.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def table_rows(result: dict) -> list[dict]:
    """The per-layer table: each network's layers, their random-weight controls, then DINA and the pixel level.

    Top-1 among the test images (neural -> image; image -> neural beside it) in %, 95% CI over images, and the
    fraction of the noise ceiling's top-1 (1.0: as well as one response identifies another of the same image),
    and a network row's single-trial top-1 minus its random-weight control's, paired over the same test trials.
    """
    marked = ([(r, "network") for r in result["rows"]] + [(r, "random-weight control") for r in result["control"]]
              + [(result.get("dina"), "reference: DINA"), (result.get("pixel"), "reference: pixels")])
    out = []
    for row, kind in marked:
        if not row:
            continue
        fraction, fraction_avg = row.get("fraction_of_ceiling"), row.get("fraction_of_ceiling_averaged")
        out.append({"network": short(row["model"]), "layer": row["layer"], "row": kind,
                    "single-trial %": _percent(row["single_trial"]),
                    "single-trial 95% CI": _interval(row["ci95_single_trial"]),
                    "averaged %": _percent(row["averaged"]), "averaged 95% CI": _interval(row["ci95_averaged"]),
                    "image→neural single-trial %": _percent(row["image_to_neural"]["single_trial"]),
                    "of ceiling, single-trial": None if fraction is None else round(fraction, 2),
                    "of ceiling, averaged": None if fraction_avg is None else round(fraction_avg, 2),
                    "minus control, points (95% CI)": _difference(row.get("minus_control"))})
    return out


def best_rows(result: dict) -> list[tuple[dict, dict | None]]:
    """(best row, its random-weight control at the same layer or None) per network, in the table's order."""
    best = result.get("best") or {}
    rows = [r for r in result["rows"] if best.get(r["model"]) == r["layer"]]
    return [(r, next((c for c in result["control"] if c["layer"] == r["layer"]
                      and c["model"] == r["model"] + CONTROL_SUFFIX), None)) for r in rows]


def profile(result: dict, responses: str, big: bool = False) -> go.Figure:
    """``outputs.profile_figure`` (top-1 against depth per network, references as lines) in the app's look."""
    fig = outputs.profile_figure(result, responses)
    fig.update_layout(yaxis_tickformat=".0%")
    return F.style(fig, big, height=420)


@st.cache_data(max_entries=16, show_spinner=False)
def _checked(folder: str, stamp: tuple) -> dict:
    """``views.load_result`` of ``folder``, its table, profile and best layers built once, so a hand-edited file
    fails here in one line, never halfway through the page (``stamp``: the JSON's mtime and size)."""
    result = views.load_result(folder)
    try:
        table_rows(result), best_rows(result)
        for responses in RESPONSES:
            profile(result, responses)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise DinaError(f"{Path(folder) / outputs.JSON}: not as validate_models writes it "
                        f"({type(exc).__name__}: {exc})"[:300]) from None
    return result


def load(folder: Path) -> dict:
    """The checked result of a validation folder (cached until its ``validation.json`` changes).

    Raises:
        DinaError: no such file, not JSON, or fields missing or of another type, naming the file.
    """
    key = state.file_key(folder / outputs.JSON)
    return _checked(str(folder), key[1:])


@st.cache_data(max_entries=64, show_spinner="Computing the alignment map…")
def _alignment(folder: str, stamp: tuple, model: str, layer: str, data_key: state.FileKey, image: int) -> np.ndarray:
    """(gh, gw) ``views.alignment_map`` of one row of the validation over test stimulus ``image``."""
    result = _checked(folder, stamp)
    row = next(r for r in result["rows"] if r["model"] == model and r["layer"] == layer)
    return views.alignment_map(result, folder, row, state.load_data(data_key), image)


@st.cache_data(max_entries=64, show_spinner=False)
def _test_images(folder: str, stamp: tuple, model: str, layer: str) -> np.ndarray:
    """(N,) stimulus rows of the test images a row's level was scored on (``views.test_images``)."""
    result = _checked(folder, stamp)
    row = next(r for r in result["rows"] if r["model"] == model and r["layer"] == layer)
    return views.test_images(folder, row)


def alignment_panel(folder: Path, best: list[tuple[dict, dict | None]], data_key: state.FileKey) -> None:
    """The best layer's alignment map of a chosen network over a chosen test stimulus, beside the stimulus."""
    big, stamp = state.presenting(), state.file_key(folder / outputs.JSON)[1:]
    c1, c2, c3 = st.columns(3)
    row = c1.selectbox("Network", [r for r, _ in best], format_func=lambda r: f"{short(r['model'])} · {r['layer']}",
                       key="mv.map.network")
    rows = _test_images(str(folder), stamp, row["model"], row["layer"])
    pos = c2.slider("Test image", 0, len(rows) - 1, 0, key="mv.map.image") if len(rows) > 1 else 0
    opacity = 0.6 if big else c3.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key="mv.map.opacity")
    aligned = _alignment(str(folder), stamp, row["model"], row["layer"], data_key, int(rows[pos]))
    image = state.load_data(data_key).images[rows[pos]]
    share = 100 * aligned / (np.abs(aligned).sum() or 1.0)  # % of the pair's summed |contributions|
    fine = upsample_maps(share[None], image.shape)[0] * (image.size / aligned.size)
    left, right = figure_columns(2)
    with left:
        fig = go.Figure(F.grey(image))
        fig.update_xaxes(visible=False, constrain="domain")
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
        show(F.style(fig, big, height=360, title=f"Test image {pos + 1} (stimulus {rows[pos]})"),
             "The stimulus, as the recording holds it.", key="mv.map.stimulus")
    with right:
        h, w = aligned.shape
        show(M.overlay(image, fine, opacity, big=big, height=360, colorbar="% of match",
                       title=f"Alignment, {row['layer']}: {h} × {w} locations"),
             f"Where does the response match its own image at the best layer of {short(row['model'])}? Each "
             f"location's share of the pair's similarity ({aligned.sum():.2f}): red adds to the match, blue works "
             "against it. Repeat-averaged test response.", key="mv.map.overlay")


def results_panel(data_key: state.FileKey) -> None:
    """The newest validation of the recording (or one picked among them): profile, table, best layers, map."""
    big = state.presenting()
    found = folders(state.runs_dir(), state.fingerprint(data_key))
    if not found:
        st.caption("No validation of this recording yet: its results appear here once one has run.")
        return
    # keyed by the newest folder: a validation that has just finished is shown, not the one picked before it
    folder = found[0] if big else st.selectbox("Validation", found, format_func=lambda f: f.name,
                                               key=f"mv.folder.{found[0].name}")
    try:
        result = load(folder)
    except DinaError as exc:
        st.error(f"Validation {folder.name} cannot be shown: {exc}", icon=":material/error:")
        return
    ceiling = result.get("ceiling") or {}
    st.caption(f"{result['recording']['name']} · maps pooled to {result['grid'][0]} × {result['grid'][1]} "
               f"locations, {result.get('channels')} channels per layer · neural towers trained for at most "
               f"{result.get('train', {}).get('epochs', '?')} epochs · noise ceiling "
               + (f"{100 * ceiling['single_trial']:.1f}% single-trial" if ceiling.get("single_trial") else "none"))
    responses = st.segmented_control("Responses", RESPONSES, format_func=analysis.RESPONSES.get,
                                     default="single_trial", key="mv.responses") or "single_trial"
    show(profile(result, responses, big),
         "Which layer aligns best with V1? Response → image top-1 among the test images at each chosen layer "
         "(in running order; 95% intervals over images); dashed: the same architecture with random weights; dotted: "
         f"the noise ceiling, DINA and the pixel level. The {JOINT} row (all chosen layers together) is in the table.",
         key="mv.profile")
    best = best_rows(result)
    for row, control in best:
        frac = row.get("fraction_of_ceiling")
        st.markdown(f"**{short(row['model'])}**: best layer **{row['layer']}**, single-trial top-1 "
                    f"{100 * row['single_trial']:.1f}% ({_interval(row['ci95_single_trial'])})"
                    + (f", {100 * frac:.0f}% of the noise ceiling" if frac is not None else "")
                    + (f"; its random-weight control there {100 * control['single_trial']:.1f}%, a difference of "
                       f"{_difference(row.get('minus_control'))} points" if control else ""))
    st.dataframe(table_rows(result), hide_index=True)
    st.caption("Top-1 in % among the test images (chance: one in their number), 95% intervals over images; "
               "'of ceiling': top-1 over the noise ceiling's. Control rows: the same network with random weights "
               "(a layer's score that its control matches comes from the architecture, not from what it learned).")
    if best:
        st.subheader("Alignment map of the best layer")
        with guard():  # a level file damaged or missing: said in one line
            alignment_panel(folder, best, data_key)
