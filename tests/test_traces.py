"""Trace preprocessing, window extraction and quality data against naive references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dina_core.errors import DatasetError
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.simulate.traces import TraceSimConfig, simulate_traces
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.extract import (TrialResponses, check_onsets, extract_responses,
                                                onsets_from_times, window_frames, window_means)
from dina_core.importers.traces.preprocess import (delta_f_over_f, denoise, neuropil_correct, odd_frames,
                                                   preprocess, running_baseline)
from dina_core.importers.traces.quality import (benjamini_hochberg, paired_p_values, quality_report,
                                                trace_examples)
from dina_core.importers.traces.recording import TracePlane, TraceRecording

RNG = np.random.default_rng(0)


def slow_percentile_baseline(x: np.ndarray, window: int, percentile: float) -> np.ndarray:
    """Centred window, edges padded with the end values, scipy's rank int(size * p / 100)."""
    half = window // 2
    padded = np.pad(x, half, mode="edge")
    rank = min(int(window * percentile / 100), window - 1)
    return np.array([np.sort(padded[t:t + window])[rank] for t in range(x.size)])


def slow_maximin(x: np.ndarray, window: int, smooth: int) -> np.ndarray:
    def running(values, width, reduce):
        half = width // 2
        padded = np.pad(values, (half, width - 1 - half), mode="edge")
        return np.array([reduce(padded[t:t + width]) for t in range(values.size)])
    return running(running(running(x, smooth, np.mean), window, np.min), window, np.max)


def test_neuropil_correction_recovers_cell_signal():
    cell = RNG.uniform(50, 100, size=(3, 200)).astype(np.float32)
    neuropil = RNG.uniform(20, 40, size=(3, 200)).astype(np.float32)
    corrected = neuropil_correct(cell + 0.7 * neuropil, neuropil, 0.7)
    np.testing.assert_allclose(corrected, cell, rtol=1e-5)
    assert corrected.dtype == np.float32


@pytest.mark.parametrize("window,percentile", [(31, 10.0), (15, 50.0), (7, 0.0), (9, 100.0)])
def test_running_percentile_matches_slow_loop(window, percentile):
    x = RNG.normal(size=(4, 150)).astype(np.float32).cumsum(axis=1)
    fast = running_baseline(x, window, percentile, "percentile")
    for row, trace in enumerate(x):
        np.testing.assert_allclose(fast[row], slow_percentile_baseline(trace, window, percentile))


def test_maximin_matches_slow_loop():
    x = RNG.normal(size=(3, 120)).astype(np.float32).cumsum(axis=1)
    fast = running_baseline(x, 21, 10.0, "maximin", smooth=5)
    for row, trace in enumerate(x):
        np.testing.assert_allclose(fast[row], slow_maximin(trace.astype(np.float64), 21, 5),
                                   rtol=1e-5, atol=1e-5)


def test_baseline_follows_slow_drift_not_responses():
    fs, n = 30.0, 6000
    drift = 200.0 * (1 - 0.2 * np.arange(n) / n)
    transients = np.zeros(n)
    transients[::90] = 1.0
    trace = drift * (1 + 0.5 * np.convolve(transients, np.exp(-np.arange(60) / 15))[:n])
    config = TraceConfig(baseline_window_s=20.0, neuropil_coef=0.0)
    dff = preprocess(fs, config, fluorescence=trace[None].astype(np.float32))[0]
    assert np.median(np.abs(dff[trace <= drift * 1.001])) < 0.01  # resting level -> 0
    assert dff.max() > 0.4


def test_dff_floor_guards_dim_rois():
    f = np.array([[2.0, 3.0, 0.5]], np.float32)
    f0 = np.array([[1.0, 0.01, 1.0]], np.float32)
    np.testing.assert_allclose(delta_f_over_f(f, f0, floor=0.5), [[1.0, (3 - 0.01) / 0.5, -0.5]])


def test_savgol_keeps_quadratics_and_reduces_noise():
    t = np.linspace(-1, 1, 301)
    quadratic = (3 * t ** 2 - t + 2)[None].astype(np.float32)
    np.testing.assert_allclose(denoise(quadratic, "savgol", 7, order=2), quadratic, atol=1e-4)
    noise = RNG.normal(size=(5, 3000)).astype(np.float32)
    assert denoise(noise, "savgol", 9, order=2).std() < 0.75 * noise.std()


def test_median_denoising_removes_single_frame_spikes():
    x = np.zeros((1, 100), np.float32)
    x[0, 50] = 10.0
    assert denoise(x, "median", 3).max() == 0.0
    np.testing.assert_array_equal(denoise(x, "none", 3), x)


def test_window_means_match_per_trial_loop():
    traces = RNG.normal(size=(6, 500))
    onsets = RNG.integers(20, 470, size=40)
    for window in [(3, 18), (-6, 0), (0, 1)]:
        fast = window_means(traces, onsets, window)
        slow = np.array([[traces[i, o + window[0]:o + window[1]].mean() for i in range(6)]
                         for o in onsets])
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


def test_window_frames_and_onsets_from_times():
    assert window_frames((0.1, 0.6), 30.0) == (3, 18)
    assert window_frames((-0.2, 0.0), 30.0) == (-6, 0)
    assert window_frames((0.0, 0.001), 30.0) == (0, 1)  # never empty
    assert odd_frames(60.0, 30.0) == 1801 and odd_frames(0.0, 30.0, minimum=3) == 3
    frames = np.array([0, 7, 45, 299])
    np.testing.assert_array_equal(onsets_from_times(frames / 30.0, 30.0), frames)
    jittered = np.arange(300) / 30.0 + 0.004
    np.testing.assert_array_equal(onsets_from_times(jittered[frames], 30.0, jittered), frames)
    np.testing.assert_array_equal(onsets_from_times(np.array([1.01]), 30.0, jittered), [31])


def test_onsets_outside_the_recording_name_the_row():
    config = TraceConfig()
    check_onsets(np.array([6, 100, 282]), 300, 30.0, config)
    with pytest.raises(DatasetError, match=r"row 12 .*onset frame 290"):
        check_onsets(np.array([6, 100, 290]), 300, 30.0, config, table="t.csv",
                     row_ids=np.array([10, 11, 12]))
    with pytest.raises(DatasetError, match="row 1 .*onset frame 2"):
        check_onsets(np.array([2, 100]), 300, 30.0, config, row_ids=np.array([1, 2]))


def _arrays(n_neurons=11, n_frames=900) -> dict[str, np.ndarray]:
    return {"fluorescence": RNG.uniform(100, 200, size=(n_neurons, n_frames)).astype(np.float32),
            "neuropil": RNG.uniform(20, 40, size=(n_neurons, n_frames)).astype(np.float32),
            "events": RNG.exponential(size=(n_neurons, n_frames)).astype(np.float32)}


def _recording(arrays: dict[str, np.ndarray], planes: int = 1) -> TraceRecording:
    cuts = np.array_split(np.arange(len(arrays["fluorescence"])), planes)
    return TraceRecording(fs=30.0, planes=[TracePlane(**{k: v[c] for k, v in arrays.items()})
                                           for c in cuts])


def test_extraction_equals_whole_recording_reference_in_any_chunking():
    arrays = _arrays()
    onsets = np.arange(30, 850, 45)
    for config in (TraceConfig(baseline_window_s=5.0), TraceConfig(denoise="savgol"),
                   TraceConfig(signal="events", prestim_window_s=None)):
        whole = preprocess(30.0, config, **arrays)
        expected = window_means(whole, onsets, window_frames(config.response_window_s, 30.0))
        if config.prestim_window_s is not None:
            expected -= window_means(whole, onsets, window_frames(config.prestim_window_s, 30.0))
        for chunk, planes in ((256, 1), (4, 1), (3, 3)):
            chunked = TraceConfig.from_dict({**config.to_dict(), "chunk_neurons": chunk})
            got = extract_responses(_recording(arrays, planes), onsets, chunked)
            np.testing.assert_allclose(got.values, expected, rtol=1e-5, atol=1e-6)


def test_kept_rows_select_neurons_in_order():
    recording = _recording(_arrays(n_neurons=8))
    plane = recording.planes[0]
    kept = TraceRecording(fs=30.0, planes=[TracePlane(fluorescence=plane.fluorescence,
                                                      neuropil=plane.neuropil,
                                                      rows=np.array([1, 4, 6]))])
    onsets = np.arange(30, 850, 45)
    full = extract_responses(recording, onsets, TraceConfig(baseline_window_s=5.0)).values
    part = extract_responses(kept, onsets, TraceConfig(baseline_window_s=5.0)).values
    np.testing.assert_allclose(part, full[:, [1, 4, 6]], rtol=1e-6)
    np.testing.assert_array_equal(kept.select(np.array([2, 0]))["fluorescence"],
                                  plane.fluorescence[[6, 1]])


def test_missing_signal_is_a_dataset_error():
    recording = TraceRecording(fs=30.0, planes=[TracePlane(fluorescence=np.ones((2, 300)))],
                               source="s2p")
    with pytest.raises(DatasetError, match="events"):
        extract_responses(recording, np.array([50]), TraceConfig(signal="events"))


def test_trace_config_round_trips_and_rejects_nonsense():
    config = TraceConfig(denoise="median", prestim_window_s=None, response_window_s=[0.0, 0.5])
    assert TraceConfig.from_dict(config.to_dict()) == config
    assert config.response_window_s == (0.0, 0.5)
    for bad in ({"signal": "spikes"}, {"response_window_s": (0.5, 0.1)}, {"dff_floor": 0},
                {"baseline_percentile": 120}, {"denoise": "gaussian"}, {"typo": 1}):
        with pytest.raises(ValueError):
            TraceConfig.from_dict(bad)


def test_paired_p_values_match_scipy():
    response = RNG.normal(0.2, 1.0, size=(40, 5))
    prestim = RNG.normal(0.0, 1.0, size=(40, 5))
    ours = paired_p_values(TrialResponses(response.astype(np.float32), prestim.astype(np.float32)))
    ref = stats.ttest_rel(response, prestim, alternative="greater").pvalue
    np.testing.assert_allclose(ours, ref, rtol=1e-4)
    assert np.isnan(paired_p_values(TrialResponses(response, None))).all()


def test_benjamini_hochberg_matches_definition():
    p = np.array([0.001, 0.04, 0.03, 0.2, np.nan, 0.011, 0.5])
    # sorted finite: .001 .011 .03 .04 .2 .5 vs alpha*k/6 = .0083 .0167 .025 .033 .042 .05
    np.testing.assert_array_equal(benjamini_hochberg(p, 0.05),
                                  [True, False, False, False, False, True, False])
    step_up = np.array([0.01, 0.02, 0.03, 0.04])  # all pass at k = 4 though p_1 > alpha/4
    assert benjamini_hochberg(step_up, 0.04).all()


def test_quality_report_finds_planted_responders():
    n_trials = 200
    image_index = np.tile(np.arange(50), 4)
    tuning = RNG.gamma(1.0, 1.0, size=(50, 30))
    prestim = RNG.normal(0, 0.3, size=(n_trials, 30))
    response = prestim + RNG.normal(0, 0.3, size=(n_trials, 30))
    response[:, :10] += tuning[image_index, :10]  # first 10 neurons answer the images
    report = quality_report(TrialResponses(response.astype(np.float32),
                                           prestim.astype(np.float32)), image_index)
    assert report.responsive[:10].all() and report.responsive[10:].mean() <= 0.1
    assert report.fraction_responsive == pytest.approx(report.responsive.mean())
    assert np.nanmin(report.reliability[:10]) > 0.5 > np.nanmax(np.abs(report.reliability[10:]))


def test_simulated_events_hold_the_trial_responses_exactly():
    data = simulate_recording(SimConfig.small(n_neurons=30, n_train_images=40, n_validation_images=4,
                                              n_test_images=4, n_interaction_groups=2))
    config = TraceSimConfig(n_noncells=5)
    sim = simulate_traces(data, config)
    assert sim.is_cell.sum() == 30 and sim.n_frames == sim.onsets[-1] + 45 + 90
    stim = int(config.stimulus_s * config.fs)
    per_trial = window_means(sim.events[sim.is_cell], sim.onsets, (0, stim)) * stim
    np.testing.assert_allclose(per_trial, data.responses, rtol=1e-4, atol=1e-5)
    assert (sim.iscell_prob[sim.is_cell] >= 0.5).all() and (sim.iscell_prob[~sim.is_cell] < 0.5).all()
    # with F0 known exactly, dF/F is the calcium signal plus shot noise only
    dff = sim.true_dff(np.flatnonzero(sim.is_cell))
    quiet = dff[:, :sim.onsets[0]]  # the lead-in grey: no events yet
    assert abs(quiet.mean()) < 0.01 and quiet.std() < 0.15


def test_trace_examples_cover_the_requested_trials():
    recording = _recording(_arrays(n_neurons=5))
    onsets = np.arange(30, 850, 45)
    config = TraceConfig(baseline_window_s=5.0)
    ex = trace_examples(recording, onsets, config, np.array([4, 1]), first_trial=2, n_trials=3,
                        margin_s=1.0)
    assert ex.raw.shape == ex.processed.shape == ex.neuropil.shape == (2, ex.times_s.size)
    np.testing.assert_array_equal(ex.trials, [2, 3, 4])
    np.testing.assert_allclose(ex.onsets_s, onsets[2:5] / 30.0)
    np.testing.assert_allclose(ex.response_windows_s - ex.onsets_s[:, None], [[0.1, 0.6]] * 3)
    np.testing.assert_allclose(ex.prestim_windows_s - ex.onsets_s[:, None], [[-0.2, 0.0]] * 3)
    assert ex.times_s[0] == pytest.approx(onsets[2] / 30.0 - 1.0)
    np.testing.assert_array_equal(ex.raw[0], recording.planes[0].fluorescence[4, 90:241])
    whole = preprocess(30.0, config, fluorescence=recording.planes[0].fluorescence[[4, 1]],
                       neuropil=recording.planes[0].neuropil[[4, 1]])
    np.testing.assert_allclose(ex.processed, whole[:, 90:241], rtol=1e-6)
