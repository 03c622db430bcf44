"""The app's Sensorium import (dina_app/sources.py) with hostile sources: a failed re-import never hands
back the earlier file, an output of another request or an invalid one is not reused, and two sources that
share a folder name get distinct outputs. The source is a copy of ``sensorium_pristine`` (conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.errors import DatasetError, DinaWarning
from dina_core.simulate.sensorium_folder import NAME
from hostile import untouched
from hostile_sensorium import edit


def _app_import(src, root):
    from dina_app import sources
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        return sources.import_sensorium_source(src, root)


def test_app_failed_reimport_never_hands_back_the_earlier_file(sensorium_pristine, tmp_path):
    root = tmp_path / "data"
    src = shutil.copytree(sensorium_pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    assert _app_import(src, root) == out  # the same import: reused
    edit(src, "data/responses/3.npy", lambda a: a * np.nan)  # the source changes: a fresh import, which fails
    later = out.stat().st_mtime + 10  # newer than the output even on file systems with coarse times
    os.utime(src / "data" / "responses" / "3.npy", (later, later))
    with untouched(root / "imported"), pytest.raises(DatasetError, match="data/responses/3.npy"):
        _app_import(src, root)


def test_app_output_of_another_request_is_not_reused(sensorium_pristine, tmp_path):
    import h5py

    root = tmp_path / "data"
    src = shutil.copytree(sensorium_pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    with h5py.File(out, "r+") as f:  # an output recording another request (made with other options)
        request = json.loads(f.attrs["import_request"])
        f.attrs["import_request"] = json.dumps({**request, "options": {"final_test": "test"}})
    assert _app_import(src, root) == out
    assert read_dataset(out).attrs["import_request"]["options"] == {"final_test": "drop"}  # imported afresh


def test_app_invalid_earlier_output_is_not_reused(sensorium_pristine, tmp_path):
    import h5py

    root = tmp_path / "data"
    src = shutil.copytree(sensorium_pristine[0], root / "mouse" / NAME)
    out = _app_import(src, root)
    with h5py.File(out, "r+") as f:  # an invalid file of the same request (e.g. written by an older DINA)
        f["/trials/responses"][0, 0] = np.nan
    assert _app_import(src, root) == out
    assert np.isfinite(read_dataset(out).responses).all()


def test_app_two_sources_with_one_folder_name_get_distinct_outputs(sensorium_pristine, tmp_path):
    root = tmp_path / "data"
    first = shutil.copytree(sensorium_pristine[0], root / "a" / NAME)
    second = shutil.copytree(sensorium_pristine[0], root / "b" / NAME)
    edit(second, "data/responses/0.npy", lambda a: a + 1.0)
    out_a = _app_import(first, root)
    with untouched(out_a):
        out_b = _app_import(second, root)
    assert out_a != out_b and out_a.name == f"{NAME}.h5" and out_b.name.startswith(f"{NAME}-")
    assert _app_import(first, root) == out_a and _app_import(second, root) == out_b  # stable
    assert read_dataset(out_a).attrs["import_request"]["source"] == str(first.resolve())
    assert read_dataset(out_b).attrs["import_request"]["source"] == str(second.resolve())
