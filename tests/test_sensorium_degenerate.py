"""Degenerate Sensorium recordings: no neurons or identical images are refused, a single test image and a
neuron that never varies are imported but flagged (and evaluation refuses N = 1).

Each case copies one small folder in the exact Sensorium layout (dina_core/simulate/sensorium_folder.py)
and a good earlier import of it (``sensorium_pristine``, ``sensorium_case`` in conftest.py), damages the copy,
imports over the earlier output and checks with :func:`hostile.untouched` that nothing in the test's folder
(nor the pristine source) changed.
"""

from __future__ import annotations

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.errors import DinaError, DinaWarning
from dina_core.evaluate.tasks import TierTask
from dina_core.importers.sensorium import import_sensorium
from hostile import untouched
from hostile_sensorium import edit, refused


def test_zero_neurons_are_refused(sensorium_case):
    src, out = sensorium_case
    for path in (src / "data" / "responses").iterdir():
        np.save(path, np.zeros(0))
    refused(src, out, "data/responses/", "at least one neuron", "(0,)")


def test_all_identical_images_are_refused(sensorium_case):
    src, out = sensorium_case
    first = np.load(src / "data" / "images" / "0.npy")
    for path in (src / "data" / "images").iterdir():
        np.save(path, first)
    refused(src, out, "/stimuli/images", "identical images", "chance")


def test_one_test_image_is_flagged_and_evaluation_refuses_it(sensorium_case, tmp_path):
    src, out = sensorium_case
    tiers = np.load(src / "meta" / "trials" / "tiers.npy")
    ids = np.load(src / "meta" / "trials" / "frame_image_id.npy")
    test_ids = np.unique(ids[tiers == "test"])
    keep_one = np.where((tiers == "test") & (ids != test_ids[0]), "final_test", tiers)
    np.save(src / "meta" / "trials" / "tiers.npy", keep_one.astype("<U10"))
    with untouched(src.parent), pytest.warns(DinaWarning, match="only 1 image"):
        import_sensorium(src, out)  # handled: written (it is a valid file), and flagged
    data = read_dataset(out)
    test = data.tiers == "test"
    assert np.unique(data.image_index[test]).size == 1
    with pytest.raises(DinaError, match="N >= 2"):
        TierTask.from_arrays(data.responses[test], data.images, data.image_index[test])


def test_a_neuron_that_never_varies_is_flagged(sensorium_case):
    src, out = sensorium_case
    for path in (src / "data" / "responses").iterdir():
        edit(src, f"data/responses/{path.name}", lambda a: np.where(np.arange(a.size) == 6, 0.25, a))
    with pytest.warns(DinaWarning, match=r"give the same response on every trial \(neurons .*6"):
        import_sensorium(src, out)
    assert (read_dataset(out).responses[:, 6] == 0.25).all()  # handled: kept, flagged
