"""Assemble a DINA dataset from a raw recording, its stimulus table and its images.

Shared by the suite2p and NWB importers. The dataset's ``preprocessing`` root attribute
(JSON) records everything needed to redo it: the :class:`TraceConfig`, the steps with
their frame counts, how the traces, table, images and tiers were read.
"""

from __future__ import annotations

import numpy as np

import dina_core
from dina_core.data.format import DinaData
from dina_core.data.guards import check_fits
from dina_core.importers.stimuli import StimulusTable, assign_tiers, match_images
from dina_core.errors import DatasetError
from dina_core.importers.traces.extract import TrialResponses, extract_responses, onsets_from_times, window_frames
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.preprocess import describe_steps
from dina_core.importers.traces.recording import TraceRecording
from dina_core.progress import Progress


_FAR = 2.0 ** 53  # frames: past this a float onset is no longer an exact frame (and overflows int64 soon after)


def _check_given_onsets(table: StimulusTable, fs: float) -> None:
    """Refuse onsets no recording could hold, and two rows at one onset (one presentation listed twice)."""
    given = table.onset_frames if table.onset_frames is not None else table.onset_times_s
    column, unit = table.columns["onset"], "" if table.onset_frames is not None else " s"
    frames = np.abs(given.astype(np.float64)) * (1.0 if table.onset_frames is not None else fs)
    far = np.flatnonzero(frames >= _FAR)
    if far.size:
        raise DatasetError(table.source, f"row {table.row_ids[far[0]]} ({column})", "an onset on the recording's "
                           f"clock (under {_FAR:.0e} frames)", f"{given[far[0]]:g}{unit}, beyond any recording "
                           f"({far.size} row(s) like it)")
    order = np.argsort(given, kind="stable")
    twice = np.flatnonzero(np.diff(given[order]) == 0)
    if twice.size and twice.size < given.size - 1:  # all at one onset: refused below, with its own message
        a, b = order[twice[0]], order[twice[0] + 1]
        raise DatasetError(table.source, f"rows {table.row_ids[a]} and {table.row_ids[b]} ({column})",
                           "one row per presentation (two rows at one onset are one presentation listed twice: "
                           "its image's repeats would count double)",
                           f"both at onset {given[a]:g}{unit}, images {str(table.image_ids[a])!r} and "
                           f"{str(table.image_ids[b])!r} ({twice.size} row(s) repeating an earlier onset)")


def trial_onsets(recording: TraceRecording, table: StimulusTable) -> np.ndarray:
    """(n_trials,) int64 onset frame of each presentation (times mapped through frame times).

    Raises:
        DatasetError: every presentation has the same onset (a table whose onset column was not
            filled in, or the wrong column): each trial would get the same response; two rows share
            an onset (a duplicated presentation), naming both; an onset beyond any recording.
    """
    _check_given_onsets(table, recording.fs)
    if table.onset_frames is not None:
        onsets = table.onset_frames.astype(np.int64)
    else:
        onsets = onsets_from_times(table.onset_times_s, recording.fs, recording.frame_times)
    if onsets.size > 1 and (onsets == onsets[0]).all():
        raise DatasetError(table.source, table.columns["onset"], "presentations at different onsets",
                           f"all {onsets.size} presentations at the same onset (frame {onsets[0]}): every "
                           "trial would get the same response")
    return onsets


def trial_tiers(table: StimulusTable, image_index: np.ndarray,
                validation_fraction: float) -> tuple[np.ndarray, str]:
    """Tiers from the table, else by the repeat rule of :mod:`dina_core.importers.stimuli`."""
    if table.tiers is not None:
        return table.tiers, f"from the stimulus table column {table.columns['tier']!r}"
    if np.bincount(image_index).max() < 2:
        raise DatasetError(table.source, "tier", "a tier column, or images shown more than "
                           "once (they become the test tier)",
                           "no tier column and every image shown once")
    return (assign_tiers(image_index, validation_fraction),
            f"images shown more than once -> test; once-shown images in a fixed random order "
            f"(seed 0), the first {validation_fraction:.0%} of them -> validation, rest -> train")


def response_unit(config: TraceConfig, recording: TraceRecording) -> str:
    """The dataset's ``response_unit``: signal and windows in words."""
    if config.signal == "events":
        signal = "deconvolved events (a.u.)"
    elif recording.has("dff") or config.baseline_method != "none":
        signal = "dF/F"
    else:
        signal = "fluorescence (a.u.)"
    a, b = config.response_window_s
    unit = f"{signal}, mean over {a:g} to {b:g} s after onset"
    if config.prestim_window_s is not None:
        unit += " minus mean over {:g} to {:g} s".format(*config.prestim_window_s)
    return unit


def preprocessing_record(recording: TraceRecording, table: StimulusTable, config: TraceConfig,
                         images_source: str, tier_rule: str) -> dict:
    """The ``preprocessing`` attribute: a JSON-ready account of how the dataset was made."""
    fs = recording.fs
    return {
        "dina_version": dina_core.__version__,
        "recording": {**recording.description, "fs_hz": fs, "n_frames": recording.n_frames,
                      "n_neurons": recording.n_neurons},
        "trace_config": config.to_dict(),
        "steps": describe_steps(fs, config, has_neuropil=recording.has("neuropil"),
                                has_dff=recording.has("dff")),
        "response_window_frames": window_frames(config.response_window_s, fs),
        "prestim_window_frames": None if config.prestim_window_s is None
        else window_frames(config.prestim_window_s, fs),
        "stimulus_table": {"source": table.source, "columns": table.columns},
        "images": images_source,
        "tiers": tier_rule,
    }


def _fits(recording: TraceRecording, table: StimulusTable, config: TraceConfig) -> None:
    """Refuse before extraction when its arrays (trial x neuron windows, one chunk of traces) exceed memory."""
    windows = 1 + (config.prestim_window_s is not None)
    chunk = min(config.chunk_neurons, recording.n_neurons)
    check_fits(recording.source, [("responses", (windows, table.image_ids.size, recording.n_neurons), np.float32),
                                  ("traces of one chunk", (4, chunk, recording.n_frames), np.float64)])


def build_dataset(recording: TraceRecording, table: StimulusTable, images: np.ndarray,
                  image_ids: np.ndarray, config: TraceConfig, *, images_source: str,
                  attrs: dict, validation_fraction: float = 0.1,
                  progress: Progress | None = None) -> tuple[DinaData, TrialResponses]:
    """Extract per-trial responses and assemble the dataset in memory.

    Args:
        recording: raw traces and per-neuron metadata.
        table: presentations, in trial order.
        images: (n_images, H, W) float32 grey levels; all kept, in stack order.
        image_ids: (n_images,) ids matched against the table's image ids.
        config: preprocessing and windows.
        images_source: the images' path, for messages and attribution.
        attrs: root attributes (name, source, citation, license); response_unit and
            preprocessing are filled in here.
        validation_fraction: for tables without a tier column.
        progress: optional ``callback(done, total, stage)``.

    Returns:
        The dataset (responses (n_trials, n_neurons) float32; ``extra`` holds
        ``onset_frame``, ``onset_time_s`` and ``stimulus_row``) and the window means
        (for the quality report).

    Raises:
        DatasetError: unknown image ids, onsets outside the recording, missing tiers.
    """
    onsets = trial_onsets(recording, table)
    image_index = match_images(table, image_ids, images_source)
    tiers, tier_rule = trial_tiers(table, image_index, validation_fraction)
    _fits(recording, table, config)
    trials = extract_responses(recording, onsets, config, table=table.source,
                               row_ids=table.row_ids, progress=progress)
    data = DinaData(
        images=np.asarray(images, np.float32), responses=trials.values,
        image_index=image_index, tiers=np.asarray(tiers, dtype=str),
        attrs={**attrs, "response_unit": response_unit(config, recording),
               "preprocessing": {**preprocessing_record(recording, table, config, images_source, tier_rule),
                                 "nan_frames_filled": {"traces": trials.filled_traces,
                                                       "values": trials.filled_values}}},
        image_source=np.asarray([f"{images_source} id {i}" for i in image_ids]),
        neurons=dict(recording.neurons),
        extra={"onset_frame": onsets, "onset_time_s": recording.times(onsets),
               "stimulus_row": np.asarray(table.row_ids, dtype=np.int64)})
    return data, trials

