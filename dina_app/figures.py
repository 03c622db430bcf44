"""Plotly figure builders for DINA Studio (numpy in, ``go.Figure`` out; no Streamlit).

Every builder takes ``big`` (presentation mode): larger fonts and thicker lines so a
figure reads from the back of a seminar room. Images are drawn as grey heatmaps with
row 0 at the top and square pixels.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

BLUE, ORANGE, GREEN, GREY, RED = "#1f5fbf", "#e07b00", "#2a9d55", "#8a8f98", "#c0392b"
PALETTE = [BLUE, ORANGE, GREEN, "#8e44ad", "#16a085", "#b8860b", "#d35400"]
DIVERGING = "RdBu_r"
# Every new figure starts from plotly_white: setting it per figure (update_layout(template=...)) deep-copies and
# validates the whole template, ~0.2 s a figure, most of a warm page switch (bench/bench_app.py).
pio.templates.default = "plotly_white"


def style(fig: go.Figure, big: bool = False, height: int | None = None, title: str | None = None) -> go.Figure:
    """The app's look: white background, readable fonts (larger when ``big``)."""
    fig.update_layout(font={"size": 20 if big else 14},
                      margin={"l": 10, "r": 10, "t": 50 if title else 30, "b": 10},
                      legend={"font": {"size": 18 if big else 13}}, title=title)
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


def log_ticks(fig: go.Figure, upper: float) -> None:
    """1, 2, 5, 10, 20, 50, ... tick labels on a logarithmic x axis."""
    ticks = [m * 10 ** e for e in range(int(np.log10(max(upper, 1))) + 1) for m in (1, 2, 5) if m * 10 ** e <= upper]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])


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
    rows, gap, top = int(np.ceil(n / cols)), max(2, w // 12), max(6, h // 4)  # gaps and room for titles (px)
    mosaic = np.full((rows * (h + top), cols * (w + gap) - gap), np.nan, dtype=np.float32)
    annotations, shapes = [], []  # set at once: add_annotation re-validates every earlier one (quadratic)
    for i, image in enumerate(images):
        r0, c0 = (i // cols) * (h + top) + top, (i % cols) * (w + gap)
        mosaic[r0:r0 + h, c0:c0 + w] = image
        annotations.append({"x": c0 + w / 2, "y": r0 - 1, "text": titles[i], "showarrow": False, "yanchor": "bottom",
                            "font": {"size": 17 if big else 12}})
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
    fig = go.Figure(go.Heatmap(z=values, colorscale=colorscale, zmid=zmid, colorbar={"title": colorbar}))
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
              "colorbar": {"title": color_title}}
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
    style(fig, big, height=460)
    fig.update_layout(legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    return fig


def lines(curves: dict[str, tuple[np.ndarray, np.ndarray]], x_title: str, y_title: str, big: bool = False,
          chance: tuple[np.ndarray, np.ndarray] | float | None = None, percent: bool = True,
          height: int = 380, log_x: bool = False, dashes: dict[str, str] | None = None) -> go.Figure:
    """Named (x, y) curves; ``chance`` a constant or an (x, y) curve, dotted grey."""
    fig = go.Figure()
    for i, (name, (x, y)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if len(x) <= 12 else "lines", name=name,
                                 line={"color": PALETTE[i % len(PALETTE)], "dash": (dashes or {}).get(name, "solid")}))
    if isinstance(chance, tuple):
        fig.add_trace(go.Scatter(x=chance[0], y=chance[1], mode="lines", name="chance",
                                 line={"color": GREY, "dash": "dot"}))
    elif chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color=GREY, annotation_text="chance")
    fig.update_xaxes(title=x_title)
    if log_x:
        log_ticks(fig, max(max(x) for x, _ in curves.values()))
    fig.update_yaxes(title=y_title, tickformat=".0%" if percent else None, rangemode="tozero")
    return style(fig, big, height=height)


def add_points(fig: go.Figure, name: str, x: list, y: list, error: list | None = None) -> go.Figure:
    """Isolated scores (e.g. ridge top-1/top-5 from a metrics table) as markers with CIs."""
    err = None if error is None else {"type": "data", "symmetric": False, "array": [e[1] for e in error],
                                      "arrayminus": [e[0] for e in error]}
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=name, error_y=err,
                             marker={"size": 12, "symbol": "diamond", "color": RED}))
    return fig


def bars(labels: list[str], values: np.ndarray, x_title: str, big: bool = False, highlight: int | None = None,
         percent: bool = False) -> go.Figure:
    colors = [ORANGE if i == highlight else BLUE for i in range(len(labels))]
    values, x_title = scaled(values, x_title)
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=colors))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=x_title, tickformat=".0%" if percent else None)
    return style(fig, big, height=max(260, 32 * len(labels) + 80))


def overlay(image: np.ndarray, values: np.ndarray, opacity: float, title: str = "", big: bool = False,
            contours: np.ndarray | None = None, symmetric: bool = True, height: int = 360,
            colorbar: str = "relative to peak") -> go.Figure:
    """A map drawn over its stimulus, scaled to its peak |value| (1); ``contours`` (k, H, W) masks drawn
    as outlines (e.g. true RFs)."""
    fig = go.Figure(grey(image))
    peak = float(np.abs(values).max()) or 1.0
    values = values / peak if colorbar == "relative to peak" else values
    lim = 1.0 if colorbar == "relative to peak" else peak
    fig.add_trace(go.Heatmap(z=values, colorscale=DIVERGING if symmetric else "Inferno", opacity=opacity,
                             zmin=-lim if symmetric else 0, zmax=lim,
                             colorbar={"orientation": "h", "thickness": 10, "len": 0.6, "y": -0.02, "yanchor": "top",
                                       "title": {"text": colorbar, "side": "right"}},
                             hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"))
    for mask in [] if contours is None else contours:
        fig.add_trace(go.Contour(z=mask.astype(float), showscale=False, contours={"start": 0.5, "end": 0.5,
                                 "coloring": "none"}, line={"color": GREEN, "width": 3 if big else 2},
                                 hoverinfo="skip"))
    _image_axes(fig)
    return style(fig, big, height=height, title=title or None)


def side_by_side(maps: list[np.ndarray], titles: list[str], big: bool = False, shared_scale: bool = False) -> go.Figure:
    """Maps of the same shape in one row, each on its own symmetric colour scale (or a shared one)."""
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=titles, horizontal_spacing=0.04)
    shared = max(float(np.abs(m).max()) for m in maps) or 1.0
    for i, m in enumerate(maps):
        lim = shared if shared_scale else (float(np.abs(m).max()) or 1.0)
        fig.add_trace(go.Heatmap(z=m, colorscale=DIVERGING, zmin=-lim, zmax=lim, showscale=False), row=1, col=i + 1)
        _image_axes(fig, 1, i + 1)
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", row=1, col=i + 1)
    fig.update_annotations(font_size=18 if big else 13)
    return style(fig, big, height=int(900 / len(maps) * maps[0].shape[0] / maps[0].shape[1]) + 80)
