"""Hostile Sensorium folders and zips: every bad input is refused naming its source file and field, a
good earlier output stays byte-identical, and no other file appears.

Each case copies one small folder in the exact Sensorium layout (dina_core/simulate/sensorium_folder.py)
and a good earlier import of it (``sensorium_pristine``, ``sensorium_case`` in conftest.py), damages the copy,
imports over the earlier output and checks with :func:`hostile.untouched` that nothing in the test's folder
(nor the pristine source) changed.
"""

from __future__ import annotations

import os
import shutil
import zipfile

import numpy as np
import pytest

from dina_core.simulate.sensorium_folder import NAME, zip_folder
from hostile_sensorium import edit, refused


def test_nan_response_names_its_trial_file(sensorium_case, sensorium_pristine):
    src, out = sensorium_case
    edit(src, "data/responses/7.npy", lambda a: np.where(np.arange(a.size) == 4, np.nan, a))
    refused(src, out, "data/responses/7.npy", "NaN/Inf", "neuron 4", pristine=sensorium_pristine)


def test_inf_pixel_names_its_trial_file_and_pixel(sensorium_case):
    src, out = sensorium_case
    def inf_at(a):
        a = a.copy()
        a[0, 2, 5] = np.inf
        return a
    edit(src, "data/images/3.npy", inf_at)
    refused(src, out, "data/images/3.npy", "pixel (row, column) (2, 5)", "inf")


def test_nan_coordinates_are_refused(sensorium_case):
    src, out = sensorium_case
    edit(src, "meta/neurons/cell_motor_coordinates.npy", lambda a: np.where(np.arange(a.shape[0])[:, None] == 2, np.nan, a))
    refused(src, out, "meta/neurons/cell_motor_coordinates.npy", "finite positions", "neurons 2")


def test_coordinates_of_the_wrong_shape_are_refused(sensorium_case):
    src, out = sensorium_case
    edit(src, "meta/neurons/cell_motor_coordinates.npy", lambda a: np.hstack([a, a[:, :2]]))
    refused(src, out, "meta/neurons/cell_motor_coordinates.npy", "2 or 3", "(12, 5)")


def test_repeated_unit_ids_are_refused(sensorium_case):
    src, out = sensorium_case
    edit(src, "meta/neurons/unit_ids.npy", lambda a: np.where(a == 5, 4, a).astype(a.dtype))
    refused(src, out, "meta/neurons/unit_ids.npy", "one distinct id per neuron", "e.g. 4")


def test_frame_ids_of_the_wrong_length_are_refused(sensorium_case):
    src, out = sensorium_case
    edit(src, "meta/trials/frame_image_id.npy", lambda a: a[:-3])
    refused(src, out, "meta/trials/frame_image_id.npy", "(60,)", "(57,)")


def test_one_response_of_the_wrong_length_is_refused(sensorium_case):
    src, out = sensorium_case
    edit(src, "data/responses/11.npy", lambda a: a[:-1])
    refused(src, out, "data/responses/11.npy", "(12,)", "(11,)")


def test_missing_trial_file_is_refused(sensorium_case):
    src, out = sensorium_case
    (src / "data" / "images" / "9.npy").unlink()
    refused(src, out, "data/images", "60 .npy files", "59 files")


def test_truncated_trial_file_is_refused(sensorium_case):
    src, out = sensorium_case
    path = src / "data" / "responses" / "5.npy"
    path.write_bytes(path.read_bytes()[:-20])
    refused(src, out, "data/responses/5.npy", "truncated")


def test_fifo_in_place_of_a_trial_file_is_refused_without_blocking(sensorium_case):
    src, out = sensorium_case
    path = src / "data" / "responses" / "5.npy"
    path.unlink()
    os.mkfifo(path)
    refused(src, out, "data/responses/5.npy", "named pipe")


def test_fifo_given_as_the_source_is_refused_without_blocking(sensorium_case, tmp_path):
    _, out = sensorium_case
    fifo = tmp_path / "src" / "static.zip"
    os.mkfifo(fifo)
    refused(fifo, out, "<source>", "named pipe")


def test_empty_zip_is_refused(sensorium_case, tmp_path):
    _, out = sensorium_case
    empty = tmp_path / "src" / "empty.zip"
    empty.write_bytes(b"")
    refused(empty, out, "<source>", "empty file")


def test_nan_inside_a_zip_names_the_zip_and_member(sensorium_case, tmp_path):
    src, out = sensorium_case
    edit(src, "data/responses/2.npy", lambda a: a * np.nan)
    archive = zip_folder(src, tmp_path / "src" / f"{NAME}.zip")
    shutil.rmtree(src)
    err = refused(archive, out, "data/responses/2.npy", "NaN/Inf")
    assert err.path == str(archive)


def test_a_huge_sparse_trial_file_is_refused_before_it_is_read(sensorium_case):
    src, out = sensorium_case
    path = src / "data" / "responses" / "4.npy"
    try:
        with open(path, "r+b") as f:
            f.truncate(10 ** 12)  # 1 TB that costs no disk: a sparse file
    except OSError:
        pytest.skip("this file system has no sparse files")
    # the snapshot would read the terabyte itself: watch the output folder, and the source's names and sizes
    listing = sorted((str(p), p.stat().st_size) for p in src.rglob("*"))
    refused(src, out, "data/responses/4.npy", "fit in memory", "1.0 TB", roots=[out.parent])
    assert sorted((str(p), p.stat().st_size) for p in src.rglob("*")) == listing


def test_zip_member_damaged_is_refused(sensorium_case, tmp_path):
    src, out = sensorium_case
    archive = zip_folder(src, tmp_path / "src" / f"{NAME}.zip", compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"{NAME}/data/images/1.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    raw[start:start + 40] = bytes(40)  # corrupt the compressed stream of one member
    archive.write_bytes(bytes(raw))
    refused(archive, out, "data/images/1.npy")
