"""Hostile stimulus tables and image stacks beside a suite2p folder, and the CLI's report of a failed import.

Every bad input gets a clear DatasetError naming the *source* file and field (never the output), a
good earlier output stays byte-identical, and nothing else in the test's folder changes
(:func:`hostile.untouched`). The sources are a tiny simulated recording in suite2p's and NWB's real layouts,
written once (``tiny_sources`` in conftest.py) and copied for each case (:class:`hostile_sources.Case`).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from dina_core.cli import main
from hostile import untouched
from hostile_sources import cell, edit


def test_unknown_image_id_names_the_table_row(s2p_case):
    rows = s2p_case.table_rows()
    rows[5][2] = "9999"
    s2p_case.write_table(rows)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "row 5 (image_id)", "'9999'")


@pytest.mark.parametrize("onset", ["-40", "999999"])
def test_onsets_outside_the_recording_name_the_row(s2p_case, onset):
    rows = s2p_case.table_rows()
    rows[3][0] = onset
    s2p_case.write_table(rows)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "row 3", f"onset frame {onset}")


def test_identical_onsets_are_refused(s2p_case):
    rows = s2p_case.table_rows()
    s2p_case.write_table([rows[0]] + [[rows[1][0], *r[1:]] for r in rows[1:]])
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "onset_frame", "same onset",
                     f"all {len(rows) - 1} presentations")


def test_inf_pixel_names_the_image(s2p_case):
    edit(s2p_case.images, lambda a: a.__setitem__((4, 2, 3), -np.inf))
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.images, "<array> image 4", "pixel (row 2, column 3)")


def test_huge_declared_image_stack_is_refused_before_allocation(s2p_case, tmp_path):
    stack = tmp_path / "session" / "images.h5"
    with h5py.File(stack, "w") as f:  # 40 TB declared, nothing written: a few KB on disk
        f.create_dataset("images", shape=(10 ** 7, 1000, 1000), dtype="f4", chunks=(1, 100, 100),
                         maxshape=(None, 1000, 1000))
    s2p_case.refused(lambda: s2p_case.import_suite2p(images=stack), stack, "/images", "fit in memory",
                "10,000,000 x 1,000 x 1,000 float32 (40 TB)")


def test_fifo_as_stimulus_table_is_refused_without_blocking(s2p_case):
    s2p_case.table.unlink()
    os.mkfifo(s2p_case.table)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "<file>", "named pipe")


def test_empty_stimulus_table_and_folder_in_its_place_are_refused(s2p_case):
    s2p_case.table.write_bytes(b"")
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "<file>", "empty file")
    s2p_case.table.unlink()
    s2p_case.table.mkdir()
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "<file>", "a folder")


def test_cli_import_failure_names_the_source_and_keeps_the_output(s2p_case, capsys):
    roi = cell(s2p_case)
    edit(s2p_case.plane / "F.npy", lambda F: F.__setitem__((roi, slice(10, 13)), np.nan))
    with untouched(s2p_case.root):
        code = main(["import", "suite2p", str(s2p_case.suite2p), str(s2p_case.out), "--overwrite",
                     "--stimuli", str(s2p_case.table), "--images", str(s2p_case.images)])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {s2p_case.plane / 'F.npy'}: field 'ROI {roi}" in err and "frames 10-12" in err


def test_device_file_as_image_stack_is_refused_without_reading_it(s2p_case):
    device = Path("/dev/zero")  # an endless stream: reading it would never finish
    if not device.exists():
        pytest.skip("no /dev/zero here")
    s2p_case.refused(lambda: s2p_case.import_suite2p(images=device), device, "<file>", "character device")
