"""Hostile NWB files: NaN traces and onsets, identical start times, Inf pixels, huge declared series,
truncated, empty or FIFO files (skipped without pynwb).

Every bad input gets a clear DatasetError naming the *source* file and field (never the output), a
good earlier output stays byte-identical, and nothing else in the test's folder changes
(:func:`hostile.untouched`). The sources are a tiny simulated recording in suite2p's and NWB's real layouts,
written once (``tiny_sources`` in conftest.py) and copied for each case (:class:`hostile_sources.Case`).
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from hostile_sources import Case


DFF = "/processing/ophys/DfOverF/DfOverF/data"
STARTS = "/intervals/stimulus_presentations/start_time"


def nwb_edit(case: Case, name: str, change) -> None:
    with h5py.File(case.nwb, "r+") as f:
        values = f[name][()]
        change(values)
        f[name][...] = values


def test_nwb_nan_frames_name_the_series_and_roi(nwb_case):
    nwb_edit(nwb_case, DFF, lambda d: d.__setitem__((slice(200, 205), 3), np.nan))
    nwb_case.refused(nwb_case.import_nwb, f"{nwb_case.nwb} {DFF}", "ROI 3 (neuron 3", "frames 200-204")


def test_nwb_identical_start_times_are_refused(nwb_case):
    nwb_edit(nwb_case, STARTS, lambda t: t.__setitem__(slice(None), t[0]))
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "start_time", "same onset")


def test_nwb_nan_start_time_names_the_row(nwb_case):
    nwb_edit(nwb_case, STARTS, lambda t: t.__setitem__(6, np.nan))
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "/intervals/stimulus_presentations/start_time row 6",
                     "finite onset")


def test_nwb_inf_pixel_names_the_image_container(nwb_case):
    nwb_edit(nwb_case, "/stimulus/templates/stimulus_images/image_00005",
              lambda im: im.__setitem__((1, 1), np.inf))
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "stimulus_images/image_00005", "NaN or Inf",
                     "pixel (row 1, column 1)")


def test_nwb_huge_declared_traces_are_refused_before_allocation(nwb_case):
    with h5py.File(nwb_case.nwb, "r+") as f:  # the series "holds" 10^7 frames x 10^6 ROIs, none written
        attrs = dict(f[DFF].attrs)
        del f[DFF]
        ds = f.create_dataset(DFF, shape=(10 ** 7, 10 ** 6), dtype="f4", chunks=(1024, 64), maxshape=(None, None))
        for key, value in attrs.items():
            ds.attrs[key] = value
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "DfOverF/data", "fit in memory",
                     "1,000,000 x 10,000,000 float32 (40 TB)")


@pytest.mark.parametrize("damage", ["truncated", "empty", "fifo"])
def test_nwb_truncated_empty_or_fifo_is_refused(nwb_case, damage):
    if damage == "truncated":
        nwb_case.nwb.write_bytes(nwb_case.nwb.read_bytes()[: nwb_case.nwb.stat().st_size // 2])
    else:
        nwb_case.nwb.unlink()
        nwb_case.nwb.write_bytes(b"") if damage == "empty" else os.mkfifo(nwb_case.nwb)
    found = {"truncated": "HDF5 cannot open", "empty": "empty file", "fifo": "named pipe"}[damage]
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "<file>", found)
