"""Plotly figures of raw calcium traces for the import wizard (numpy in, ``go.Figure`` out)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dina_core.importers.traces.quality import TraceExamples

from .figures import BLUE, GREEN, GREY, ORANGE, style

RAW_LABEL = {"fluorescence": "F", "dff": "dF/F (stored)", "events": "events (spks)"}


def trace_examples(ex: TraceExamples, processed_label: str, big: bool = False) -> go.Figure:
    """Per example neuron: the stored trace (and neuropil) above the processed signal, with every
    onset (dashed), response window (green band) and pre-stimulus window (grey band) marked.

    Args:
        ex: from :func:`dina_core.importers.traces.preview.preview_source` (``ex.neurons`` index the recording).
        processed_label: what the processed trace is (e.g. 'dF/F'), for its axis.
        big: presentation mode.
    """
    n = len(ex.neurons)
    shapes: list[dict] = []
    fig = make_subplots(rows=2 * n, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                        subplot_titles=[t for i in ex.neurons.tolist() for t in (f"neuron {i}: stored", "processed")])
    for k in range(n):
        raw_row, proc_row = 2 * k + 1, 2 * k + 2
        fig.add_trace(go.Scatter(x=ex.times_s, y=ex.raw[k], name=RAW_LABEL.get(ex.raw_kind, ex.raw_kind),
                                 line={"color": BLUE, "width": 1}, showlegend=k == 0, legendgroup="raw"),
                      row=raw_row, col=1)
        if ex.neuropil is not None:
            fig.add_trace(go.Scatter(x=ex.times_s, y=ex.neuropil[k], name="neuropil (Fneu)",
                                     line={"color": ORANGE, "width": 1}, showlegend=k == 0, legendgroup="np"),
                          row=raw_row, col=1)
        fig.add_trace(go.Scatter(x=ex.times_s, y=ex.processed[k], name=processed_label,
                                 line={"color": GREEN, "width": 1.5}, showlegend=k == 0, legendgroup="proc"),
                      row=proc_row, col=1)
        for row in (raw_row, proc_row):
            shapes += _marks(ex, row)
    fig.update_xaxes(title_text="time (s)", row=2 * n, col=1)
    fig.update_layout(legend={"orientation": "h", "y": 1.04, "x": 0}, shapes=shapes)
    return style(fig, big, height=150 * 2 * n + 60)


def _marks(ex: TraceExamples, row: int) -> list[dict]:
    """Window bands and onset lines of one subplot row, as layout shapes (one ``add_vrect`` per band
    would rebuild the figure each time: seconds for a few dozen trials)."""
    axis = "" if row == 1 else str(row)
    base = {"xref": f"x{axis}", "yref": f"y{axis} domain", "y0": 0, "y1": 1, "layer": "below"}
    bands = [(ex.response_windows_s, GREEN, 0.15)]
    if ex.prestim_windows_s is not None:
        bands.append((ex.prestim_windows_s, GREY, 0.25))
    out = [{**base, "type": "rect", "x0": a, "x1": b, "fillcolor": color, "opacity": opacity, "line": {"width": 0}}
           for windows, color, opacity in bands for a, b in windows.tolist()]
    out += [{**base, "type": "line", "x0": t, "x1": t, "line": {"color": GREY, "dash": "dash", "width": 1}}
            for t in ex.onsets_s.tolist()]
    return out


def response_windows(ex: TraceExamples) -> list[str]:
    """'trial 3 at 12.4 s' labels of the marked onsets, for captions."""
    return [f"trial {t} at {s:.1f} s" for t, s in zip(ex.trials.tolist(), np.round(ex.onsets_s, 1).tolist())]
