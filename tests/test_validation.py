"""Each way a dataset file can be broken gives a DatasetError naming the file and field."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from test_dataset_io import make_tiny_data

from dina_core.data.format import write_dataset
from dina_core.data.io import dataset_summary, read_dataset, validate_dataset
from dina_core.errors import DatasetError

READERS = [read_dataset, validate_dataset, dataset_summary]


def corrupt(tmp_path, edit, data=None):
    """Write a valid tiny dataset, apply ``edit(f)`` with h5py, return the path."""
    path = write_dataset(tmp_path / "data.h5", data or make_tiny_data())
    with h5py.File(path, "a") as f:
        edit(f)
    return path


def replace(name, values):
    def edit(f):
        del f[name]
        f.create_dataset(name, data=values)
    return edit


def expect(path, field, *words, readers=(read_dataset, validate_dataset)):
    """Every reader raises a DatasetError for ``field`` whose message names file and field."""
    for reader in readers:
        with pytest.raises(DatasetError) as info:
            reader(path)
        err = info.value
        assert err.field == field, (reader.__name__, str(err))
        assert str(path) in str(err) and f"'{field}'" in str(err)
        for word in words:
            assert word in str(err), (word, str(err))
    return err


def test_valid_file_passes_and_empty_validation_is_allowed(tmp_path):
    data = make_tiny_data()
    validate_dataset(write_dataset(tmp_path / "ok.h5", data))
    data.tiers = np.where(data.tiers == "validation", "train", data.tiers)
    validate_dataset(write_dataset(tmp_path / "noval.h5", data))


@pytest.mark.parametrize("reader", READERS)
def test_missing_file(tmp_path, reader):
    expect(tmp_path / "nope.h5", "<file>", "no such file", readers=[reader])


def test_not_hdf5_and_folder(tmp_path):
    (tmp_path / "notes.h5").write_text("not an HDF5 file")
    expect(tmp_path / "notes.h5", "<file>", "an HDF5 file", readers=READERS)
    expect(tmp_path, "<file>", "a folder")


def test_format_attribute(tmp_path):
    expect(corrupt(tmp_path, lambda f: f.attrs.__delitem__("format")), "/@format",
           "no 'format' attribute", readers=READERS)
    expect(corrupt(tmp_path, lambda f: f.attrs.__setitem__("format", "nwb")), "/@format", "'nwb'")


def test_format_version(tmp_path):
    expect(corrupt(tmp_path, lambda f: f.attrs.__setitem__("format_version", "2.0")),
           "/@format_version", "'2.0'", readers=READERS)
    validate_dataset(corrupt(tmp_path, lambda f: f.attrs.__setitem__("format_version", "1.7")))


def test_missing_group_and_dataset(tmp_path):
    expect(corrupt(tmp_path, lambda f: f.__delitem__("stimuli")), "/stimuli", "missing",
           readers=READERS)
    expect(corrupt(tmp_path, lambda f: f.__delitem__("trials/image_index")),
           "/trials/image_index", "missing")


def test_group_instead_of_dataset(tmp_path):
    def edit(f):
        del f["trials/tier"]
        f.create_group("trials/tier")
    expect(corrupt(tmp_path, edit), "/trials/tier", "a group")


def test_wrong_rank(tmp_path):
    expect(corrupt(tmp_path, replace("stimuli/images", np.zeros((10, 30), np.float32))),
           "/stimuli/images", "3-D", "(10, 30)")
    expect(corrupt(tmp_path, replace("trials/responses", np.zeros(40, np.float32))),
           "/trials/responses", "2-D")


def test_trial_length_mismatches(tmp_path):
    expect(corrupt(tmp_path, replace("trials/image_index", np.zeros(39, np.int64))),
           "/trials/image_index", "40 rows", "39 rows")
    expect(corrupt(tmp_path, replace("trials/tier", np.array(["train"] * 41, dtype="S"))),
           "/trials/tier", "40 rows")
    expect(corrupt(tmp_path, replace("trials/extra/trial_idx", np.arange(12))),
           "/trials/extra/trial_idx", "40 rows")

    def short_behavior(f):
        replace("trials/behavior", np.zeros((30, 3)))(f)
        f["trials/behavior"].attrs["columns"] = '["a", "b", "c"]'
    expect(corrupt(tmp_path, short_behavior), "/trials/behavior", "40 rows")


def test_behavior_columns_mismatch(tmp_path):
    edit = lambda f: f["trials/behavior"].attrs.__setitem__("columns", '["pupil"]')  # noqa: E731
    expect(corrupt(tmp_path, edit), "/trials/behavior@columns", "3 column names")


def test_neuron_arrays(tmp_path):
    expect(corrupt(tmp_path, replace("neurons/area", np.array(["V1"] * 6, dtype="S"))),
           "/neurons/area", "7 rows")
    expect(corrupt(tmp_path, replace("neurons/positions_um", np.zeros((7, 4)))),
           "/neurons/positions_um", "(n_neurons, 2 or 3)")


def test_ground_truth_rf_masks_shape(tmp_path):
    expect(corrupt(tmp_path, replace("ground_truth/rf_masks", np.zeros((7, 5, 6)))),
           "/ground_truth/rf_masks", "(7, 6, 5)", "(7, 5, 6)")


def test_nan_and_inf(tmp_path):
    def nan(f):
        f["trials/responses"][3, 2] = np.nan
    expect(corrupt(tmp_path, nan), "/trials/responses", "1 NaN/Inf", "trial 3, neuron 2")

    def inf(f):
        f["stimuli/images"][9, 1, 4] = np.inf
    expect(corrupt(tmp_path, inf), "/stimuli/images", "NaN/Inf", "image 9, row 1, column 4")


def test_image_index_out_of_range(tmp_path):
    index = make_tiny_data().image_index.copy()
    index[[0, 1, 2]] = 130
    err = expect(corrupt(tmp_path, replace("trials/image_index", index)), "/trials/image_index",
                 "[0, 10)", "max 130", "3 trials", readers=READERS)
    assert str(err).startswith(f"{tmp_path / 'data.h5'}: field '/trials/image_index'")
    index[0] = -1
    expect(corrupt(tmp_path, replace("trials/image_index", index)), "/trials/image_index",
           "min -1")


def test_image_index_not_integer(tmp_path):
    index = make_tiny_data().image_index.astype(np.float64)
    expect(corrupt(tmp_path, replace("trials/image_index", index)), "/trials/image_index",
           "integer indices", "float64")


def test_unknown_tier(tmp_path):
    data = make_tiny_data()
    data.tiers[-3:] = "final_test"
    expect(corrupt(tmp_path, lambda f: None, data), "/trials/tier", "'final_test' (3 trials)",
           readers=READERS)


@pytest.mark.parametrize("tier", ["train", "test"])
def test_empty_required_tier(tmp_path, tier):
    data = make_tiny_data()
    data.tiers = np.where(data.tiers == tier, "validation", data.tiers)
    expect(corrupt(tmp_path, lambda f: None, data), "/trials/tier", f"at least one '{tier}'")


def test_test_images_leak_into_train(tmp_path):
    data = make_tiny_data()
    data.image_index[0] = 8  # a test image shown on a train trial
    data.image_index[18] = 9  # and one on a validation trial
    expect(corrupt(tmp_path, lambda f: None, data), "/trials/image_index",
           "2 test images", "image indices 8, 9", readers=READERS)


def test_text_where_numbers_expected(tmp_path):
    text = np.array([["1.0"] * 7] * 40, dtype="S")
    expect(corrupt(tmp_path, replace("trials/responses", text)), "/trials/responses",
           "real numbers", "text", readers=READERS)
    expect(corrupt(tmp_path, replace("trials/tier", np.zeros(40))), "/trials/tier",
           "text labels")
    expect(corrupt(tmp_path, replace("stimuli/images", np.ones((10, 6, 5), dtype=bool))),
           "/stimuli/images", "real numbers", "bool")
