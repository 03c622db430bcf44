"""Round trips through write_dataset/read_dataset, the summary, and atomic writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dina_core.data.format import DinaData, write_dataset
from dina_core.data.io import dataset_summary, read_dataset, validate_dataset


def make_tiny_data(seed: int = 0) -> DinaData:
    """A valid, fully featured recording: 10 images of 6x5, 40 trials, 7 neurons.

    Images 0-5 are train, 6 validation, 7-9 test; test images repeat 4 times.
    """
    rng = np.random.default_rng(seed)
    image_index = np.concatenate([np.repeat(np.arange(6), 3), [6, 6],
                                  np.repeat(np.arange(7, 10), 4), [0, 1, 2, 3, 4, 5, 6, 6]])
    tiers = np.array(["train"] * 18 + ["validation"] * 2 + ["test"] * 12
                     + ["train"] * 6 + ["validation"] * 2)
    n_trials, n_neurons = image_index.size, 7
    return DinaData(
        images=rng.uniform(0, 255, (10, 6, 5)).astype(np.float32),
        responses=rng.gamma(1.0, 1.0, (n_trials, n_neurons)).astype(np.float32),
        image_index=image_index.astype(np.int64),
        tiers=tiers,
        attrs={"name": "tiny", "source": "unit test", "citation": "none", "license": "CC0",
               "response_unit": "a.u.", "n_repeats": 4, "frame_rate_hz": 7.5,
               "preprocessing": {"z": [1, 2], "note": "café"}},
        image_source=np.array([f"img{i}" for i in range(10)]),
        neurons={"ids": np.arange(100, 100 + n_neurons, dtype=np.uint16),
                 "positions_um": rng.normal(0, 100, (n_neurons, 3)),
                 "area": np.array(["V1"] * 5 + ["LM"] * 2)},
        behavior=rng.normal(size=(n_trials, 3)).astype(np.float32),
        behavior_columns=["pupil", "dpupil", "running"],
        extra={"trial_idx": np.arange(n_trials) * 2, "condition": np.array(
            [f"c{i % 4}" for i in range(n_trials)]), "xy": rng.normal(size=(n_trials, 2))},
        ground_truth={"rf_masks": rng.random((n_neurons, 6, 5)).astype(np.float32),
                      "gain": rng.random(n_neurons)},
    )


def assert_same_data(a: DinaData, b: DinaData) -> None:
    """Exact equality of every field, value and dtype (text compared as text)."""
    for name in ("images", "responses", "image_index", "tiers", "image_source", "behavior"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert x.dtype.kind == y.dtype.kind, name
    assert a.attrs == b.attrs
    assert a.behavior_columns == b.behavior_columns
    for name in ("neurons", "extra", "ground_truth"):
        x, y = getattr(a, name) or {}, getattr(b, name) or {}
        assert sorted(x) == sorted(y), name
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}/{key}")
            assert x[key].dtype.kind == y[key].dtype.kind, f"{name}/{key}"
            if x[key].dtype.kind not in "U":
                assert x[key].dtype == y[key].dtype, f"{name}/{key}"


def test_round_trip_is_exact(tmp_path):
    data = make_tiny_data()
    path = write_dataset(tmp_path / "d.h5", data)
    back = read_dataset(path)
    assert_same_data(data, back)
    assert back.images.dtype == np.float32 and back.responses.dtype == np.float32
    assert back.image_index.dtype == np.int64
    assert back.attrs["preprocessing"] == {"z": [1, 2], "note": "café"}


def test_round_trip_minimal_and_without_ground_truth(tmp_path):
    full = make_tiny_data()
    minimal = DinaData(images=full.images, responses=full.responses,
                       image_index=full.image_index, tiers=full.tiers)
    assert_same_data(minimal, read_dataset(write_dataset(tmp_path / "m.h5", minimal)))
    back = read_dataset(write_dataset(tmp_path / "f.h5", full), load_ground_truth=False)
    assert back.ground_truth is None


def test_uint8_images_read_as_float32(tmp_path):
    data = make_tiny_data()
    data.images = data.images.astype(np.uint8)
    back = read_dataset(write_dataset(tmp_path / "u.h5", data))
    assert back.images.dtype == np.float32
    np.testing.assert_array_equal(back.images, data.images)


def test_no_handle_outlives_read(tmp_path):
    path = write_dataset(tmp_path / "d.h5", make_tiny_data())
    read_dataset(path)
    dataset_summary(path)
    validate_dataset(path)
    with h5py.File(path, "a") as f:  # would fail if a read handle were still open
        f.attrs["touched"] = 1


def test_summary(tmp_path):
    path = write_dataset(tmp_path / "d.h5", make_tiny_data())
    s = dataset_summary(path)
    assert s["name"] == "tiny" and s["response_unit"] == "a.u."
    assert (s["n_images"], s["image_shape"], s["n_neurons"], s["n_trials"]) == (10, (6, 5), 7, 40)
    assert s["trials_per_tier"] == {"train": 24, "validation": 4, "test": 12}
    assert s["images_per_tier"] == {"train": 6, "validation": 1, "test": 3}
    assert s["test_repeats"] == {"min": 4, "median": 4.0, "max": 4}
    assert s["has_ground_truth"] and s["has_behavior"]
    assert s["behavior_columns"] == ["pupil", "dpupil", "running"]
    assert s["file_size_bytes"] == path.stat().st_size


def test_write_is_atomic(tmp_path, monkeypatch):
    path = write_dataset(tmp_path / "d.h5", make_tiny_data(seed=1))
    before = path.read_bytes()
    real = h5py.Group.create_dataset
    calls = []

    def failing(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 4:  # fail mid-write, after images and responses were written
            raise RuntimeError("disk full")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_dataset(path, make_tiny_data(seed=2))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]  # no temporary left
    assert path.read_bytes() == before
    assert_same_data(make_tiny_data(seed=1), read_dataset(path))
