"""Hostile HDF5 files: nothing a file names outside itself is ever read.

Each hostile kind replaces a dataset DINA reads by one whose data live elsewhere (an external
link to another recording, external raw storage in a "server file", a virtual dataset) or
need a plugin library (an unknown filter), in a DINA file, an upload through the app's path,
an NWB file and an ``.h5`` image stack. Every case asserts a DatasetError naming the file and
the object, and that nothing outside the test's files changed; a plain h5py read shows the
planted file really would have reached outside. Broken files (truncated, not HDF5, damaged
chunks, wrong types) give a DatasetError too, never a traceback.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_core.data.format import write_dataset
from dina_core.data.io import dataset_summary, read_dataset, validate_dataset
from dina_core.errors import DatasetError
from dina_core.importers.stimuli import read_images
from hostile import untouched
from test_dataset_io import make_tiny_data

KINDS = ["external_link", "external_storage", "virtual_dataset", "plugin_filter"]
REFUSAL = {"external_link": "external link to", "external_storage": "stored in external file",
           "virtual_dataset": "virtual dataset mapping", "plugin_filter": "filter 32001"}
APP = Path(__file__).resolve().parents[1] / "app.py"


def plant(path: Path, name: str, kind: str, outside: Path) -> np.ndarray:
    """Replace dataset ``name`` of ``path`` by a ``kind`` one whose data come from ``outside``.

    Returns the values a plain read of the planted object would give (the outside data).
    """
    with h5py.File(path, "a") as f:
        like = f[name][()]
        attrs = dict(f[name].attrs)
        del f[name]
        secret = (like + 1000).astype(like.dtype)  # what lies outside: not the file's own values
        other = outside / f"other-{kind}.h5"
        with h5py.File(other, "w") as o:
            o["data"] = secret
        if kind == "external_link":
            f[name] = h5py.ExternalLink(str(other), "/data")
            return secret
        if kind == "external_storage":
            raw = outside / "server-file.bin"
            raw.write_bytes(secret.tobytes())
            ds = f.create_dataset(name, shape=like.shape, dtype=like.dtype,
                                  external=[(str(raw), 0, secret.nbytes)])
        elif kind == "virtual_dataset":
            layout = h5py.VirtualLayout(like.shape, like.dtype)
            layout[...] = h5py.VirtualSource(str(other), "data", like.shape)
            ds = f.create_virtual_dataset(name, layout)
        else:
            ds = f.create_dataset(name, data=like, chunks=like.shape, compression=32001,
                                  allow_unknown_filter=True)
            secret = like
        ds.attrs.update(attrs)
    return secret


@pytest.fixture()
def folders(tmp_path):
    """(work folder, outside folder): hostile files live in work/, what they point to in outside/."""
    (tmp_path / "work").mkdir()
    (tmp_path / "outside").mkdir()
    return tmp_path / "work", tmp_path / "outside"


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


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    """A small simulated NWB recording (written once; tests copy it)."""
    pytest.importorskip("pynwb")
    from dina_core.simulate import SimConfig, simulate_recording
    from dina_core.simulate.trace_writers import write_trace_recording

    config = SimConfig.small(n_neurons=20, n_train_images=30, n_validation_images=4, n_test_images=4,
                             n_interaction_groups=2)
    return write_trace_recording(simulate_recording(config), tmp_path_factory.mktemp("nwb")).nwb


def _series_data(path: Path) -> str:
    """Path of the dF/F traces in the NWB file (what the importer reads)."""
    with h5py.File(path, "r") as f:
        found = []
        f["processing"].visititems(lambda n, o: found.append(o.name) if n.endswith("/data")
                                   and "DfOverF" in n and isinstance(o, h5py.Dataset) else None)
    return found[0]


@pytest.mark.parametrize("kind", KINDS)
def test_nwb_file_that_is_not_self_contained_is_refused(nwb_file, folders, kind):
    from dina_core.importers.nwb import load_nwb

    copy = Path(shutil.copy(nwb_file, folders[0] / "session.nwb"))
    name = _series_data(copy)
    plant(copy, name, kind, folders[1])
    with untouched(*folders), pytest.raises(DatasetError, match=REFUSAL[kind]) as err:
        load_nwb(copy)
    assert err.value.path == str(copy) and err.value.field == name


def test_the_unmodified_nwb_copy_still_loads(nwb_file, folders):
    from dina_core.importers.nwb import load_nwb

    copy = Path(shutil.copy(nwb_file, folders[0] / "session.nwb"))
    with untouched(*folders):
        assert load_nwb(copy).recording.n_neurons == 20


@pytest.fixture()
def stack(folders):
    path = folders[0] / "images.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_image_stack_that_is_not_self_contained_is_refused(stack, folders, kind):
    plant(stack, "/images", kind, folders[1])
    with untouched(*folders), pytest.raises(DatasetError, match=REFUSAL[kind]) as err:
        read_images(stack)
    assert err.value.path == str(stack) and err.value.field == "/images"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_chunk(path: Path) -> None:
    """Overwrite the compressed bytes of the first image with garbage (the file still opens)."""
    with h5py.File(path, "r") as f:
        info = f["/stimuli/images"].id.get_chunk_info(0)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset)
        handle.write(b"\xff" * info.size)


def _retype(name: str, values) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with h5py.File(path, "a") as f:
            del f[name]
            f[name] = values
    return damage


@pytest.mark.parametrize("damage,field,pattern", [
    (lambda p: p.write_bytes(b"just some text, not HDF5\n"), "<file>", "a file HDF5 cannot open"),
    (lambda p: p.write_bytes(b""), "<file>", "a file HDF5 cannot open"),
    (_truncate, "<file>", "a file HDF5 cannot open"),
    (_damage_chunk, "<file>", "damaged data"),
    (_retype("/trials/responses", np.array([["a"] * 7] * 40, dtype=object).astype("S")),
     "/trials/responses", "found text"),
    (_retype("/stimuli/images", np.zeros((10, 30), np.float32)), "/stimuli/images", "shape"),
    (_retype("/trials/image_index", np.full(40, 0.5)), "/trials/image_index", "float"),
], ids=["not-hdf5", "empty", "truncated", "damaged-chunk", "text-responses", "2d-images", "float-index"])
def test_broken_dina_file_is_a_clear_error(dina_file, folders, damage, field, pattern):
    damage(dina_file)
    with untouched(*folders), pytest.raises(DatasetError, match=pattern) as err:
        read_dataset(dina_file)
    assert err.value.path == str(dina_file) and err.value.field == field


@pytest.mark.parametrize("damage,field,pattern", [
    (_truncate, "<file>", "a file HDF5 cannot open"),
    (_retype("/images", np.array([b"a", b"b"])), "/images", "numeric stack"),
], ids=["truncated", "text-images"])
def test_broken_image_stack_is_a_clear_error(stack, folders, damage, field, pattern):
    damage(stack)
    with untouched(*folders), pytest.raises(DatasetError, match=pattern) as err:
        read_images(stack)
    assert err.value.path == str(stack) and err.value.field == field


def test_truncated_nwb_file_is_a_clear_error(nwb_file, folders):
    from dina_core.importers.nwb import load_nwb

    copy = Path(shutil.copy(nwb_file, folders[0] / "session.nwb"))
    _truncate(copy)
    with untouched(*folders), pytest.raises(DatasetError, match="a file HDF5 cannot open") as err:
        load_nwb(copy)
    assert err.value.path == str(copy)
