"""What ``dina validate-model`` writes: ``validation.json``, ``validation.md`` and the layer profile (HTML)."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go

from ..atomic import atomic_path

JSON, MARKDOWN, PROFILE = "validation.json", "validation.md", "layer_profile.html"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _ci(row: dict, key: str) -> str:
    lo, hi = row.get(f"ci95_{key}", (None, None))
    return "" if lo is None else f" [{100 * lo:.1f}, {100 * hi:.1f}]"


def markdown(result: dict) -> str:
    """The per-layer table: neural->image top-1 (%) with 95% CIs, image->neural, fraction of the noise ceiling."""
    rec, ceiling = result["recording"], result.get("ceiling") or {}
    lines = [f"# Model validation: {rec['name']} ({rec['neurons']} neurons, {rec['images']} images)", "",
             f"Maps pooled to a {result['grid'][0]} x {result['grid'][1]} grid, {result['channels']} channels per "
             "layer (principal components of train images); a neural tower trained to align with each. "
             "Top-1 among the test images, neural -> image, in %, 95% CI over images.", "",
             "| network | layer | single-trial | averaged | image->neural single | fraction of ceiling |",
             "|---|---|---|---|---|---|"]
    references = [r for r in (result.get("dina"), result.get("pixel")) if r]
    for row in result["rows"] + result["control"] + references:
        frac = row.get("fraction_of_ceiling")
        lines.append(f"| {row['model']} | {row['layer']} | {_pct(row['single_trial'])}{_ci(row, 'single_trial')} | "
                     f"{_pct(row['averaged'])}{_ci(row, 'averaged')} | {_pct(row['image_to_neural']['single_trial'])} "
                     f"| {'–' if frac is None else f'{frac:.2f}'} |")
    lines += ["", f"Noise ceiling: single-trial {_pct(ceiling.get('single_trial'))}, averaged "
                  f"{_pct(ceiling.get('averaged'))}.", ""]
    lines += [f"Best layer of {model}: **{layer}**" for model, layer in result.get("best", {}).items()]
    lines += [f"{n['model']}: {note}." for n in result["networks"] if not n["control"] for note in n.get("notes", [])]
    if any(n["random_weights"] and not n["control"] for n in result["networks"]):
        lines += ["", "Networks marked (random weights) were given no weights file: they are random "
                      "initialisations, not trained networks."]
    return "\n".join(lines) + "\n"


def profile_figure(result: dict, responses: str = "single_trial") -> go.Figure:
    """Top-1 against depth (the chosen layers in running order) per network; controls dashed; the ceiling, DINA and
    the pixel level as horizontal lines."""
    fig = go.Figure()
    for rows, dash in ((result["rows"], "solid"), (result["control"], "dash")):
        for model in dict.fromkeys(r["model"] for r in rows):
            mine = [r for r in rows if r["model"] == model and r["layer"] != "joint"]
            fig.add_trace(go.Scatter(x=[r["layer"] for r in mine], y=[r[responses] for r in mine],
                                     mode="lines+markers", name=model, line={"dash": dash},
                                     error_y={"type": "data", "symmetric": False,
                                              "array": [r[f"ci95_{responses}"][1] - r[responses] for r in mine],
                                              "arrayminus": [r[responses] - r[f"ci95_{responses}"][0] for r in mine]}))
    lines = [("noise ceiling", (result.get("ceiling") or {}).get(responses), "black"),
             ("DINA", (result.get("dina") or {}).get(responses), "green"),
             ("pixel level", (result.get("pixel") or {}).get(responses), "gray")]
    for name, value, color in lines:
        if value is not None:
            fig.add_hline(y=value, line={"dash": "dot", "color": color}, annotation_text=name,
                          annotation_position="top left")
    fig.update_layout(xaxis_title="layer (in running order)", yaxis_title=f"{responses.replace('_', '-')} top-1",
                      yaxis_range=[0, 1.05], height=420, legend={"orientation": "h", "y": -0.25})
    return fig


def write_outputs(result: dict, out_dir: Path) -> None:
    """The three files, each written atomically (a full disk keeps the earlier file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {JSON: json.dumps(result, indent=2, default=float), MARKDOWN: markdown(result),
             PROFILE: profile_figure(result).to_html(include_plotlyjs=True, full_html=True)}
    for name, text in files.items():
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text(text)
