"""The suite2p importer on a simulated suite2p folder: recovery of the simulator's trials,
stimulus tables and image stacks, and a clear DatasetError for each malformed input."""

from __future__ import annotations

import csv
import importlib.util
import shutil

import h5py
import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.data.reliability import oracle_correlation
from dina_core.importers.stimuli import assign_tiers, read_images, read_stimulus_table
from dina_core.importers.suite2p import import_suite2p, load_suite2p
from dina_core.errors import DatasetError
from dina_core.simulate.trace_writers import write_trace_recording
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.dataset import trial_onsets


def column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def reliable_neurons(data) -> np.ndarray:
    """Strong responders whose simulated responses repeat well (oracle >= 0.5 on test)."""
    oracle = oracle_correlation(data.responses, data.image_index, data.tiers == "test")
    return data.ground_truth["strong_responder"] & (np.nan_to_num(oracle) >= 0.5)


_WRITTEN: dict = {}


def simulated_files(data, tmp_path_factory):
    """The suite2p folder, table, images and NWB file of ``data``, written once per session
    (test_nwb reuses them: writing the NWB file is the slow part)."""
    if id(data) not in _WRITTEN:
        _WRITTEN[id(data)] = write_trace_recording(data, tmp_path_factory.mktemp("rec"),
                                                   nwb=importlib.util.find_spec("pynwb") is not None)
    return _WRITTEN[id(data)]


@pytest.fixture(scope="module")
def source(small_data, tmp_path_factory):
    """A simulated suite2p folder, stimulus table and images (shared, never modified)."""
    return simulated_files(small_data, tmp_path_factory)


@pytest.fixture(scope="module")
def imported(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "s2p.h5"
    return read_dataset(import_suite2p(source.suite2p, out, stimuli=source.stimulus_table,
                                       images=source.images))


@pytest.fixture()
def copy(source, tmp_path):
    """A fresh copy of the source that a test may damage."""
    shutil.copytree(source.suite2p.parent, tmp_path / "rec", ignore=shutil.ignore_patterns("*.nwb"))
    root = tmp_path / "rec"
    return root / "suite2p", root / "stimulus_table.csv", root / "images.npy"


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


def test_dataset_records_how_it_was_made(imported, source):
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


# events summed over the 0.5 s stimulus are the simulated responses: a cheap exact check
EVENTS = TraceConfig(signal="events", response_window_s=(0.0, 0.5), prestim_window_s=None)


def test_events_give_the_trial_responses_exactly(small_data, source, tmp_path):
    data = read_dataset(import_suite2p(source.suite2p, tmp_path / "e.h5", config=EVENTS,
                                       stimuli=source.stimulus_table, images=source.images))
    np.testing.assert_allclose(data.responses * 15, small_data.responses, rtol=1e-4, atol=1e-5)
    assert data.attrs["response_unit"].startswith("deconvolved events")


def test_planes_are_concatenated_in_order(small_data, copy, tmp_path):
    folder, table, images = copy
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


def test_iscell_threshold_and_curated_labels(source):
    assert load_suite2p(source.suite2p, iscell_threshold=0.0).n_neurons == 220
    assert load_suite2p(source.suite2p, iscell_threshold=None).n_neurons == 200
    assert load_suite2p(source.suite2p / "plane0", um_per_pixel=2.0).n_neurons == 200
    with pytest.raises(DatasetError, match="probability >= 1.5"):
        load_suite2p(source.suite2p, iscell_threshold=1.5)


def test_onset_times_give_the_same_trials_as_frames(source):
    frames = read_stimulus_table(source.stimulus_table)
    times = read_stimulus_table(source.stimulus_table, onset_column="onset_time_s")
    assert times.onset_frames is None and frames.onset_times_s is None
    recording = load_suite2p(source.suite2p)
    np.testing.assert_array_equal(trial_onsets(recording, times), frames.onset_frames)
    assert times.columns["onset"] == "onset_time_s (seconds)"


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


def test_tiers_without_a_tier_column(small_data, copy, tmp_path):
    folder, table, images = copy
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
def test_malformed_suite2p_folders(copy, tmp_path, damage, pattern):
    folder, table, images = copy
    damage(folder / "plane0")
    with pytest.raises(DatasetError, match=pattern):
        import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        load_suite2p(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="plane folders"):
        load_suite2p(tmp_path / "empty")


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
def test_malformed_stimulus_tables(copy, tmp_path, kwargs, edit, pattern):
    folder, table, images = copy
    if edit:
        _rewrite_table(table, edit=edit)
    with pytest.raises(DatasetError, match=pattern):
        import_suite2p(folder, tmp_path / "x.h5", stimuli=table, images=images, **kwargs)


def test_table_without_onset_or_repeats(copy, tmp_path):
    folder, table, images = copy
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
