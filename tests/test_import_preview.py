"""The import wizard's preview: on a sample of neurons it must give exactly what the import
writes for those neurons, show the most reliable ones, and fail the way the import fails."""

from __future__ import annotations

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.importers.suite2p import read_suite2p_source
from dina_core.errors import DatasetError
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.extract import window_frames
from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_neurons, sample_source
from dina_core.importers.traces.source import describe_source, write_source
from simulated_sessions import simulated_files

CONFIG = TraceConfig(response_window_s=(0.1, 0.5), denoise="savgol")


@pytest.fixture(scope="module")
def source(small_data, tmp_path_factory):
    files = simulated_files(small_data, tmp_path_factory)
    return read_suite2p_source(files.suite2p, stimuli=files.stimulus_table, images=files.images)


@pytest.fixture(scope="module")
def imported(source, tmp_path_factory):
    """The whole import with CONFIG, the reference every preview is checked against."""
    return read_dataset(write_source(source, tmp_path_factory.mktemp("imp") / "s2p.h5", CONFIG))


def preview(source, max_neurons: int, config: TraceConfig = CONFIG, **kwargs):
    sample, neurons = sample_source(source, max_neurons, preview_kinds(source, config))
    return preview_source(sample, neurons, config, n_total=source.recording.n_neurons, **kwargs)


def test_sample_is_evenly_spread_and_complete_when_small():
    assert np.array_equal(sample_neurons(7, 50), np.arange(7))
    picked = sample_neurons(1000, 10)
    assert picked.size == 10 and picked[0] == 0 and picked[-1] == 999
    assert np.all(np.diff(picked) > 0) and np.ptp(np.diff(picked)) <= 1
    with pytest.raises(ValueError):
        sample_neurons(10, 0)


def test_subset_reads_the_same_traces_in_any_order(source):
    rec = source.recording
    neurons = np.array([17, 3, 150, 4])
    sub = rec.subset(neurons, ("fluorescence", "neuropil"))
    for kind in ("fluorescence", "neuropil"):
        expected = np.stack([np.asarray(getattr(rec.planes[0], kind)[rec.planes[0].kept[n]]) for n in neurons])
        assert np.array_equal(getattr(sub.planes[0], kind), expected)
    assert sub.planes[0].events is None  # only the kinds asked for are read
    assert np.array_equal(sub.neurons["positions_um"], rec.neurons["positions_um"][neurons])


def test_preview_of_every_neuron_is_the_import(source, imported):
    full = preview(source, max_neurons=10_000)
    assert full.neurons.size == full.n_neurons == imported.n_neurons
    np.testing.assert_allclose(full.trials.values, imported.responses, rtol=1e-5, atol=1e-6)
    assert np.array_equal(full.image_index, imported.image_index)
    assert np.array_equal(full.tiers, imported.tiers)
    assert full.response_unit == imported.attrs["response_unit"]


def test_preview_of_a_sample_matches_the_import_on_those_neurons(source, imported):
    part = preview(source, max_neurons=40)
    assert part.neurons.size == 40 and part.n_neurons == imported.n_neurons
    np.testing.assert_allclose(part.trials.values, imported.responses[:, part.neurons], rtol=1e-5, atol=1e-6)
    # the examples are the sample's most reliable neurons, named by their index in the recording
    best = part.neurons[np.argsort(-np.nan_to_num(part.report.reliability, nan=-np.inf))[:3]]
    assert np.array_equal(part.examples.neurons, best)


def test_example_windows_follow_the_config(source):
    fs = source.recording.fs
    for window in [(0.1, 0.5), (0.2, 1.0)]:
        config = TraceConfig(response_window_s=window, prestim_window_s=(-0.5, 0.0))
        ex = preview(source, 20, config, first_trial=3, n_trials=4).examples
        start, stop = window_frames(window, fs)
        assert np.array_equal(ex.trials, [3, 4, 5, 6])
        np.testing.assert_allclose(ex.response_windows_s - ex.onsets_s[:, None], [[start / fs, stop / fs]] * 4)
        np.testing.assert_allclose(ex.prestim_windows_s[:, 0] - ex.onsets_s, -0.5)
        assert ex.times_s[0] <= ex.onsets_s[0] - 2.0 + 1 / fs and ex.processed.shape == ex.raw.shape


def test_preview_fails_like_the_import(source, tmp_path):
    too_long = TraceConfig(response_window_s=(0.1, 5_000.0))
    with pytest.raises(DatasetError) as from_preview:
        preview(source, 10, too_long)
    with pytest.raises(DatasetError) as from_import:
        write_source(source, tmp_path / "x.h5", too_long)
    assert str(from_preview.value) == str(from_import.value)
    assert "stimulus_table.csv" in str(from_preview.value) and not (tmp_path / "x.h5").exists()


def test_description_counts_the_source(source, small_data):
    info = describe_source(source)
    assert info["trials"] == small_data.n_trials and info["images"] == small_data.n_images
    assert info["signals"] == ["fluorescence", "neuropil", "events"]
    assert info["repeated_images"] == np.unique(small_data.image_index[small_data.tiers == "test"]).size
    assert info["duration_s"] == pytest.approx(info["frames"] / info["fs_hz"])
