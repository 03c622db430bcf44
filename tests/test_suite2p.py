"""The suite2p importer on a simulated suite2p folder: recovery of the simulator's trials, planes and
cells, and a clear DatasetError for each malformed folder.

The source is ``small_data`` written in suite2p's layout (``suite2p_files``, once per session, and
``suite2p_copy`` for a case that damages it: conftest.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.importers.stimuli import read_stimulus_table
from dina_core.importers.suite2p import import_suite2p, load_suite2p
from dina_core.errors import DatasetError
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.dataset import trial_onsets
from simulated_sessions import EVENTS, column_corr, reliable_neurons


@pytest.fixture(scope="module")
def imported(suite2p_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "s2p.h5"
    return read_dataset(import_suite2p(suite2p_files.suite2p, out, stimuli=suite2p_files.stimulus_table,
                                       images=suite2p_files.images))


def test_import_recovers_the_simulated_trials(small_data, imported):
    assert imported.responses.shape == small_data.responses.shape  # non-cell ROIs dropped
    np.testing.assert_array_equal(imported.image_index, small_data.image_index)
    np.testing.assert_array_equal(imported.tiers, small_data.tiers)
    np.testing.assert_array_equal(imported.images, small_data.images)
    corr = column_corr(imported.responses, small_data.responses)
    reliable = reliable_neurons(small_data)
    assert reliable.sum() >= 10
    assert corr[reliable].min() >= 0.9
    assert np.median(corr) >= 0.8
    # ROI centres are the cortical positions, up to the field of view's origin
    offset = imported.neurons["positions_um"] - small_data.neurons["positions_um"][:, :2]
    assert np.abs(offset - np.median(offset, axis=0)).max() <= 1.0
    assert (imported.neurons["iscell_prob"] >= 0.5).all() and (imported.neurons["plane"] == 0).all()


def test_dataset_records_how_it_was_made(imported, suite2p_files):
    record = imported.attrs["preprocessing"]
    assert TraceConfig.from_dict(record["trace_config"]) == TraceConfig()
    assert record["recording"]["format"] == "suite2p"
    assert record["recording"]["rois_per_plane"] == [220] and record["recording"]["cells_per_plane"] == [200]
    assert record["response_window_frames"] == [3, 18] and record["prestim_window_frames"] == [-6, 0]
    assert any("neuropil correction F - 0.7" in step for step in record["steps"])
    assert record["tiers"].startswith("from the stimulus table")
    assert imported.attrs["response_unit"].startswith("dF/F")
    np.testing.assert_array_equal(imported.extra["stimulus_row"], np.arange(1, imported.n_trials + 1))
    np.testing.assert_allclose(imported.extra["onset_time_s"], imported.extra["onset_frame"] / 30.0)


def test_events_give_the_trial_responses_exactly(small_data, suite2p_files, tmp_path):
    data = read_dataset(import_suite2p(suite2p_files.suite2p, tmp_path / "e.h5", config=EVENTS,
                                       stimuli=suite2p_files.stimulus_table, images=suite2p_files.images))
    np.testing.assert_allclose(data.responses * 15, small_data.responses, rtol=1e-4, atol=1e-5)
    assert data.attrs["response_unit"].startswith("deconvolved events")


def test_planes_are_concatenated_in_order(small_data, suite2p_copy, tmp_path):
    folder, table, images = suite2p_copy
    plane0, plane1 = folder / "plane0", folder / "plane1"
    plane1.mkdir()
    iscell = np.load(plane0 / "iscell.npy")
    cut = 120
    for name in ("F.npy", "Fneu.npy", "spks.npy", "iscell.npy", "stat.npy"):
        values = np.load(plane0 / name, allow_pickle=name == "stat.npy")
        np.save(plane0 / name, values[:cut], allow_pickle=True)
        np.save(plane1 / name, values[cut:], allow_pickle=True)
    shutil.copy(plane0 / "ops.npy", plane1 / "ops.npy")
    data = read_dataset(import_suite2p(folder, tmp_path / "two.h5", stimuli=table, images=images,
                                       config=EVENTS))
    np.testing.assert_allclose(data.responses * 15, small_data.responses, rtol=1e-4, atol=1e-5)
    n0 = int((iscell[:cut, 1] >= 0.5).sum())
    np.testing.assert_array_equal(data.neurons["plane"], np.repeat([0, 1], [n0, 200 - n0]))
    assert data.attrs["preprocessing"]["recording"]["planes"] == 2
    np.save(plane1 / "F.npy", np.load(plane1 / "F.npy")[:, :-5])  # a plane with fewer frames
    with pytest.raises(DatasetError, match=r"plane1.*F\.npy.*frames like the first plane"):
        load_suite2p(folder)


def test_iscell_threshold_and_curated_labels(suite2p_files):
    assert load_suite2p(suite2p_files.suite2p, iscell_threshold=0.0).n_neurons == 220
    assert load_suite2p(suite2p_files.suite2p, iscell_threshold=None).n_neurons == 200
    assert load_suite2p(suite2p_files.suite2p / "plane0", um_per_pixel=2.0).n_neurons == 200
    with pytest.raises(DatasetError, match="probability >= 1.5"):
        load_suite2p(suite2p_files.suite2p, iscell_threshold=1.5)


def test_onset_times_give_the_same_trials_as_frames(suite2p_files):
    frames = read_stimulus_table(suite2p_files.stimulus_table)
    times = read_stimulus_table(suite2p_files.stimulus_table, onset_column="onset_time_s")
    assert times.onset_frames is None and frames.onset_times_s is None
    recording = load_suite2p(suite2p_files.suite2p)
    np.testing.assert_array_equal(trial_onsets(recording, times), frames.onset_frames)
    assert times.columns["onset"] == "onset_time_s (seconds)"


@pytest.mark.parametrize("damage,pattern", [
    (lambda p: (p / "F.npy").unlink(), r"plane0: field 'F\.npy': expected a suite2p output file, found nothing"),
    (lambda p: np.save(p / "Fneu.npy", np.load(p / "Fneu.npy")[:, :-3]),
     r"Fneu\.npy.*expected shape \(220, 26340\).*found shape \(220, 26337\)"),
    (lambda p: np.save(p / "spks.npy", np.load(p / "spks.npy")[:-1]), r"spks\.npy.*\(219, 26340\)"),
    (lambda p: np.save(p / "iscell.npy", np.load(p / "iscell.npy")[:-2]),
     r"iscell\.npy.*shape \(220, 2\).*found shape \(218, 2\)"),
    (lambda p: np.save(p / "stat.npy", np.load(p / "stat.npy", allow_pickle=True)[:5], allow_pickle=True),
     r"stat\.npy.*220 ROI dicts"),
    (lambda p: np.save(p / "ops.npy", np.array({"nframes": 3}, dtype=object), allow_pickle=True),
     r"ops\.npy\['fs'\].*positive frame rate.*None"),
    (lambda p: (p / "F.npy").write_bytes(b"not numpy"), r"F\.npy.*numpy cannot load"),
])
def test_malformed_suite2p_folders(suite2p_copy, tmp_path, damage, pattern):
    folder, table, images = suite2p_copy
    damage(folder / "plane0")
    with pytest.raises(DatasetError, match=pattern):
        import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        load_suite2p(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="plane folders"):
        load_suite2p(tmp_path / "empty")
