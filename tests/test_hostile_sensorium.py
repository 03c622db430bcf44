"""Hostile Sensorium folders and zips: every bad input is refused naming its source file and field, a
good earlier output stays byte-identical, and no other file appears; degenerate recordings are flagged.

Each case copies one small folder in the exact Sensorium layout (dina_core/simulate/sensorium_folder.py) and a good
earlier import of it, damages the copy, imports over the earlier output and checks with
:func:`hostile.untouched` that nothing in the test's folder (nor the pristine source) changed. The app's
Sensorium path is tried the same way: a failed re-import never hands back the earlier file, and two
sources that share a folder name get distinct outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zipfile

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.errors import DatasetError, DinaError, DinaWarning
from dina_core.evaluate.tasks import TierTask
from dina_core.importers.sensorium import import_sensorium
from dina_core.simulate.sensorium_folder import NAME, write_sensorium_folder, zip_folder
from hostile import names_the_source, no_hang, untouched


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A small Sensorium folder (60 trials, 12 neurons, 9 x 16 images) and a good import of it."""
    folder = write_sensorium_folder(tmp_path_factory.mktemp("pristine"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        good = import_sensorium(folder, folder.parent / "good.h5")
    return folder, good


@pytest.fixture()
def case(pristine, tmp_path):
    """(source copy to damage, output path holding a copy of the good import)."""
    folder, good = pristine
    src = shutil.copytree(folder, tmp_path / "src" / NAME)
    out = tmp_path / "out" / "recording.h5"
    out.parent.mkdir()
    shutil.copy2(good, out)
    return src, out


def refused(src, out, field: str, *words: str, pristine=None, roots=None) -> DatasetError:
    """Import ``src`` over ``out``: a DatasetError naming the source and ``field``; nothing under ``roots``
    (default: the test's whole folder, and the pristine source when given) changes."""
    roots = roots or [out.parent.parent] + ([pristine[0].parent] if pristine else [])
    with untouched(*roots), no_hang(), pytest.raises(DatasetError) as info:
        import_sensorium(src, out)
    return names_the_source(info.value, src, field, words)


def edit(src, rel: str, change) -> None:
    """Replace the array in ``src/rel`` by ``change(array)``."""
    path = src / rel
    np.save(path, change(np.load(path)))


def test_nan_response_names_its_trial_file(case, pristine):
    src, out = case
    edit(src, "data/responses/7.npy", lambda a: np.where(np.arange(a.size) == 4, np.nan, a))
    refused(src, out, "data/responses/7.npy", "NaN/Inf", "neuron 4", pristine=pristine)


def test_inf_pixel_names_its_trial_file_and_pixel(case):
    src, out = case
    def inf_at(a):
        a = a.copy()
        a[0, 2, 5] = np.inf
        return a
    edit(src, "data/images/3.npy", inf_at)
    refused(src, out, "data/images/3.npy", "pixel (row, column) (2, 5)", "inf")


def test_nan_coordinates_are_refused(case):
    src, out = case
    edit(src, "meta/neurons/cell_motor_coordinates.npy", lambda a: np.where(np.arange(a.shape[0])[:, None] == 2, np.nan, a))
    refused(src, out, "meta/neurons/cell_motor_coordinates.npy", "finite positions", "neurons 2")


def test_coordinates_of_the_wrong_shape_are_refused(case):
    src, out = case
    edit(src, "meta/neurons/cell_motor_coordinates.npy", lambda a: np.hstack([a, a[:, :2]]))
    refused(src, out, "meta/neurons/cell_motor_coordinates.npy", "2 or 3", "(12, 5)")


def test_repeated_unit_ids_are_refused(case):
    src, out = case
    edit(src, "meta/neurons/unit_ids.npy", lambda a: np.where(a == 5, 4, a).astype(a.dtype))
    refused(src, out, "meta/neurons/unit_ids.npy", "one distinct id per neuron", "e.g. 4")


def test_frame_ids_of_the_wrong_length_are_refused(case):
    src, out = case
    edit(src, "meta/trials/frame_image_id.npy", lambda a: a[:-3])
    refused(src, out, "meta/trials/frame_image_id.npy", "(60,)", "(57,)")


def test_one_response_of_the_wrong_length_is_refused(case):
    src, out = case
    edit(src, "data/responses/11.npy", lambda a: a[:-1])
    refused(src, out, "data/responses/11.npy", "(12,)", "(11,)")


def test_missing_trial_file_is_refused(case):
    src, out = case
    (src / "data" / "images" / "9.npy").unlink()
    refused(src, out, "data/images", "60 .npy files", "59 files")


def test_truncated_trial_file_is_refused(case):
    src, out = case
    path = src / "data" / "responses" / "5.npy"
    path.write_bytes(path.read_bytes()[:-20])
    refused(src, out, "data/responses/5.npy", "truncated")


def test_fifo_in_place_of_a_trial_file_is_refused_without_blocking(case):
    src, out = case
    path = src / "data" / "responses" / "5.npy"
    path.unlink()
    os.mkfifo(path)
    refused(src, out, "data/responses/5.npy", "named pipe")


def test_fifo_given_as_the_source_is_refused_without_blocking(case, tmp_path):
    _, out = case
    fifo = tmp_path / "src" / "static.zip"
    os.mkfifo(fifo)
    refused(fifo, out, "<source>", "named pipe")


def test_empty_zip_is_refused(case, tmp_path):
    _, out = case
    empty = tmp_path / "src" / "empty.zip"
    empty.write_bytes(b"")
    refused(empty, out, "<source>", "empty file")


def test_nan_inside_a_zip_names_the_zip_and_member(case, tmp_path):
    src, out = case
    edit(src, "data/responses/2.npy", lambda a: a * np.nan)
    archive = zip_folder(src, tmp_path / "src" / f"{NAME}.zip")
    shutil.rmtree(src)
    err = refused(archive, out, "data/responses/2.npy", "NaN/Inf")
    assert err.path == str(archive)


def test_zero_neurons_are_refused(case):
    src, out = case
    for path in (src / "data" / "responses").iterdir():
        np.save(path, np.zeros(0))
    refused(src, out, "data/responses/", "at least one neuron", "(0,)")


def test_all_identical_images_are_refused(case):
    src, out = case
    first = np.load(src / "data" / "images" / "0.npy")
    for path in (src / "data" / "images").iterdir():
        np.save(path, first)
    refused(src, out, "/stimuli/images", "identical images", "chance")


def test_a_huge_sparse_trial_file_is_refused_before_it_is_read(case):
    src, out = case
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


def test_one_test_image_is_flagged_and_evaluation_refuses_it(case, tmp_path):
    src, out = case
    tiers = np.load(src / "meta" / "trials" / "tiers.npy")
    ids = np.load(src / "meta" / "trials" / "frame_image_id.npy")
    test_ids = np.unique(ids[tiers == "test"])
    keep_one = np.where((tiers == "test") & (ids != test_ids[0]), "final_test", tiers)
    np.save(src / "meta" / "trials" / "tiers.npy", keep_one.astype("<U10"))
    with untouched(src.parent), pytest.warns(DinaWarning, match="only 1 image"):
        import_sensorium(src, out)  # handled: written (it is a valid file), and flagged
    data = read_dataset(out)
    test = data.tiers == "test"
    assert np.unique(data.image_index[test]).size == 1
    with pytest.raises(DinaError, match="N >= 2"):
        TierTask.from_arrays(data.responses[test], data.images, data.image_index[test])


def test_a_neuron_that_never_varies_is_flagged(case):
    src, out = case
    for path in (src / "data" / "responses").iterdir():
        edit(src, f"data/responses/{path.name}", lambda a: np.where(np.arange(a.size) == 6, 0.25, a))
    with pytest.warns(DinaWarning, match=r"give the same response on every trial \(neurons .*6"):
        import_sensorium(src, out)
    assert (read_dataset(out).responses[:, 6] == 0.25).all()  # handled: kept, flagged


# --- the app's Sensorium import (dina_app/sources.py) --------------------------------------------


def _app_import(src, root):
    from dina_app import sources
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        return sources.import_sensorium_source(src, root)


def test_app_failed_reimport_never_hands_back_the_earlier_file(pristine, tmp_path):
    root = tmp_path / "data"
    src = shutil.copytree(pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    assert _app_import(src, root) == out  # the same import: reused
    edit(src, "data/responses/3.npy", lambda a: a * np.nan)  # the source changes: a fresh import, which fails
    later = out.stat().st_mtime + 10  # newer than the output even on file systems with coarse times
    os.utime(src / "data" / "responses" / "3.npy", (later, later))
    with untouched(root / "imported"), pytest.raises(DatasetError, match="data/responses/3.npy"):
        _app_import(src, root)


def test_app_output_of_another_request_is_not_reused(pristine, tmp_path):
    import h5py

    root = tmp_path / "data"
    src = shutil.copytree(pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    with h5py.File(out, "r+") as f:  # an output recording another request (made with other options)
        request = json.loads(f.attrs["import_request"])
        f.attrs["import_request"] = json.dumps({**request, "options": {"final_test": "test"}})
    assert _app_import(src, root) == out
    assert read_dataset(out).attrs["import_request"]["options"] == {"final_test": "drop"}  # imported afresh


def test_app_invalid_earlier_output_is_not_reused(pristine, tmp_path):
    import h5py

    root = tmp_path / "data"
    src = shutil.copytree(pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    with h5py.File(out, "r+") as f:  # an invalid file of the same request (e.g. written by an older DINA)
        f["/trials/responses"][0, 0] = np.nan
    assert _app_import(src, root) == out
    assert np.isfinite(read_dataset(out).responses).all()


def test_app_two_sources_with_one_folder_name_get_distinct_outputs(pristine, tmp_path):
    root = tmp_path / "data"
    first = shutil.copytree(pristine[0], root / "a" / NAME)
    second = shutil.copytree(pristine[0], root / "b" / NAME)
    edit(second, "data/responses/0.npy", lambda a: a + 1.0)
    out_a = _app_import(first, root)
    with untouched(out_a):
        out_b = _app_import(second, root)
    assert out_a != out_b and out_a.name == f"{NAME}.h5" and out_b.name.startswith(f"{NAME}-")
    assert _app_import(first, root) == out_a and _app_import(second, root) == out_b  # stable
    assert read_dataset(out_a).attrs["import_request"]["source"] == str(first.resolve())
    assert read_dataset(out_b).attrs["import_request"]["source"] == str(second.resolve())


def test_zip_member_damaged_is_refused(case, tmp_path):
    src, out = case
    archive = zip_folder(src, tmp_path / "src" / f"{NAME}.zip", compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"{NAME}/data/images/1.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    raw[start:start + 40] = bytes(40)  # corrupt the compressed stream of one member
    archive.write_bytes(bytes(raw))
    refused(archive, out, "data/images/1.npy")
