"""Plotly figures of DINA's results as the core returns them: pruning curves, the benchmark's models side by
side, and one probe curve per manipulation on a shared scale (core results in, ``go.Figure`` out; no Streamlit).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import labels
from .figures import BLUE, GREY, PALETTE, lines, percent_format, style


def pruning_figure(curves: dict[str, list[dict]], chance: float, big: bool = False) -> go.Figure:
    """``analyses.pruning_curves`` ({ranking key: [{'k', 'top1'[, 'top1_std']}]}) as top-1 against neurons
    kept (log k); a curve with 'top1_std' (the random subsets) gets its mean +- sd shaded."""
    names = labels.PRUNING_CURVES
    xy = {names.get(key, key): ([r["k"] for r in c], [r["top1"] for r in c]) for key, c in curves.items()}
    bands = {names.get(key, key): ([max(r["top1"] - r["top1_std"], 0.0) for r in c],
                                   [r["top1"] + r["top1_std"] for r in c])
             for key, c in curves.items() if c and all("top1_std" in r for r in c)}
    return lines(xy, "neurons kept (k)", "top-1 accuracy", big=big, chance=chance, log_x=True, height=420,
                 bands=bands, dashes={names["random"]: "dot", names["importance_bottom"]: "dash"})


def model_bars(rows: list[dict], big: bool = False) -> go.Figure:
    """Top-1 (95% CI) of every model of a benchmark (``metrics.json`` rows) in each task, as grouped bars;
    the noise ceiling (rows of model 'ceiling', when present) and chance as black and grey ticks."""
    from .analysis import DIRECTIONS, RESPONSES

    tasks = list(dict.fromkeys((r["direction"], r["responses"]) for r in rows))
    x = [f"{DIRECTIONS.get(d, d)}<br>{RESPONSES.get(m, m)}" for d, m in tasks]
    fig = go.Figure()
    models = [m for m in dict.fromkeys(r["model"] for r in rows) if m not in ("ceiling", "chance")]
    for i, model in enumerate(models):
        by_task = {(r["direction"], r["responses"]): r for r in rows if r["model"] == model}
        got = [by_task.get(t, {}) for t in tasks]
        y = [r.get("top1") for r in got]
        ci = [r.get("ci95_top1") or [r.get("top1")] * 2 for r in got]
        fig.add_trace(go.Bar(x=x, y=y, name=labels.model(model), marker_color=PALETTE[i % len(PALETTE)],
                             error_y={"type": "data", "symmetric": False,
                                      "array": [None if v is None else c[1] - v for v, c in zip(y, ci)],
                                      "arrayminus": [None if v is None else v - c[0] for v, c in zip(y, ci)]},
                             hovertemplate=f"{labels.model(model)}: %{{y:.1%}}<extra></extra>"))
    for model, color in (("ceiling", "black"), ("chance", GREY)):
        by_task = {(r["direction"], r["responses"]): r["top1"] for r in rows if r["model"] == model}
        if by_task:
            fig.add_trace(go.Scatter(x=x, y=[by_task.get(t) for t in tasks], mode="markers", name=labels.model(model),
                                     marker={"symbol": "line-ew-open", "size": 90, "color": color,
                                             "line": {"width": 3, "color": color}},
                                     hovertemplate=f"{labels.model(model)}: %{{y:.1%}}<extra></extra>"))
    peak = max([r["top1"] for r in rows if r.get("top1") is not None] + [1e-3])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="top-1 accuracy", tickformat=percent_format(peak), rangemode="tozero")
    return style(fig, big, height=420)


def small_multiples(panels: dict[str, tuple[list, list, str]], y_title: str, big: bool = False,
                    chance: float | None = None, cols: int = 3) -> go.Figure:
    """One curve per panel ({title: (x, y, x title)}), every panel on the same y range (percent)."""
    rows = int(np.ceil(len(panels) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(panels), horizontal_spacing=0.06,
                        vertical_spacing=0.28 if rows > 1 else 0.1)
    top = max([max(y) for _, y, _ in panels.values() if len(y)] + [chance or 0.0, 1e-3])
    for i, (title, (x, y, x_title)) in enumerate(panels.items()):
        row, col = i // cols + 1, i % cols + 1
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", line={"color": BLUE}, showlegend=False, name=title,
                                 hovertemplate=f"{title}<br>{x_title} %{{x}}: %{{y:.1%}}<extra></extra>"),
                      row=row, col=col)
        fig.update_xaxes(title_text=x_title, row=row, col=col)
        if chance is not None:
            fig.add_hline(y=chance, line_dash="dot", line_color=GREY, row=row, col=col)
    fig.update_yaxes(range=[0, 1.08 * top], tickformat=percent_format(top))
    fig.update_yaxes(title_text=y_title, col=1)
    fig.update_annotations(font_size=17 if big else 13)
    return style(fig, big, height=300 * rows + 40)
