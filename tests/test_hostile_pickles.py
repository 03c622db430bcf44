"""Hostile pickles in a suite2p folder: a crafted ``ops.npy`` or ``stat.npy`` never runs code.

Each payload, built here, would write a marker file if unpickled by ``np.load(allow_pickle=True)``
(checked once below, so the payloads are real). Through the importer every one is refused with a
DatasetError naming the file, the field and the refused global, the marker never appears and the
folder is unchanged. Object arrays of the types suite2p writes (numpy arrays, dtypes, scalars,
dicts, lists, dates), also as numpy 1 and protocol-2 files wrote them, still load, and a real
simulated suite2p folder still imports.
"""

from __future__ import annotations

import datetime
import io
import os
import pickle
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from dina_core.data.safe_pickle import load_npy
from dina_core.errors import DatasetError
from dina_core.importers.suite2p import load_suite2p
from hostile import untouched
from simulated_sessions import simulated_files


class Call:
    """Pickles as ``func(*args)``: what an attacker's object does when it is unpickled."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


def _runstring():
    from numpy.testing._private.utils import runstring
    return runstring


GADGETS = {  # name: (payload writing ``marker`` when unpickled, the global the error must name)
    "os.system": (lambda m: Call(os.system, f"touch {m}"), f"{os.system.__module__}.system"),
    "subprocess.Popen": (lambda m: Call(subprocess.Popen, ["touch", str(m)]), "subprocess.Popen"),
    "builtins.eval": (lambda m: Call(eval, _touch_code(m)), "builtins.eval"),
    "builtins.exec": (lambda m: Call(exec, _touch_code(m)), "builtins.exec"),
    "numpy runstring": (lambda m: Call(_runstring(), _touch_code(m), {}), "numpy.testing._private.utils.runstring"),
    "shutil.copy": (lambda m: Call(shutil.copy, __file__, str(m)), "shutil.copy"),
}


def ops_with(payload) -> np.ndarray:
    """ops.npy as suite2p saves it (a dict in a 0-d object array), with the payload as one value."""
    return np.array({"fs": 30.0, "nframes": 100, "date_proc": payload}, dtype=object)


def stat_with(stat: np.ndarray, payload) -> np.ndarray:
    """stat.npy with the payload hidden deep in the last ROI's dict."""
    stat = stat.copy()
    stat[-1] = {**stat[-1], "med": [payload, 3]}
    return stat


@pytest.fixture(scope="module")
def source(small_data, tmp_path_factory):
    return simulated_files(small_data, tmp_path_factory)


@pytest.fixture()
def plane(source, tmp_path):
    """A copy of the simulated suite2p folder the test may plant files in: (suite2p folder, plane0)."""
    folder = shutil.copytree(source.suite2p, tmp_path / "rec" / "suite2p")
    return Path(folder), Path(folder) / "plane0"


def test_the_payloads_really_run_code_under_np_load(tmp_path):
    """Every gadget writes its marker under plain ``np.load(allow_pickle=True)``: the refusals matter."""
    for name, (make, _) in GADGETS.items():
        marker = tmp_path / f"marker-{name.replace(' ', '_')}"
        np.save(tmp_path / "ops.npy", ops_with(make(marker)), allow_pickle=True)
        np.load(tmp_path / "ops.npy", allow_pickle=True)
        for _ in range(250):  # Popen returns before its child has written
            if marker.exists():
                break
            time.sleep(0.02)
        assert marker.exists(), name


@pytest.mark.parametrize("target", ["ops.npy", "stat.npy"])
@pytest.mark.parametrize("gadget", list(GADGETS))
def test_crafted_pickle_is_refused_without_running(plane, tmp_path, target, gadget):
    folder, plane0 = plane
    make, refused = GADGETS[gadget]
    marker = tmp_path / "outside" / "marker"
    marker.parent.mkdir()
    payload = make(marker)
    if target == "ops.npy":
        np.save(plane0 / "ops.npy", ops_with(payload), allow_pickle=True)
    else:
        stat = np.load(plane0 / "stat.npy", allow_pickle=True)
        np.save(plane0 / "stat.npy", stat_with(stat, payload), allow_pickle=True)
    with untouched(folder, marker.parent), pytest.raises(DatasetError) as err:
        load_suite2p(folder)
    assert err.value.path == str(plane0 / target) and err.value.field == "<pickle>"
    assert f"calls {refused} (refused" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["ops.npy", "stat.npy"])
def test_a_bare_pickle_posing_as_npy_is_refused(plane, tmp_path, target):
    """np.load(allow_pickle=True) unpickles any non-.npy file; load_npy wants the .npy header."""
    folder, plane0 = plane
    marker = tmp_path / "marker"
    (plane0 / target).write_bytes(pickle.dumps(Call(os.system, f"touch {marker}")))
    with untouched(folder), pytest.raises(DatasetError, match=r"a \.npy file.*numpy cannot read") as err:
        load_suite2p(folder)
    assert err.value.path == str(plane0 / target) and not marker.exists()


def _npy_with_pickle(payload: bytes, shape: tuple) -> bytes:
    """A .npy file declaring an object array of ``shape`` whose data is ``payload``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


@pytest.mark.parametrize("content,pattern", [
    (lambda: _npy_with_pickle(b"\x80\x03cnumpy\nndarr", (1,)), "a broken pickle"),
    (lambda: _npy_with_pickle(pickle.dumps({"fs": 30.0}, protocol=3), (1,)), r"header's shape \(1,\).*a dict"),
    (lambda: np.lib.format.magic(3, 0) + b"\x00" * 20, "format version 3.0"),
], ids=["truncated-pickle", "not-an-array", "unknown-version"])
def test_malformed_pickled_npy_is_a_clear_error(tmp_path, content, pattern):
    path = tmp_path / "ops.npy"
    path.write_bytes(content())
    with untouched(tmp_path), pytest.raises(DatasetError, match=pattern) as err:
        load_npy(path, "<pickle>")
    assert err.value.path == str(path)


def objects(*values) -> np.ndarray:
    """A 1-d object array holding ``values`` as they are (np.array would broadcast nested arrays)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


SUITE2P_VALUES = {
    "stat-like dicts": objects(*[{"med": [3, 4], "ypix": np.arange(5, dtype=np.int32), "lam": np.ones(5, np.float32),
                                  "radius": np.float64(2.5), "npix": np.int64(5), "inmerge": np.bool_(False)}] * 3),
    "ops-like dict": np.array({"fs": 30.0, "date_proc": datetime.datetime(2024, 5, 1, 12, 30),
                               "timing": {"registration": 1.5}, "filelist": ["a.tif", "b.tif"],
                               "refImg": np.zeros((4, 4), np.int16), "yrange": [0, 512], "tau": 1.0,
                               "allow_overlap": False, "xoff": np.zeros(3, np.float32), "none": None}, dtype=object),
    "builtin values": objects({1, 2}, frozenset({3}), 1 + 2j, slice(1, 5), b"bytes", (1, "two"), range(3),
                              datetime.timedelta(seconds=3), datetime.date(2024, 1, 2)),
    "structured and fortran arrays": objects(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]),
                                             np.asfortranarray(np.ones((2, 3)))),
}


def _same(a, b) -> None:
    """Equality of nested suite2p values (arrays compared exactly, with their dtypes)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        if a.dtype == object:
            for x, y in zip(a.ravel().tolist(), b.ravel().tolist()):
                _same(x, y)
        else:
            np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("name", list(SUITE2P_VALUES))
@pytest.mark.parametrize("writer", ["np.save", "numpy 1 names", "protocol 2"])
def test_object_arrays_of_allowed_types_still_load(tmp_path, name, writer):
    values = SUITE2P_VALUES[name]
    path = tmp_path / "values.npy"
    if writer == "np.save":  # this numpy (2.x: protocol 4, numpy._core names)
        np.save(path, values, allow_pickle=True)
    elif writer == "numpy 1 names":  # numpy 1.17-1.26: protocol 3, whose text GLOBALs name numpy.core
        pickled = pickle.dumps(values, protocol=3).replace(b"numpy._core.", b"numpy.core.")
        assert b"numpy.core.multiarray\n_reconstruct" in pickled
        path.write_bytes(_npy_with_pickle(pickled, values.shape))
    else:  # numpy < 1.17 pickled with protocol 2: bytes via _codecs.encode
        pickled = pickle.dumps(values, protocol=2)
        assert b"_codecs\nencode" in pickled
        path.write_bytes(_npy_with_pickle(pickled, values.shape))
    with untouched(tmp_path):
        _same(values, load_npy(path))


def test_the_simulated_suite2p_folder_still_imports(source, small_data, tmp_path):
    with untouched(source.suite2p):
        recording = load_suite2p(source.suite2p)
    assert recording.fs == np.load(source.suite2p / "plane0" / "ops.npy", allow_pickle=True).item()["fs"]
    assert recording.n_neurons == small_data.n_neurons


def test_numeric_npy_through_load_npy_is_np_load(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "F.npy", values)
    loaded = load_npy(tmp_path / "F.npy")
    assert loaded.dtype == values.dtype
    np.testing.assert_array_equal(loaded, values)
