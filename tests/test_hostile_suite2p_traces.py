"""Hostile suite2p traces: NaN, Inf, short, missing, truncated or FIFO trace files, cells and ROI centres.

Every bad input gets a clear DatasetError naming the *source* file and field (never the output), a
good earlier output stays byte-identical, and nothing else in the test's folder changes
(:func:`hostile.untouched`); the documented repair (``nan_frames='interpolate'``) is checked to do what it says, in
the import and in the wizard's preview. The sources are a tiny simulated recording in suite2p's and NWB's real layouts,
written once (``tiny_sources`` in conftest.py) and copied for each case (:class:`hostile_sources.Case`).
"""

from __future__ import annotations

import os

import numpy as np

from dina_core.data.io import read_dataset
from dina_core.importers.traces import TraceConfig
from hostile_sources import cell, edit


def test_nan_frame_range_is_refused_naming_file_roi_and_frames(s2p_case):
    roi = cell(s2p_case)
    edit(s2p_case.plane / "F.npy", lambda F: F.__setitem__((roi, slice(100, 131)), np.nan))
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane / "F.npy", f"ROI {roi} (neuron 2 of the import)",
                "frames 100-130", "31 of 3390 frames", "nan_frames='interpolate'")


def test_nan_frames_are_filled_when_asked_and_counted(s2p_case):
    roi = cell(s2p_case)
    edit(s2p_case.plane / "F.npy", lambda F: F.__setitem__((roi, slice(100, 131)), np.nan))
    data = read_dataset(s2p_case.import_suite2p(config=TraceConfig(nan_frames="interpolate")))  # handled, on request
    assert np.isfinite(data.responses).all()
    assert data.attrs["preprocessing"]["nan_frames_filled"] == {"traces": 1, "values": 31}
    assert data.attrs["preprocessing"]["trace_config"]["nan_frames"] == "interpolate"


def test_a_trace_without_any_finite_frame_is_refused_even_when_filling(s2p_case):
    roi = cell(s2p_case, 0)
    edit(s2p_case.plane / "F.npy", lambda F: F.__setitem__(roi, np.nan))
    s2p_case.refused(lambda: s2p_case.import_suite2p(config=TraceConfig(nan_frames="interpolate")),
                s2p_case.plane / "F.npy", f"ROI {roi}", "every frame")


def test_inf_in_neuropil_names_fneu(s2p_case):
    roi = cell(s2p_case, 4)
    edit(s2p_case.plane / "Fneu.npy", lambda F: F.__setitem__((roi, 7), np.inf))
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane / "Fneu.npy", f"ROI {roi}", "frames 7 ")


def test_frame_counts_that_disagree_are_refused(s2p_case):
    np.save(s2p_case.plane / "Fneu.npy", np.load(s2p_case.plane / "Fneu.npy")[:, :-5])
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane, "Fneu.npy", "like F.npy", "(50, 3385)")


def test_zero_cells_after_iscell_are_refused(s2p_case):
    edit(s2p_case.plane / "iscell.npy", lambda a: a.__setitem__((slice(None), 1), 0.1))
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.suite2p, "iscell.npy", "at least one cell", "none of 50 ROIs")


def test_nan_roi_centre_is_refused(s2p_case):
    from dina_core.data.safe_pickle import load_npy
    roi = cell(s2p_case, 1)
    stat = load_npy(s2p_case.plane / "stat.npy")
    stat[roi]["med"] = [float("nan"), 3.0]
    np.save(s2p_case.plane / "stat.npy", stat, allow_pickle=True)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane / "stat.npy", f"ROI {roi} ['med']", "finite (y, x)")


def test_missing_neuropil_file_is_refused(s2p_case):
    (s2p_case.plane / "Fneu.npy").unlink()
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane, "Fneu.npy", "missing")


def test_truncated_traces_are_refused(s2p_case):
    path = s2p_case.plane / "F.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane, "F.npy", "cannot load")


def test_fifo_in_place_of_traces_is_refused_without_blocking(s2p_case):
    (s2p_case.plane / "F.npy").unlink()
    os.mkfifo(s2p_case.plane / "F.npy")
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane / "F.npy", "<file>", "named pipe")


def test_the_wizard_preview_names_the_same_file_and_roi_as_the_import(s2p_case):
    from dina_core.importers.suite2p import read_suite2p_source
    from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_source

    n_cells = int((np.load(s2p_case.plane / "iscell.npy")[:, 1] >= 0.5).sum())
    roi = cell(s2p_case, n_cells - 1)  # the last neuron: always sampled, at a shifted place in the sample
    edit(s2p_case.plane / "F.npy", lambda F: F.__setitem__((roi, slice(50, 52)), np.nan))
    source = read_suite2p_source(s2p_case.suite2p, stimuli=s2p_case.table, images=s2p_case.images)
    config = TraceConfig()
    sample, neurons = sample_source(source, n_cells // 2, preview_kinds(source, config))
    assert neurons[-1] == n_cells - 1 and neurons.size < n_cells
    s2p_case.refused(lambda: preview_source(sample, neurons, config, n_total=n_cells),
                s2p_case.plane / "F.npy", f"ROI {roi} (neuron {n_cells - 1} of the import)", "frames 50-51")
    filled = TraceConfig(nan_frames="interpolate")
    result = preview_source(sample, neurons, filled, n_total=n_cells)  # handled on request
    assert np.isfinite(result.trials.values).all() and result.trials.filled_values == 2
