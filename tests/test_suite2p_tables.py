"""Stimulus tables and image stacks beside a suite2p folder: tiers assigned without a tier column, image
folders and ``.h5`` stacks, and a clear DatasetError for each malformed table.

The source is ``small_data`` written in suite2p's layout (``suite2p_files``, once per session, and
``suite2p_copy`` for a case that damages it: conftest.py).
"""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.importers.stimuli import assign_tiers, read_images, read_stimulus_table
from dina_core.importers.suite2p import import_suite2p
from dina_core.errors import DatasetError
from simulated_sessions import EVENTS


def _rewrite_table(path, drop=(), rename=None, edit=None):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    keep = [i for i, name in enumerate(header) if name not in drop]
    rows = [[r[i] for i in keep] for r in rows]
    rows[0] = [(rename or {}).get(name, name) for name in rows[0]]
    if edit:
        edit(rows)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_tiers_without_a_tier_column(small_data, suite2p_copy, tmp_path):
    folder, table, images = suite2p_copy
    _rewrite_table(table, drop=("tier",))
    data = read_dataset(import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images,
                                       config=EVENTS))
    # repeated images are exactly the simulator's test images
    np.testing.assert_array_equal(data.tiers == "test", small_data.tiers == "test")
    once = np.unique(data.image_index[data.tiers != "test"])
    validation = np.unique(data.image_index[data.tiers == "validation"])
    assert validation.size == round(0.1 * once.size)
    np.testing.assert_array_equal(assign_tiers(data.image_index), data.tiers)  # deterministic
    assert "shown more than once -> test" in data.attrs["preprocessing"]["tiers"]


def test_image_folders_and_h5_stacks(tmp_path):
    import skimage.io
    stack = np.random.default_rng(0).integers(0, 256, size=(3, 6, 8)).astype(np.uint8)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate(["img2.png", "img10.tif", "img1.png"]):
        skimage.io.imsave(folder / name, stack[i], check_contrast=False)
    images, ids = read_images(folder)
    np.testing.assert_array_equal(ids, ["img1", "img2", "img10"])  # natural order
    np.testing.assert_array_equal(images, stack[[2, 0, 1]].astype(np.float32))
    rgb = np.repeat(stack[0][..., None], 3, axis=-1)
    skimage.io.imsave(folder / "img3.png", rgb, check_contrast=False)
    np.testing.assert_allclose(read_images(folder)[0][2], stack[0], atol=1e-3)  # grey from RGB
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["images"] = stack
    images, ids = read_images(tmp_path / "s.h5")
    np.testing.assert_array_equal(images, stack)
    np.testing.assert_array_equal(ids, ["0", "1", "2"])
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["pictures"] = stack
    with pytest.raises(DatasetError, match=r"'images'.*pictures"):
        read_images(tmp_path / "bad.h5")
    np.save(tmp_path / "flat.npy", stack[0])
    with pytest.raises(DatasetError, match=r"\(n_images, H, W\).*shape \(6, 8\)"):
        read_images(tmp_path / "flat.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="image folder, .npy or .h5"):
        read_images(tmp_path / "notes.txt")


def _push_last_onset(rows):
    rows[-1][0] = str(10 ** 6)


def _bad_id(rows):
    rows[3][2] = "99999"


def _bad_onset(rows):
    rows[2][0] = "soon"


@pytest.mark.parametrize("kwargs,edit,pattern", [
    ({}, _push_last_onset, r"stimulus_table\.csv: field 'row 580'.*580 .*onset frame 1000000"),
    ({"image_column": "picture"}, None,
     r"field 'picture': expected the image id column 'picture', found no such column "
     r"\(columns: onset_frame, onset_time_s, image_id, tier\)"),
    ({}, _bad_id, r"field 'row 3 \(image_id\)'.*'99999'"),
    ({}, _bad_onset, r"field 'row 2 \(onset_frame\)': expected a number, found 'soon'"),
    ({"tier_column": "onset_time_s"}, None, r"row 1 \(onset_time_s\).*'train', 'validation' or 'test'"),
])
def test_malformed_stimulus_tables(suite2p_copy, tmp_path, kwargs, edit, pattern):
    folder, table, images = suite2p_copy
    if edit:
        _rewrite_table(table, edit=edit)
    with pytest.raises(DatasetError, match=pattern):
        import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images, **kwargs)


def test_table_without_onset_or_repeats(suite2p_copy, tmp_path):
    folder, table, images = suite2p_copy
    _rewrite_table(table, rename={"onset_frame": "when", "onset_time_s": "t"})
    with pytest.raises(DatasetError, match=r"the onset column, named one of onset_frame, .*columns when, t"):
        read_stimulus_table(table)
    with pytest.raises(DatasetError, match="no such file"):
        read_stimulus_table(tmp_path / "none.csv")

    def every_image_once(rows):
        del rows[491:]
        for i, row in enumerate(rows[1:]):
            row[2] = str(i)

    _rewrite_table(table, rename={"when": "onset_frame"}, drop=("tier",), edit=every_image_once)
    with pytest.raises(DatasetError, match="no tier column and every image shown once"):
        import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images)
