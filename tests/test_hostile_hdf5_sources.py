"""Hostile NWB files and image stacks: what an importer reads never reaches outside the file.

The HDF5 files an importer opens besides DINA's own (an NWB recording, an ``.h5`` image stack)
get the same hostile kinds as DINA files (``hostile.plant``: an external link, external storage,
a virtual dataset, a plugin filter) and the same breakage (truncated, retyped). Every case
asserts a DatasetError naming the file and the object, and that nothing outside the test's
files changed; the unmodified NWB copy still loads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from dina_core.errors import DatasetError
from dina_core.importers.stimuli import read_images
from hostile import KINDS, REFUSAL, plant, retype, truncate, untouched


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


def testtruncated_nwb_file_is_a_clear_error(nwb_file, folders):
    from dina_core.importers.nwb import load_nwb

    copy = Path(shutil.copy(nwb_file, folders[0] / "session.nwb"))
    truncate(copy)
    with untouched(*folders), pytest.raises(DatasetError, match="a file HDF5 cannot open") as err:
        load_nwb(copy)
    assert err.value.path == str(copy)


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


@pytest.mark.parametrize("damage,field,pattern", [
    (truncate, "<file>", "a file HDF5 cannot open"),
    (retype("/images", np.array([b"a", b"b"])), "/images", "numeric stack"),
], ids=["truncated", "text-images"])
def test_broken_image_stack_is_a_clear_error(stack, folders, damage, field, pattern):
    damage(stack)
    with untouched(*folders), pytest.raises(DatasetError, match=pattern) as err:
        read_images(stack)
    assert err.value.path == str(stack) and err.value.field == field
