"""A simulated recording written as raw sessions (suite2p folder, stimulus table, images, NWB file), and the
checks of what an import of them recovers.

``simulated_files`` writes each recording once per test session (writing the NWB file is the slow part), so
the suite2p, NWB, preview, wizard and browser tests share one copy; the ``suite2p_files`` fixture of
conftest.py is it for ``small_data`` (``suite2p_source`` reads it). ``expected_preview`` is the preview
the import wizard must show, computed by ``dina_core`` directly.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from dina_core.data.reliability import oracle_correlation
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_source
from dina_core.simulate.trace_writers import write_trace_recording

# events summed over the 0.5 s stimulus are the simulated responses: a cheap exact check
EVENTS = TraceConfig(signal="events", response_window_s=(0.0, 0.5), prestim_window_s=None)


def column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def reliable_neurons(data) -> np.ndarray:
    """Strong responders whose simulated responses repeat well (oracle >= 0.5 on test)."""
    oracle = oracle_correlation(data.responses, data.image_index, data.tiers == "test")
    return data.ground_truth["strong_responder"] & (np.nan_to_num(oracle) >= 0.5)


_WRITTEN: dict = {}


def simulated_files(data, tmp_path_factory):
    """The suite2p folder, table, images and NWB file of ``data``, written once per session."""
    if id(data) not in _WRITTEN:
        _WRITTEN[id(data)] = write_trace_recording(data, tmp_path_factory.mktemp("rec"),
                                                   nwb=importlib.util.find_spec("pynwb") is not None)
    return _WRITTEN[id(data)]


def expected_preview(source, config: TraceConfig, max_neurons: int = 200):
    """The preview of ``source`` with ``config`` on the wizard's sample of ``max_neurons`` neurons."""
    sample, neurons = sample_source(source, max_neurons, preview_kinds(source, config))
    return preview_source(sample, neurons, config, n_total=source.recording.n_neurons)
