"""Plotly figures of maps and matrices: attribution and alignment maps over their stimulus, latent channel
maps, the response raster and neuron-pair matrices (numpy in, ``go.Figure`` out; no Streamlit).

Several maps in one figure share one colour axis, so a figure has one colour bar however many panels it
holds (a bar per panel shrinks to a sliver at three or four).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import DIVERGING, GREEN, _image_axes, grey, scaled, style

BAR_BELOW = {"orientation": "h", "thickness": 12, "len": 0.5, "x": 0.5, "xanchor": "center", "yref": "container",
             "y": 0, "yanchor": "bottom"}  # a colour bar under the panels, in the figure's bottom margin


def _contours(masks: np.ndarray | None, big: bool) -> list[go.Contour]:
    return [go.Contour(z=m.astype(float), showscale=False, contours={"start": 0.5, "end": 0.5, "coloring": "none"},
                       line={"color": GREEN, "width": 3 if big else 2}, hoverinfo="skip", showlegend=False)
            for m in ([] if masks is None else masks)]


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
                             colorbar={**BAR_BELOW, "len": 0.6, "title": {"text": colorbar, "side": "right"}},
                             hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"))
    fig.add_traces(_contours(contours, big))
    _image_axes(fig)
    return style(fig, big, height=height, title=title or None)


def overlays(image: np.ndarray, maps: list[np.ndarray], titles: list[str], opacity: float, big: bool = False,
             contours: np.ndarray | None = None, cols: int | None = None) -> go.Figure:
    """Several maps of one stimulus (e.g. attribution methods), each over the image and divided by its own
    peak |value|, in a grid with one shared colour bar.

    Args:
        image: (H, W) grey levels.
        maps: k arrays (H, W), any units (each is shown relative to its peak).
        titles: k panel titles.
        contours: (m, H, W) bool masks outlined in every panel (e.g. true RFs), or None.
        cols: panels per row (default: up to three in one row, else two per row; two when ``big``).
    """
    cols = cols or min(len(maps), 2 if big or len(maps) > 3 else 3)
    rows = int(np.ceil(len(maps) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.12 if rows > 1 else 0.05)
    for i, values in enumerate(maps):
        row, col = i // cols + 1, i % cols + 1
        fig.add_trace(grey(image), row=row, col=col)
        fig.add_trace(go.Heatmap(z=values / (float(np.abs(values).max()) or 1.0), coloraxis="coloraxis",
                                 opacity=opacity, name=titles[i],
                                 hovertemplate="row %{y}, col %{x}: %{z:.2f} of peak<extra></extra>"), row=row, col=col)
        for trace in _contours(contours, big):
            fig.add_trace(trace, row=row, col=col)
        _image_axes(fig, row, col)
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", row=row, col=col)
    fig.update_layout(coloraxis={"colorscale": DIVERGING, "cmin": -1, "cmax": 1, "colorbar": {
        **BAR_BELOW, "title": {"text": "relative to each map's peak", "side": "right"}}})
    fig.update_annotations(font_size=18 if big else 13)
    h, w = image.shape
    panel_height = 900 / cols * h / w  # px at a content width of 900 px (a wider one leaves side margins)
    style(fig, big)
    fig.update_layout(height=int(rows * (panel_height + 40) + 70))  # the images' aspect sets it, not ``big``
    return fig


def side_by_side(maps: list[np.ndarray], titles: list[str], big: bool = False, shared_scale: bool = False) -> go.Figure:
    """Maps of the same shape in one row and one colour bar: each map divided by its own peak |value|
    (named in its title), or all on one scale in their own units with ``shared_scale``."""
    fig = make_subplots(rows=1, cols=len(maps), horizontal_spacing=0.04, subplot_titles=[
        t if shared_scale else f"{t} (peak {float(np.abs(m).max()):.2g})" for m, t in zip(maps, titles)])
    for i, m in enumerate(maps):
        z = m if shared_scale else m / (float(np.abs(m).max()) or 1.0)
        fig.add_trace(go.Heatmap(z=z, coloraxis="coloraxis",
                                 hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"), row=1, col=i + 1)
        _image_axes(fig, 1, i + 1)
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", row=1, col=i + 1)
    lim = (max(float(np.abs(m).max()) for m in maps) or 1.0) if shared_scale else 1.0
    fig.update_layout(coloraxis={"colorscale": DIVERGING, "cmin": -lim, "cmax": lim, "colorbar": {
        "title": {"text": "value" if shared_scale else "relative to peak", "side": "right"}, "thickness": 14}})
    fig.update_annotations(font_size=18 if big else 13)
    style(fig, big)
    fig.update_layout(height=int(800 / len(maps) * maps[0].shape[0] / maps[0].shape[1]) + 90)  # set by the aspect
    return fig


def raster(values: np.ndarray, images: np.ndarray, n_trials: int, n_neurons: int, big: bool = False,
           neurons_title: str = "neurons") -> go.Figure:
    """Responses (trials x neurons) of a subset of the recording, a line between the trials of two images.

    Args:
        values: (t, n) responses of the shown trials (rows grouped by image) and neurons, z-scored.
        images: (t,) stimulus row of each shown trial.
        n_trials, n_neurons: how many test trials and neurons the recording has (the title says how
            many of them are shown).
    """
    t, n = values.shape
    fig = go.Figure(go.Heatmap(z=values, colorscale=DIVERGING, zmid=0.0, customdata=np.repeat(images[:, None], n, 1),
                               colorbar={"title": {"text": "z-scored response", "side": "right"}},
                               hovertemplate="trial row %{y} (image %{customdata}), neuron %{x}: %{z:.2f}"
                                             "<extra></extra>"))
    for row in np.flatnonzero(np.diff(images)) + 0.5:  # between the last repeat of one image and the next
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, y0=row, y1=row, line={"color": "black", "width": 1})
    n_images = len(np.unique(images))
    fig.update_xaxes(title=f"{neurons_title}: {n} of {n_neurons:,}")
    fig.update_yaxes(title=f"test trials: {t} of {n_trials:,} ({n_images} images)", autorange="reversed")
    return style(fig, big, height=460)


def interaction_matrix(values: np.ndarray, ticks: list[str], title: str, big: bool = False) -> go.Figure:
    """A symmetric neuron x neuron matrix on a diverging scale centred at 0, its diagonal left blank.

    The diagonal holds no pair (1 by definition for a correlation, 0 by convention for pair ablation):
    blank, it cannot wash out the colour scale, which spans the off-diagonal values.
    """
    values = np.array(values, dtype=float)
    np.fill_diagonal(values, np.nan)
    values, title = scaled(values, title)
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    fig = go.Figure(go.Heatmap(z=values, x=ticks, y=ticks, colorscale=DIVERGING, zmin=-(lim or 1.0), zmax=lim or 1.0,
                               hoverongaps=False, colorbar={"title": {"text": title, "side": "right"}},
                               hovertemplate="neurons %{x} and %{y}: %{z:.3g}<extra></extra>"))
    fig.update_xaxes(title="neuron", type="category", tickangle=-90, constrain="domain")  # ticks next to the cells
    fig.update_yaxes(title="neuron", type="category", autorange="reversed", scaleanchor="x")
    return style(fig, big, height=520)
