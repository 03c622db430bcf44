"""Plotly figure builders for DINA Studio (numpy in, ``go.Figure`` out; no Streamlit).

Every builder takes ``big`` (presentation mode): larger fonts and thicker lines so a
figure reads from the back of a seminar room. Legends sit below the plot, never over the
data, so a narrow figure keeps its plot area. Images are drawn as grey heatmaps with row 0
at the top and square pixels. Maps and matrices with their own colour logic are in ``map_figures``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

BLUE, ORANGE, GREEN, GREY, RED = "#1f5fbf", "#e07b00", "#2a9d55", "#8a8f98", "#c0392b"
PALETTE = [BLUE, ORANGE, GREEN, "#8e44ad", "#16a085", "#b8860b", "#d35400"]
DIVERGING = "RdBu_r"
# Every new figure starts from plotly_white: setting it per figure (update_layout(template=...)) deep-copies and
# validates the whole template, most of a warm page switch (bench/results/app_responsiveness_cpu.txt).
pio.templates.default = "plotly_white"


# below the whole figure (container coordinates): plotly grows the bottom margin to fit it, so it never covers data
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"}


def style(fig: go.Figure, big: bool = False, height: int | None = None, title: str | None = None) -> go.Figure:
    """The app's look: white background (the default template), readable fonts (larger when ``big``), the
    legend below the plot."""
    fig.update_layout(font={"size": 20 if big else 14},
                      margin={"l": 10, "r": 10, "t": 50 if title else 30, "b": 10},
                      legend={**LEGEND_BELOW, "font": {"size": 18 if big else 13}}, title=title)
    if height:
        fig.update_layout(height=int(height * (1.25 if big else 1.0)))
    if big:
        fig.update_traces(selector={"type": "scatter"}, line={"width": 4})
    return fig


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def scaled(values: np.ndarray, title: str) -> tuple[np.ndarray, str]:
    """Tiny values (< 0.01) rescaled by a power of ten named in the title: '0.3 (×10⁻⁴)' reads, '30µ' does not."""
    peak = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    if peak == 0.0 or 1e-2 <= peak < 1e4:
        return values, title
    exponent = int(np.floor(np.log10(peak)))
    return np.asarray(values) / 10.0 ** exponent, f"{title} (×10{str(exponent).translate(SUPERSCRIPT)})"


def percent_format(peak: float) -> str:
    """A percent tick format with enough decimals that ticks up to ``peak`` (a fraction) read apart.

    Plotly puts about five ticks on an axis: at peak 0.004 they are 0.1% apart, which '.0%' would
    print as '0%' on every tick.
    """
    step = 100 * peak / 5 if np.isfinite(peak) and peak > 0 else 20.0  # percent between ticks
    return f".{min(3, max(0, int(np.ceil(-np.log10(step)))))}%"


def log_ticks(fig: go.Figure, upper: float) -> None:
    """1, 2, 5, 10, 20, 50, ... tick labels on a logarithmic x axis."""
    ticks = [m * 10 ** e for e in range(int(np.log10(max(upper, 1))) + 1) for m in (1, 2, 5) if m * 10 ** e <= upper]
    # the range reaches a little past both ends, so that the first and last ticks are drawn
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks],
                     range=[-0.03, np.log10(max(upper, 1)) + 0.03])


def _image_axes(fig: go.Figure, row: int | None = None, col: int | None = None) -> None:
    kwargs = {} if row is None else {"row": row, "col": col}
    fig.update_xaxes(visible=False, constrain="domain", **kwargs)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x" if row is None else None, **kwargs)


def grey(image: np.ndarray, name: str = "", showscale: bool = False) -> go.Heatmap:
    return go.Heatmap(z=image, colorscale="gray", showscale=showscale, name=name,
                      hovertemplate="row %{y}, col %{x}: %{z:.1f}<extra></extra>")


def image_grid(images: np.ndarray, titles: list[str], cols: int = 6, marked: set[int] | None = None,
               big: bool = False) -> go.Figure:
    """Stimuli tiled in one heatmap (one trace draws fast); indices in ``marked`` get a thick green frame."""
    n, h, w = images.shape
    font = 17 if big else 12
    rows, gap = int(np.ceil(n / cols)), max(2, w // 12)  # in image pixels
    scale = 900 / (cols * (w + gap) - gap)  # screen px per image pixel at the figure's usual width
    top = max(6, h // 4, int(np.ceil(1.6 * font / scale)))  # room for a title line above each image
    mosaic = np.full((rows * (h + top), cols * (w + gap) - gap), np.nan, dtype=np.float32)
    annotations, shapes = [], []  # set at once: add_annotation re-validates every earlier one (quadratic)
    for i, image in enumerate(images):
        r0, c0 = (i // cols) * (h + top) + top, (i % cols) * (w + gap)
        mosaic[r0:r0 + h, c0:c0 + w] = image
        annotations.append({"x": c0 + w / 2, "y": r0 - 1, "text": titles[i], "showarrow": False, "yanchor": "bottom",
                            "font": {"size": font}})
        if marked and i in marked:
            shapes.append({"type": "rect", "x0": c0 - 0.5, "y0": r0 - 0.5, "x1": c0 + w - 0.5, "y1": r0 + h - 0.5,
                           "line": {"color": GREEN, "width": 6}})
    fig = go.Figure(layout={"annotations": annotations, "shapes": shapes})
    fig.add_trace(go.Heatmap(z=mosaic, colorscale="gray", showscale=False, hoverongaps=False,
                             hovertemplate="grey level %{z:.0f}<extra></extra>"))
    _image_axes(fig)
    fig.update_layout(plot_bgcolor="white")
    return style(fig, big, height=int(rows * (h + top) * 900 / mosaic.shape[1]) + 40)


def ranked_images(images: np.ndarray, scores: np.ndarray, correct: np.ndarray, big: bool = False) -> go.Figure:
    """Retrieved candidates in rank order, titled '#rank · score', the correct ones ticked and framed."""
    titles = [f"#{i + 1} · {s:.2f}" + (" ✓" if c else "") for i, (s, c) in enumerate(zip(scores, correct))]
    return image_grid(images, titles, cols=min(len(images), 6), marked=set(np.flatnonzero(correct)), big=big)


def heatmap(values: np.ndarray, x_title: str, y_title: str, colorscale: str = DIVERGING,
            zmid: float | None = 0.0, big: bool = False, height: int = 420, colorbar: str = "") -> go.Figure:
    values, colorbar = scaled(values, colorbar)
    fig = go.Figure(go.Heatmap(z=values, colorscale=colorscale, zmid=zmid,
                               colorbar={"title": {"text": colorbar, "side": "right"}}))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, autorange="reversed")
    return style(fig, big, height=height)


def histogram(values: np.ndarray, x_title: str, big: bool = False, marker: float | None = None) -> go.Figure:
    fig = go.Figure(go.Histogram(x=values[np.isfinite(values)], nbinsx=40, marker_color=BLUE))
    if marker is not None:
        fig.add_vline(x=marker, line_dash="dash", line_color=GREY)
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="neurons")
    return style(fig, big, height=340)


def positions(xy: np.ndarray, color: np.ndarray | None, color_title: str, big: bool = False,
              highlight: np.ndarray | None = None) -> go.Figure:
    """Neurons at their cortical positions (µm), coloured by ``color``; ``highlight`` (bool) outlined."""
    marker = {"size": 9 if big else 6, "color": color, "colorscale": "Viridis", "showscale": color is not None,
              "colorbar": {"title": {"text": color_title, "side": "right"}}}
    # SVG up to a few thousand neurons: WebGL (Scattergl) waits for a GL context, seconds under a software
    # renderer (headless or GPU-less machines, bench/bench_app.py), and plain SVG draws 1000 markers at once
    scatter = go.Scatter if len(xy) <= 5000 else go.Scattergl
    fig = go.Figure()
    if highlight is not None:
        fig.add_trace(scatter(x=xy[~highlight, 0], y=xy[~highlight, 1], mode="markers", name="removed",
                                   marker={"size": marker["size"], "color": "#d5d8dc"}))
        xy, marker["color"] = xy[highlight], None if color is None else color[highlight]
        marker["line"] = {"width": 1, "color": "black"}
    fig.add_trace(scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker,
                               name="kept" if highlight is not None else "neurons"))
    fig.update_xaxes(title="cortical x (µm)")
    fig.update_yaxes(title="cortical y (µm)", scaleanchor="x")
    return style(fig, big, height=460)


def lines(curves: dict[str, tuple[np.ndarray, np.ndarray]], x_title: str, y_title: str, big: bool = False,
          chance: tuple[np.ndarray, np.ndarray] | float | None = None, percent: bool = True,
          height: int = 380, log_x: bool = False, dashes: dict[str, str] | None = None,
          bands: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
          hover: dict[str, str] | None = None) -> go.Figure:
    """Named (x, y) curves; ``chance`` a constant or an (x, y) curve, dotted grey.

    Args:
        bands: {curve name: (lower, upper)} drawn as a shaded band under that curve (e.g. mean +- sd).
        hover: {curve name: longer description} shown on hover (the legend keeps the short name).
    """
    fig = go.Figure()
    value = "%{y:.1%}" if percent else "%{y:.3g}"
    for i, (name, (x, y)) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        if bands and name in bands:
            lower, upper = (np.asarray(b, dtype=float) for b in bands[name])
            fig.add_trace(go.Scatter(x=[*x, *x[::-1]], y=[*upper, *lower[::-1]], fill="toself", mode="lines",
                                     line={"width": 0}, fillcolor=_translucent(color), hoverinfo="skip",
                                     showlegend=False, legendgroup=name, name=f"{name} band"))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if len(x) <= 12 else "lines", name=name,
                                 legendgroup=name, line={"color": color, "dash": (dashes or {}).get(name, "solid")},
                                 hovertemplate=f"{(hover or {}).get(name, name)}<br>{x_title} %{{x}}: {value}"
                                               "<extra></extra>"))
    if isinstance(chance, tuple):
        fig.add_trace(go.Scatter(x=chance[0], y=chance[1], mode="lines", name="chance",
                                 line={"color": GREY, "dash": "dot"}))
    elif chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color=GREY, annotation_text="chance")
    fig.update_xaxes(title=x_title)
    if log_x:
        log_ticks(fig, max(max(x) for x, _ in curves.values()))
    peak = max([float(np.nanmax(y)) for _, y in curves.values() if len(y)] + [0.0])
    fig.update_yaxes(title=y_title, tickformat=percent_format(peak) if percent else None, rangemode="tozero")
    return style(fig, big, height=height)


def _translucent(color: str, alpha: float = 0.18) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def add_points(fig: go.Figure, name: str, x: list, y: list, error: list | None = None, color: str = RED) -> go.Figure:
    """Isolated scores (e.g. ridge top-1/top-5 from a metrics table) as markers with CIs."""
    err = None if error is None else {"type": "data", "symmetric": False, "array": [e[1] for e in error],
                                      "arrayminus": [e[0] for e in error]}
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=name, error_y=err,
                             marker={"size": 12, "symbol": "diamond", "color": color}))
    return fig


def add_ceiling(fig: go.Figure, curve: np.ndarray) -> go.Figure:
    """A top-k figure's noise ceiling: ``curve`` (N',) accuracy at k = 1..N', a dashed dark line."""
    k = np.arange(1, len(curve) + 1)
    fig.add_trace(go.Scatter(x=k, y=curve, mode="lines", name="noise ceiling",
                             line={"color": "#333333", "dash": "dash", "width": 2}))
    return fig


def bars(labels: list[str], values: np.ndarray, x_title: str, big: bool = False, highlight: int | None = None,
         percent: bool = False) -> go.Figure:
    colors = [ORANGE if i == highlight else BLUE for i in range(len(labels))]
    values, x_title = scaled(values, x_title)
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=colors))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=x_title, tickformat=".0%" if percent else None)
    return style(fig, big, height=max(260, 32 * len(labels) + 80))
