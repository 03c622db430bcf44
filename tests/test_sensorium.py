"""The Sensorium static importer: exact content, tier mapping, zips, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_dataset_io import assert_same_data

from dina_core.data.io import read_dataset
from dina_core.importers.sensorium import BEHAVIOR_COLUMNS, import_sensorium
from dina_core.errors import DatasetError
from dina_core.simulate.sensorium_folder import NAME, write_sensorium_folder, zip_folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A source folder shared by the tests that only read it."""
    return write_sensorium_folder(tmp_path_factory.mktemp("src"), rng=np.random.default_rng(1))


@pytest.fixture()
def folder(tmp_path):
    """A fresh source folder that a test may damage."""
    return write_sensorium_folder(tmp_path / "src", rng=np.random.default_rng(1))


def source_arrays(folder, field, trials):
    return np.stack([np.load(folder / "data" / field / f"{i}.npy") for i in trials])


def kept_trials(folder, final_test="drop"):
    tiers = np.load(folder / "meta/trials/tiers.npy")
    return np.flatnonzero(tiers != "final_test") if final_test == "drop" else np.arange(tiers.size)


def test_content_is_exact(pristine, tmp_path):
    data = read_dataset(import_sensorium(pristine, tmp_path / "out.h5"))
    kept = kept_trials(pristine)
    frame_ids = np.load(pristine / "meta/trials/frame_image_id.npy")[kept]
    assert data.n_trials == kept.size and data.n_images == np.unique(frame_ids).size
    # one image per id, and every trial points at a pixel-exact copy of its own image
    np.testing.assert_array_equal(data.images[data.image_index],
                                  source_arrays(pristine, "images", kept)[:, 0])
    assert np.array_equal(np.unique(frame_ids[np.unique(data.image_index, return_index=True)[1]]),
                          np.unique(frame_ids))
    np.testing.assert_array_equal(data.responses,
                                  source_arrays(pristine, "responses", kept).astype(np.float32))
    assert data.responses.dtype == np.float32 and data.image_shape == (9, 16)
    behavior = np.hstack([source_arrays(pristine, "behavior", kept),
                          source_arrays(pristine, "pupil_center", kept)]).astype(np.float32)
    np.testing.assert_array_equal(data.behavior, behavior)
    assert data.behavior_columns == BEHAVIOR_COLUMNS


def test_metadata_carried(pristine, tmp_path):
    data = read_dataset(import_sensorium(pristine, tmp_path / "out.h5"))
    kept = kept_trials(pristine)
    meta = pristine / "meta"
    for name in ("trial_idx", "frame_image_id", "condition_hash", "frame_image_class",
                 "animal_id", "frame_last_flip", "tiers"):
        np.testing.assert_array_equal(data.extra[name], np.load(meta / f"trials/{name}.npy")[kept])
    assert "frame_pre_blank_period" not in data.extra and "frame_info" not in data.extra
    np.testing.assert_array_equal(data.neurons["ids"], np.load(meta / "neurons/unit_ids.npy"))
    assert data.neurons["ids"].dtype == np.int64
    np.testing.assert_array_equal(data.neurons["positions_um"],
                                  np.load(meta / "neurons/cell_motor_coordinates.npy"))
    np.testing.assert_array_equal(data.neurons["area"], np.load(meta / "neurons/area.npy"))
    np.testing.assert_array_equal(data.neurons["layer"], np.load(meta / "neurons/layer.npy"))
    assert data.attrs["name"] == NAME and NAME in data.attrs["source"]
    assert "2206.08666" in data.attrs["citation"] and "CC BY-NC" in data.attrs["license"]
    assert data.attrs["sensorium_config"] == json.loads((pristine / "config.json").read_text())
    assert data.attrs["response_unit"] == "deconvolved calcium activity (a.u.)"


def test_final_test_both_ways(pristine, tmp_path):
    original = np.load(pristine / "meta/trials/tiers.npy")
    dropped = read_dataset(import_sensorium(pristine, tmp_path / "a.h5"))
    assert "final_test" not in set(dropped.tiers)
    assert (dropped.tiers == "test").sum() == (original == "test").sum()
    as_test = read_dataset(import_sensorium(pristine, tmp_path / "b.h5", final_test="test"))
    assert as_test.n_trials == original.size
    assert (as_test.tiers == "test").sum() == np.isin(original, ["test", "final_test"]).sum()
    np.testing.assert_array_equal(as_test.extra["tiers"], original)  # original labels kept
    with pytest.raises(ValueError, match="final_test"):
        import_sensorium(pristine, tmp_path / "c.h5", final_test="keep")


@pytest.mark.parametrize("prefix", [None, "", f"outer/{NAME}"])
def test_zip_equals_folder(pristine, tmp_path, prefix):
    from_folder = read_dataset(import_sensorium(pristine.parent, tmp_path / "f.h5"))
    archive = zip_folder(pristine, tmp_path / f"{NAME}.zip", prefix=prefix)
    from_zip = read_dataset(import_sensorium(archive, tmp_path / "z.h5"))
    assert from_zip.attrs.pop("import_request")["source"] == str(archive.resolve())  # the one difference
    assert from_folder.attrs.pop("import_request")["source"] == str(pristine.parent.resolve())
    assert_same_data(from_folder, from_zip)


def test_progress_reports_each_stage(pristine, tmp_path):
    calls = []
    import_sensorium(pristine, tmp_path / "out.h5", progress=lambda *a: calls.append(a))
    finals = {stage: (done, total) for done, total, stage in calls}
    n = kept_trials(pristine).size
    assert finals["responses"] == (n, n) and finals["behavior"] == (n, n)
    assert set(finals) == {"images", "responses", "behavior", "pupil_center"}


def expect(src, out, field, *words):
    with pytest.raises(DatasetError) as info:
        import_sensorium(src, out)
    assert info.value.field == field, str(info.value)
    for word in (str(src), *words):
        assert word in str(info.value), (word, str(info.value))
    assert not out.exists()


def test_missing_source_folder_and_members(folder, tmp_path):
    out = tmp_path / "out.h5"
    expect(tmp_path / "nothing", out, "<source>", "no such file")
    (tmp_path / "notes.txt").write_text("hello")
    expect(tmp_path / "notes.txt", out, "<source>", ".zip")
    (folder / "meta/trials/frame_image_id.npy").unlink()
    expect(folder, out, "meta/trials/frame_image_id.npy", "missing")


def test_missing_member_in_zip(folder, tmp_path):
    (folder / "data/responses/5.npy").rename(folder / "data/responses/999.npy")
    archive = zip_folder(folder, tmp_path / "d.zip")
    expect(archive, tmp_path / "out.h5", "data/responses/5.npy", "missing")


def test_zip_without_static_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x/readme.txt").write_text("nothing here")
    expect(zip_folder(tmp_path / "x", tmp_path / "x.zip"), tmp_path / "o.h5",
           "meta/trials/tiers.npy", "no such folder")


def test_file_count_mismatch(folder, tmp_path):
    (folder / "data/behavior/0.npy").unlink()
    expect(folder, tmp_path / "out.h5", "data/behavior", "60 .npy files", "59 files")


def test_response_with_wrong_shape(folder, tmp_path):
    trial = int(kept_trials(folder)[7])
    np.save(folder / f"data/responses/{trial}.npy", np.zeros(11))
    expect(folder, tmp_path / "out.h5", f"data/responses/{trial}.npy", "(12,)", "(11,)")


def test_unreadable_npy(folder, tmp_path):
    tiers = np.load(folder / "meta/trials/tiers.npy")
    trial = int(np.flatnonzero(tiers == "train")[3])  # train images are shown once: loaded
    (folder / f"data/images/{trial}.npy").write_bytes(b"\x93NUMPY garbage")
    expect(folder, tmp_path / "out.h5", f"data/images/{trial}.npy", "cannot load")


def test_unknown_tier(folder, tmp_path):
    tiers = np.load(folder / "meta/trials/tiers.npy")
    tiers[:2] = "holdout"
    np.save(folder / "meta/trials/tiers.npy", tiers)
    expect(folder, tmp_path / "out.h5", "meta/trials/tiers.npy", "holdout")


def test_test_image_also_in_train(folder, tmp_path):
    path = folder / "meta/trials/frame_image_id.npy"
    tiers, ids = np.load(folder / "meta/trials/tiers.npy"), np.load(path)
    ids[np.flatnonzero(tiers == "train")[:2]] = ids[np.flatnonzero(tiers == "test")[0]]
    np.save(path, ids)
    expect(folder, tmp_path / "out.h5", "/trials/image_index", "1 test images",
           "never shown on train or validation")
