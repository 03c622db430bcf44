"""What an import would produce, fast enough to recompute on every parameter change.

A real recording holds thousands of neurons over an hour of frames, so the wizard never
preprocesses all of them per change: :func:`sample_source` reads an evenly spaced sample of
neurons into memory once, and :func:`preview_source` runs the exact import pipeline
(:func:`~dina_core.importers.traces.extract.extract_responses`, the same onsets, images and tiers) on
that sample. With the sample set to every neuron the preview equals the import.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dina_core.importers.stimuli import match_images
from dina_core.importers.traces.config import TraceConfig
from dina_core.importers.traces.dataset import response_unit, trial_onsets, trial_tiers
from dina_core.importers.traces.extract import TrialResponses, extract_responses
from dina_core.importers.traces.preprocess import describe_steps, needed_kinds
from dina_core.importers.traces.quality import QualityReport, TraceExamples, quality_report, trace_examples
from dina_core.importers.traces.source import RawSource


@dataclass
class ImportPreview:
    """The import's outcome on a sample of neurons.

    Attributes:
        neurons: (k,) int64 sampled neurons, as indices into the whole recording's neurons.
        n_neurons: neurons in the whole recording.
        trials: window means of the sampled neurons, (n_trials, k) each.
        report: reliability and responsiveness of the sampled neurons.
        image_index: (n_trials,) int64 image row shown on each trial.
        tiers: (n_trials,) str tier of each trial.
        tier_rule: how the tiers were set, in words.
        examples: the most reliable sampled neurons' traces around a few trials
            (``examples.neurons`` index the whole recording).
        steps: the preprocessing steps, in words.
        response_unit: what one response value means.
    """

    neurons: np.ndarray
    n_neurons: int
    trials: TrialResponses
    report: QualityReport
    image_index: np.ndarray
    tiers: np.ndarray
    tier_rule: str
    examples: TraceExamples
    steps: list[str]
    response_unit: str


def sample_neurons(n_neurons: int, max_neurons: int) -> np.ndarray:
    """(min(n_neurons, max_neurons),) int64 evenly spaced neuron indices, first and last included.

    Even spacing rather than a random draw: suite2p orders ROIs roughly by brightness and
    planes follow each other, so a spread sample covers all of them reproducibly.
    """
    if max_neurons < 1:
        raise ValueError(f"max_neurons must be >= 1, not {max_neurons}")
    if n_neurons <= max_neurons:
        return np.arange(n_neurons, dtype=np.int64)
    return np.unique(np.linspace(0, n_neurons - 1, max_neurons).round().astype(np.int64))


def sample_source(source: RawSource, max_neurons: int,
                  kinds: tuple[str, ...]) -> tuple[RawSource, np.ndarray]:
    """``source`` restricted to a sample of neurons whose ``kinds`` traces are read into memory.

    Args:
        source: the whole recording (traces may be memory-mapped).
        max_neurons: sample size; every neuron when the recording has no more.
        kinds: traces to read (:func:`needed_kinds` of the config to preview).

    Returns:
        The sampled source, and (k,) int64 its neurons' indices in ``source``.
    """
    neurons = sample_neurons(source.recording.n_neurons, max_neurons)
    return replace(source, recording=source.recording.subset(neurons, kinds)), neurons


def preview_kinds(source: RawSource, config: TraceConfig) -> tuple[str, ...]:
    """The traces a preview of ``config`` reads (what :func:`sample_source` needs)."""
    return needed_kinds(config, source.recording.has("dff"))


def preview_source(sample: RawSource, neurons: np.ndarray, config: TraceConfig, *,
                   n_total: int, n_examples: int = 3, first_trial: int = 0, n_trials: int = 6,
                   validation_fraction: float = 0.1) -> ImportPreview:
    """Run the import pipeline on a sampled source (from :func:`sample_source`).

    Args:
        sample: the sampled source.
        neurons: (k,) its neurons' indices in the whole recording.
        config: preprocessing and windows to preview.
        n_total: neurons in the whole recording.
        n_examples: how many of the most reliable sampled neurons to show as traces.
        first_trial, n_trials: which trials the example stretch covers.
        validation_fraction: for tables without a tier column.

    Raises:
        DatasetError: exactly as the import would (unknown image ids, windows outside the
            recording, missing tiers, a signal the source lacks).
    """
    recording, table = sample.recording, sample.table
    onsets = trial_onsets(recording, table)
    image_index = match_images(table, sample.image_ids, sample.images_source)
    tiers, tier_rule = trial_tiers(table, image_index, validation_fraction)
    trials = extract_responses(recording, onsets, config, table=table.source, row_ids=table.row_ids)
    report = quality_report(trials, image_index)
    ranking = np.argsort(-np.nan_to_num(report.reliability, nan=-np.inf), kind="stable")
    examples = trace_examples(recording, onsets, config, ranking[:n_examples],
                              first_trial=min(first_trial, max(onsets.size - 1, 0)), n_trials=n_trials)
    examples.neurons = np.asarray(neurons)[examples.neurons]
    return ImportPreview(
        neurons=np.asarray(neurons), n_neurons=n_total, trials=trials, report=report,
        image_index=image_index, tiers=np.asarray(tiers, dtype=str), tier_rule=tier_rule,
        examples=examples,
        steps=describe_steps(recording.fs, config, has_neuropil=recording.has("neuropil"),
                             has_dff=recording.has("dff")),
        response_unit=response_unit(config, recording))
