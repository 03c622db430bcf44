"""Hostile DINA files and neuron subsets: huge declared arrays, FIFOs, folders, empty files, repeated neuron ids.

Both readers (``read_dataset``, ``validate_dataset``) refuse each bad file with a DatasetError naming the
file and field (a huge one before allocating it) and change nothing (:func:`hostile.untouched`); a
neuron subset that repeats a neuron is refused. The files start from a good import of a tiny simulated
recording (``tiny_sources`` in conftest.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from dina_core.data.format import write_dataset
from dina_core.data.io import read_dataset, validate_dataset
from dina_core.data.preprocess import fit_normalizers
from dina_core.errors import DatasetError, DinaError
from hostile import no_hang, untouched


def test_dina_file_with_huge_declared_responses_is_refused_before_allocation(tiny_sources, tmp_path):
    files, good, data = tiny_sources
    path = tmp_path / "huge.h5"
    shutil.copy2(good / "s2p.h5", path)
    with h5py.File(path, "r+") as f:
        n_trials = f["/trials/responses"].shape[0]
        del f["/trials/responses"]
        f.create_dataset("/trials/responses", shape=(n_trials, 10 ** 12), dtype="f4", chunks=(1, 4096),
                         maxshape=(None, None))
        del f["/neurons"]
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), pytest.raises(DatasetError, match="fit in memory") as info:
            reader(path)
        assert info.value.field == "/trials/responses" and f"{n_trials:,} x 1,000,000,000,000 float32" in str(info.value)


@pytest.mark.parametrize("kind", ["fifo", "folder", "empty"])
def test_dina_file_that_is_a_fifo_folder_or_empty_is_refused(tmp_path, kind):
    path = tmp_path / "data.h5"
    {"fifo": os.mkfifo, "folder": os.mkdir, "empty": lambda p: Path(p).write_bytes(b"")}[kind](path)
    found = {"fifo": "named pipe", "folder": "a folder", "empty": "HDF5 cannot open"}[kind]
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), no_hang(), pytest.raises(DatasetError, match=found) as info:
            reader(path)
        assert info.value.path == str(path)


def test_dina_file_with_repeated_neuron_ids_is_refused(tiny_sources, tmp_path):
    path = tmp_path / "dup.h5"
    data = read_dataset(tiny_sources[1] / "s2p.h5")
    data.neurons["ids"] = np.zeros(data.n_neurons, np.int64)
    write_dataset(path, data)  # the raw writer (no checks): what a careless script could produce
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), pytest.raises(DatasetError, match="one distinct id per neuron"):
            reader(path)


def test_neuron_subset_that_repeats_one_neuron_is_refused(tiny_sources):
    data = read_dataset(tiny_sources[1] / "s2p.h5")
    with pytest.raises(DinaError, match="distinct neurons.*neuron 3 5 times"):
        fit_normalizers(data, np.array([3, 3, 3, 3, 3, 1]))
    with pytest.raises(DinaError, match=r"indices in \[0, "):
        fit_normalizers(data, np.array([0, data.n_neurons]))
