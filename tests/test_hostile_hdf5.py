"""Hostile DINA files: nothing a file names outside itself is ever read, and a broken file is a clear error.

Each hostile kind replaces a dataset DINA reads by one whose data live elsewhere (an external
link to another recording, external raw storage in a "server file", a virtual dataset) or
need a plugin library (an unknown filter), in a DINA file and in an upload through the app's
path (``hostile.plant``). Every case asserts a DatasetError naming the file and the object,
and that nothing outside the test's files changed; a plain h5py read shows the planted file
really would have reached outside. Broken files (truncated, not HDF5, damaged chunks, wrong
types) give a DatasetError too, never a traceback. NWB files and image stacks:
test_hostile_hdf5_sources.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_core.data.format import write_dataset
from dina_core.data.io import dataset_summary, read_dataset, validate_dataset
from dina_core.errors import DatasetError
from hostile import KINDS, REFUSAL, plant, retype, truncate, untouched
from studio_pages import APP
from test_dataset_io import make_tiny_data


@pytest.fixture()
def dina_file(folders):
    return write_dataset(folders[0] / "rec.h5", make_tiny_data())


@pytest.mark.parametrize("kind", ["external_link", "external_storage", "virtual_dataset"])
def test_a_planted_file_really_reaches_outside(dina_file, folders, kind):
    """The attack is real: plain h5py returns the outside data, so the refusals below matter."""
    secret = plant(dina_file, "/stimuli/images", kind, folders[1])
    with h5py.File(dina_file, "r") as f:
        np.testing.assert_array_equal(f["/stimuli/images"][()], secret)


@pytest.mark.parametrize("reader", [read_dataset, dataset_summary, validate_dataset])
@pytest.mark.parametrize("kind", KINDS)
def test_dina_file_that_is_not_self_contained_is_refused(dina_file, folders, kind, reader):
    plant(dina_file, "/stimuli/images", kind, folders[1])
    with untouched(*folders), pytest.raises(DatasetError) as err:
        reader(dina_file)
    assert err.value.path == str(dina_file) and err.value.field == "/stimuli/images"
    assert REFUSAL[kind] in str(err.value)


def test_a_link_anywhere_in_the_file_is_refused(dina_file, folders):
    """Not only the datasets DINA reads: the whole file is walked."""
    with h5py.File(dina_file, "a") as f:
        f["/neurons/more/deep"] = h5py.ExternalLink(str(folders[1] / "elsewhere.h5"), "/x")
    with untouched(*folders), pytest.raises(DatasetError, match=r"field '/neurons/more/deep'.*external link"):
        read_dataset(dina_file)


def test_soft_links_and_builtin_filters_are_accepted(dina_file, folders):
    """Handled: links inside the file and HDF5's own filters are not hostile."""
    with h5py.File(dina_file, "a") as f:
        f["alias"] = h5py.SoftLink("/stimuli/images")
        f.create_dataset("/packed", data=np.arange(64.0).reshape(8, 8), chunks=(4, 4), compression="lzf",
                         shuffle=True, fletcher32=True)
    with untouched(*folders):
        data = read_dataset(dina_file)
    np.testing.assert_array_equal(data.images, make_tiny_data().images)


@pytest.mark.parametrize("kind", KINDS)
def test_upload_that_is_not_self_contained_is_refused(dina_file, folders, kind):
    """The app's path: the upload is saved into the data folder, then summarised before it opens."""
    from dina_app import sources

    plant(dina_file, "/stimuli/images", kind, folders[1])
    root = folders[0] / "data"
    saved = sources.save_upload(io.BytesIO(dina_file.read_bytes()), "collaborator.h5", root)
    with untouched(*folders), pytest.raises(DatasetError, match=REFUSAL[kind]) as err:
        dataset_summary(saved)
    assert err.value.path == str(saved)


def test_upload_on_the_data_page_never_shows_a_server_file(dina_file, folders, monkeypatch):
    """Through the page: the upload is refused with the message, and the recording does not change."""
    plant(dina_file, "/stimuli/images", "external_storage", folders[1])
    for name, value in {"DINA_DATA_DIR": folders[0] / "data", "DINA_RUNS_DIR": folders[0] / "runs",
                        "DINA_DEMO_DIR": folders[0] / "demo", "DINA_DEMO_SIZE": "small"}.items():
        monkeypatch.setenv(name, str(value))
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page("pages/data.py").run()
    at.segmented_control(key="data.source").set_value("Upload a DINA file").run()
    at.get("file_uploader")[0].upload("collaborator.h5", dina_file.read_bytes(), "application/x-hdf5").run()
    with untouched(folders[1]):
        at.button(key="data.open_upload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("stored in external file" in e.value and "/stimuli/images" in e.value for e in at.error)
    assert "dina.data_path" not in at.session_state


def _damage_chunk(path: Path) -> None:
    """Overwrite the compressed bytes of the first image with garbage (the file still opens)."""
    with h5py.File(path, "r") as f:
        info = f["/stimuli/images"].id.get_chunk_info(0)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset)
        handle.write(b"\xff" * info.size)


@pytest.mark.parametrize("damage,field,pattern", [
    (lambda p: p.write_bytes(b"just some text, not HDF5\n"), "<file>", "a file HDF5 cannot open"),
    (lambda p: p.write_bytes(b""), "<file>", "a file HDF5 cannot open"),
    (truncate, "<file>", "a file HDF5 cannot open"),
    (_damage_chunk, "<file>", "damaged data"),
    (retype("/trials/responses", np.array([["a"] * 7] * 40, dtype=object).astype("S")),
     "/trials/responses", "found text"),
    (retype("/stimuli/images", np.zeros((10, 30), np.float32)), "/stimuli/images", "shape"),
    (retype("/trials/image_index", np.full(40, 0.5)), "/trials/image_index", "float"),
], ids=["not-hdf5", "empty", "truncated", "damaged-chunk", "text-responses", "2d-images", "float-index"])
def test_broken_dina_file_is_a_clear_error(dina_file, folders, damage, field, pattern):
    damage(dina_file)
    with untouched(*folders), pytest.raises(DatasetError, match=pattern) as err:
        read_dataset(dina_file)
    assert err.value.path == str(dina_file) and err.value.field == field
