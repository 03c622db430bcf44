"""Plotly figures of where two animals' models agree (numpy in, ``go.Figure`` out; no Streamlit).

An agreement map is a cosine: it is drawn on the fixed scale -1..1 at the model's own coarse resolution (each
location a block of the stimulus's pixels, never interpolated), over the stimulus it is about.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import DIVERGING, _image_axes, grey, style
from .map_figures import BAR_BELOW


def stimulus(image: np.ndarray, title: str, big: bool = False) -> go.Figure:
    """The stimulus (H, W) alone, in grey levels."""
    fig = go.Figure(grey(image))
    _image_axes(fig)
    h, w = image.shape
    return style(fig, big, height=int(300 * h / w) + 60, title=title)


def agreement(image: np.ndarray, maps: list[np.ndarray], titles: list[str], opacity: float,
              big: bool = False) -> go.Figure:
    """Agreement maps of one stimulus, each over it, in a grid with one colour bar from -1 to 1.

    Args:
        image: (H, W) grey levels.
        maps: k arrays (h, w), cosines in [-1, 1] (``cross_animal_maps``'s 'agreement').
        titles: k panel titles (the pairs).
    """
    cols = min(len(maps), 2 if big or len(maps) > 3 else 3)
    rows = int(np.ceil(len(maps) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.12 if rows > 1 else 0.05)
    image_h, image_w = image.shape
    for i, values in enumerate(maps):
        row, col = i // cols + 1, i % cols + 1
        sy, sx = image_h / values.shape[0], image_w / values.shape[1]  # stimulus pixels per location
        fig.add_trace(grey(image), row=row, col=col)
        fig.add_trace(go.Heatmap(z=values, x0=(sx - 1) / 2, dx=sx, y0=(sy - 1) / 2, dy=sy, coloraxis="coloraxis",
                                 opacity=opacity, name=titles[i],
                                 hovertemplate="pixel row %{y:.0f}, col %{x:.0f}: cosine %{z:.2f}<extra></extra>"),
                      row=row, col=col)
        _image_axes(fig, row, col)
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", row=row, col=col)
    fig.update_layout(coloraxis={"colorscale": DIVERGING, "cmin": -1, "cmax": 1, "colorbar": {
        **BAR_BELOW, "title": {"text": "cosine of the two predicted maps", "side": "right"}}})
    fig.update_annotations(font_size=18 if big else 13)
    style(fig, big)
    panel_height = 900 / cols * image_h / image_w  # px at a content width of 900 px, as map_figures.overlays
    fig.update_layout(height=int(rows * (panel_height + 40) + 70))
    return fig
