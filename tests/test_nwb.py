"""The NWB importer: recovery of a simulated recording, a writer/reader round trip, the
defaults and fallbacks for tables and images, and errors that list what a file holds."""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")

from dina_core.data.io import read_dataset  # noqa: E402
from dina_core.importers.nwb import import_nwb, load_nwb
from dina_core.importers.suite2p import import_suite2p
from dina_core.errors import DatasetError  # noqa: E402
from dina_core.simulate import SimConfig, simulate_recording  # noqa: E402
from dina_core.simulate.trace_writers import roi_masks, write_trace_recording  # noqa: E402
from dina_core.simulate.traces import simulate_traces  # noqa: E402
from dina_core.importers.traces import TraceConfig
from simulated_sessions import column_corr, reliable_neurons, simulated_files  # noqa: E402

SHOWN = np.array([0, 1, 2, 2, 3, 2, 4, 5])  # image 2 repeats: the test tier
TINY = SimConfig.small(n_neurons=30, n_train_images=40, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)


@pytest.fixture(scope="module")
def small_files(small_data, tmp_path_factory):
    return simulated_files(small_data, tmp_path_factory)


@pytest.fixture(scope="module")
def tiny():
    data = simulate_recording(TINY)
    return data, simulate_traces(data)


@pytest.fixture(scope="module")
def tiny_files(tiny, tmp_path_factory):
    return write_trace_recording(tiny[0], tmp_path_factory.mktemp("tiny"))


def test_import_recovers_the_simulated_trials(small_data, small_files, tmp_path):
    data = read_dataset(import_nwb(small_files.nwb, tmp_path / "nwb.h5"))
    assert data.responses.shape == small_data.responses.shape
    np.testing.assert_array_equal(data.image_index, small_data.image_index)
    np.testing.assert_array_equal(data.tiers, small_data.tiers)
    np.testing.assert_array_equal(data.images, small_data.images)
    corr = column_corr(data.responses, small_data.responses)
    assert corr[reliable_neurons(small_data)].min() >= 0.9
    assert np.median(corr) >= 0.8
    record = data.attrs["preprocessing"]
    assert record["recording"]["series"] == "DfOverF" and record["recording"]["format"] == "nwb"
    assert record["steps"] == ["dF/F as stored in the source (no neuropil correction or baseline here)"]
    assert record["stimulus_table"]["columns"] == {"onset": "start_time (seconds)",
                                                   "image": "image_index", "tier": "tier"}
    offset = data.neurons["positions_um"] - small_data.neurons["positions_um"][:, :2]
    assert np.abs(offset - np.median(offset, axis=0)).max() <= 1.0


def test_round_trip_through_the_nwb_writer(tiny, tiny_files):
    data, sim = tiny
    cells = np.flatnonzero(sim.is_cell)
    fluo = load_nwb(tiny_files.nwb, series="Fluorescence")
    plane = fluo.recording.planes[0]
    np.testing.assert_array_equal(plane.fluorescence, sim.fluorescence[cells])
    np.testing.assert_array_equal(plane.neuropil, sim.neuropil[cells])
    assert plane.dff is None and plane.events is None
    np.testing.assert_allclose(fluo.recording.frame_times, np.arange(sim.n_frames) / 30.0)
    assert fluo.recording.fs == 30.0
    masks = roi_masks(sim)
    centres = np.array([[masks[i][1].mean(), masks[i][0].mean()] for i in cells])  # (x, y)
    np.testing.assert_allclose(fluo.recording.neurons["positions_um"], centres, atol=1e-4)
    np.testing.assert_allclose(centres, sim.centers_px[cells][:, ::-1])
    np.testing.assert_array_equal(fluo.images, data.images)
    table = fluo.table
    np.testing.assert_allclose(table.onset_times_s, sim.onset_times())
    np.testing.assert_array_equal(table.image_ids.astype(int), data.image_index)
    np.testing.assert_array_equal(table.tiers, data.tiers)
    dff = load_nwb(tiny_files.nwb).recording.planes[0].dff
    np.testing.assert_array_equal(dff, sim.true_dff(cells))
    events = load_nwb(tiny_files.nwb, signal="events").recording.planes[0].events
    np.testing.assert_array_equal(events, sim.events[cells])


def test_fluorescence_series_matches_the_suite2p_import(tiny_files, tmp_path):
    """Same F and Fneu, same preprocessing: the NWB and suite2p routes agree."""
    config = TraceConfig(baseline_window_s=20.0)
    via_nwb = read_dataset(import_nwb(tiny_files.nwb, tmp_path / "a.h5", series="Fluorescence",
                                      config=config))
    via_s2p = read_dataset(import_suite2p(tiny_files.suite2p, tmp_path / "b.h5", config=config,
                                          stimuli=tiny_files.stimulus_table,
                                          images=tiny_files.images))
    np.testing.assert_allclose(via_nwb.responses, via_s2p.responses, rtol=1e-4, atol=1e-5)
    assert via_nwb.attrs["preprocessing"]["recording"]["neuropil_series"] == "Neuropil"
    assert "neuropil correction F - 0.7 * Fneu" in via_nwb.attrs["preprocessing"]["steps"]


def _tiny_nwb(path, *, table_columns: dict | None = None, index_series: bool = False,
              images: bool = True, traces: bool = True, n_frames: int = 600):
    """A hand-built NWB file: 4 ROIs, 8 presentations a second apart, 6 images (one repeated)."""
    from hdmf.common import ElementIdentifiers, VectorData
    from pynwb.base import ImageReferences, Images
    from pynwb.epoch import TimeIntervals
    from pynwb.image import GrayscaleImage, IndexSeries
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    rng = np.random.default_rng(0)
    nwb = pynwb.NWBFile(session_description="tiny", identifier="tiny",
                        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    if traces:
        device = nwb.create_device(name="scope")
        plane = nwb.create_imaging_plane(name="plane", optical_channel=OpticalChannel(
            name="ch", description="green", emission_lambda=510.0), description="p", device=device,
            excitation_lambda=920.0, indicator="GCaMP", location="V1", imaging_rate=30.0)
        ophys = nwb.create_processing_module(name="ophys", description="ophys")
        segmentation = ImageSegmentation()
        ophys.add(segmentation)
        rois = segmentation.create_plane_segmentation(name="cells", description="c", imaging_plane=plane)
        for k in range(4):
            mask = np.zeros((20, 10))
            mask[2 * k:2 * k + 3, 4:7] = 1.0
            rois.add_roi(image_mask=mask)
        fluorescence = Fluorescence()
        ophys.add(fluorescence)
        fluorescence.create_roi_response_series(
            name="RoiResponseSeries", data=rng.uniform(100, 110, size=(n_frames, 4)), unit="a.u.",
            rois=rois.create_roi_table_region(region=[0, 1, 2, 3], description="all"), rate=30.0)
    templates = [GrayscaleImage(name=f"im{i}", data=rng.uniform(0, 255, size=(5, 8))) for i in range(6)]
    container = Images(name="scenes", images=templates[::-1],  # stored out of order on purpose
                       order_of_images=ImageReferences(name="order_of_images", data=templates))
    if images:
        nwb.add_stimulus_template(container)
    shown = SHOWN
    starts = 1.0 + np.arange(shown.size)
    if table_columns is not None:
        columns = {"start_time": starts, "stop_time": starts + 0.5, **table_columns}
        nwb.add_time_intervals(TimeIntervals(
            name="trials", description="t", id=ElementIdentifiers(name="id", data=np.arange(starts.size)),
            columns=[VectorData(name=k, data=v, description=k) for k, v in columns.items()]))
    if index_series:
        nwb.add_stimulus(IndexSeries(name="shown", data=shown.astype(np.uint32), unit="N/A",
                                     indexed_images=container, timestamps=starts))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return shown, np.stack([t.data for t in templates])


def test_defaults_image_mask_positions_and_assigned_tiers(tmp_path):
    shown, templates = _tiny_nwb(tmp_path / "t.nwb", table_columns={"frame": SHOWN})
    session = load_nwb(tmp_path / "t.nwb", um_per_pixel=2.0)
    np.testing.assert_allclose(session.images, templates)  # order_of_images, not storage order
    np.testing.assert_array_equal(session.table.image_ids.astype(int), shown)
    assert session.table.columns["image"] == "frame" and session.table.tiers is None
    np.testing.assert_allclose(session.recording.neurons["positions_um"],
                               2.0 * np.array([[2 * k + 1, 5] for k in range(4)]))  # (x, y) axes
    assert session.recording.description["um_per_pixel_from"] == "given"
    data = read_dataset(import_nwb(tmp_path / "t.nwb", tmp_path / "t.h5", config=TraceConfig(
        baseline_window_s=5.0)))
    np.testing.assert_array_equal(data.tiers == "test", shown == 2)
    assert data.n_neurons == 4 and data.n_trials == 8


def test_index_series_serves_as_presentations(tmp_path):
    shown, _ = _tiny_nwb(tmp_path / "i.nwb", index_series=True)
    session = load_nwb(tmp_path / "i.nwb")
    np.testing.assert_array_equal(session.table.image_ids.astype(int), shown)
    np.testing.assert_allclose(session.table.onset_times_s, 1.0 + np.arange(shown.size))
    assert session.images_source == "stimulus/shown"


def test_missing_table_lists_what_the_file_holds(tmp_path):
    _tiny_nwb(tmp_path / "n.nwb")
    with pytest.raises(DatasetError) as err:
        load_nwb(tmp_path / "n.nwb")
    message = str(err.value)
    assert "field '/intervals'" in message and "stimulus_presentations or trials" in message
    for part in ("processing module 'ophys'", "ImageSegmentation (ImageSegmentation: cells)",
                 "Fluorescence (Fluorescence: RoiResponseSeries)", "interval tables: none",
                 "stimulus templates: scenes (Images)"):
        assert part in message, part


def test_missing_parts_are_named(tmp_path):
    _tiny_nwb(tmp_path / "c.nwb", table_columns={"contrast": np.ones(8)})
    with pytest.raises(DatasetError, match=r"/intervals/trials.*image index column named one of "
                                           r"image_index, frame.*columns start_time, stop_time, contrast"):
        load_nwb(tmp_path / "c.nwb")
    with pytest.raises(DatasetError, match=r"tier column named 'split'"):
        load_nwb(tmp_path / "c.nwb", image_column="contrast", tier_column="split")
    _tiny_nwb(tmp_path / "x.nwb", traces=False, table_columns={"frame": np.zeros(8, int)})
    with pytest.raises(DatasetError, match=r"RoiResponseSeries in a processing module.*no processing modules"):
        load_nwb(tmp_path / "x.nwb")
    _tiny_nwb(tmp_path / "m.nwb", images=False, table_columns={"frame": np.zeros(8, int)})
    with pytest.raises(DatasetError, match=r"stimulus images.*stimulus templates: none"):
        load_nwb(tmp_path / "m.nwb")
    with pytest.raises(DatasetError, match=r"Deconvolved.*signal 'events'"):
        load_nwb(tmp_path / "m.nwb", signal="events")
    with pytest.raises(DatasetError, match=r"ophys/Calcium.*RoiResponseSeries of that name.*"
                                           r"Fluorescence \(Fluorescence: RoiResponseSeries\)"):
        load_nwb(tmp_path / "c.nwb", series="Calcium")


def test_onsets_after_the_recording_name_the_row(tmp_path):
    _tiny_nwb(tmp_path / "s.nwb", n_frames=200, table_columns={"frame": np.zeros(8, int),
                                                               "tier": ["train"] * 4 + ["test"] * 4})
    with pytest.raises(DatasetError, match=r"/intervals/trials: field 'row 6'.*200 frames"):
        import_nwb(tmp_path / "s.nwb", tmp_path / "s.h5")


def test_non_nwb_files(tmp_path, small_files, small_data):
    with pytest.raises(DatasetError, match="no such file"):
        load_nwb(tmp_path / "missing.nwb")
    (tmp_path / "notes.nwb").write_text("not a recording")
    with pytest.raises(DatasetError, match="an NWB 2.x file \\(HDF5\\), found a file that is not HDF5"):
        load_nwb(tmp_path / "notes.nwb")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DatasetError, match="nwb_version.*an HDF5 file that is not NWB"):
        import_nwb(tmp_path / "plain.h5", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
