"""One JSON-ready interpretability summary of a trained run on its test tier (``dina analyze``).

A composition of the named analyses of ``analyses`` (and ``probes.run_probes``), the same
functions the app caches one by one, so both report the same numbers under the same keys.

Keys of the returned dict (all retrieval scores are neural -> image top-1 among the N
test images, queries per ``AnalyzeConfig.responses``; NaN is written as None):

    n_neurons, n_test_images, responses, chance_top1, full_top1
    structure_probes     {manipulation: [{strength, top1, top5}]}   (see probes.MANIPULATIONS)
    probe_info           {manipulation: {unit, description}}
    importance_tier      tier whose repeat-averaged pairs the attribution ranking used
    pruning              {ranking: [{k, top1}]} for 'importance', 'importance_bottom',
                         'response_strength', 'reliability' (when computable), and
                         'random': [{k, top1 (mean over draws), top1_std}]
    smallest_subset_90   {ranking: smallest k reaching 90% of full top-1, or None}
    unavailable          {what: why} for analyses that could not run on this run/data
    interactions         {neurons (top-m by importance), synergy (m x m), synergy_metric,
                          signal_correlation, noise_correlation (m x m, test tier),
                          reconstruction: [{k, r2, stages}]}   (reconstruction: DINA only)
    alignment_regions    {stage: mean number of regions of the test pairs' alignment maps} (DINA only)
    ground_truth         (simulated data only) {strong_responder_auc (importance ranking),
                          strong_responder_auc_by_ranking, attribution_rf_hit_rate,
                          rf_hit_rate_random, rf_hit_rate_mismatched}
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data.format import DinaData
from ..model import DinaModel
from ..progress import Progress
from ..runs.run import Run
from .analyses import (alignment_regions, ground_truth_checks, neuron_interactions, neuron_rankings, pruning_curves,
                       reconstruction, smallest_subsets)
from .masked_eval import MaskedEvaluator
from .probes import MANIPULATIONS, probe_info, run_probes

NOT_DINA = {"reconstruction": "predicted feature maps exist only in a DINA model",
            "alignment_regions": "alignment maps need a DINA model's aligned stages"}


@dataclass
class AnalyzeConfig:
    """What ``analyze`` computes and how hard it tries."""

    responses: str = "averaged"  # queries: one repeat-averaged response per test image (or 'single_trial')
    manipulations: tuple[str, ...] = tuple(MANIPULATIONS)  # structure probes, each at its default strength grid
    importance_tier: str = "validation"  # pairs the attribution ranking uses: never the test pairs it is scored on
    random_draws: int = 20  # random subsets per k: the baseline every ranking must beat
    subset_fraction: float = 0.9  # smallest_subset_90: keep this share of full top-1
    interaction_neurons: int = 10  # top-m neurons for pair ablations and correlations (m(m-1)/2 pair masks)
    synergy_metric: str = "margin"  # a pair ablation rarely moves top-1 over ~100 images; the margin does
    region_threshold: float = 0.5  # alignment-map region: >= this fraction of the map's maximum
    rf_top_neurons: int = 10  # ground truth: RF union of the neurons each image drives most
    attribution_steps: int = 32  # integrated-gradients steps of the spatial attributions (RF hit rate)
    seed: int = 0  # probes' random manipulations and the random pruning draws


def _jsonable(value):
    """Nested numpy values -> plain Python; NaN and inf -> None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


def analyze(run: Run, data: DinaData, *, config: AnalyzeConfig | None = None,
            progress: Progress | None = None) -> dict:
    """Structure probes, neuron rankings and pruning, interactions, alignment regions, ground truth.

    Args:
        run: a trained run (DINA; a linear two-tower run gets every part but the map-based ones).
        data: a recording compatible with the run (its test tier is analysed).
        config: what to compute (defaults: ``AnalyzeConfig()``).
        progress: a :data:`~dina_core.progress.Progress` callback: each stage ('test-tier retrieval',
            'structure probes', 'neuron rankings', 'pruning', 'interactions and alignment regions', and on
            simulated data 'ground truth') is announced with ``done = 0`` and ends at ``done == total``;
            the structure probes count manipulations, every other stage is one unit.

    Returns:
        The JSON-ready dict described in the module docstring.
    """
    cfg = config or AnalyzeConfig()

    def report(stage: str, done: int = 0, total: int = 1) -> None:
        if progress is not None:
            progress(done, total, stage)

    report("test-tier retrieval")
    prepared = run.prepare(data)
    evaluator = MaskedEvaluator(run, data, cfg.responses, prepared=prepared)
    full_top1 = evaluator.top1(np.ones(evaluator.n_neurons, dtype=np.float32))
    out: dict = {"n_neurons": evaluator.n_neurons, "n_test_images": evaluator.n_candidates,
                 "responses": cfg.responses, "chance_top1": evaluator.chance, "full_top1": full_top1, "unavailable": {}}
    report("test-tier retrieval", 1)

    report("structure probes", 0, len(cfg.manipulations))
    out["structure_probes"] = run_probes(run, data, list(cfg.manipulations), responses=cfg.responses,
                                         seed=cfg.seed, prepared=prepared,
                                         progress=lambda done, total, stage: report(stage, done, total))
    out["probe_info"] = probe_info(cfg.manipulations)

    report("neuron rankings")
    rankings, unavailable = neuron_rankings(run, data, tier=cfg.importance_tier, prepared=prepared)
    out["unavailable"].update(unavailable)
    out["importance_tier"] = cfg.importance_tier
    report("neuron rankings", 1)

    report("pruning")
    out["pruning"] = pruning_curves(evaluator, rankings, random_draws=cfg.random_draws, seed=cfg.seed)
    out["smallest_subset_90"] = smallest_subsets(out["pruning"], full_top1, cfg.subset_fraction)
    report("pruning", 1)

    report("interactions and alignment regions")
    importance = rankings["importance"]
    out["interactions"] = neuron_interactions(run, data, evaluator, importance, m=cfg.interaction_neurons,
                                              metric=cfg.synergy_metric, prepared=prepared)
    if isinstance(run.model, DinaModel):
        out["interactions"]["reconstruction"] = reconstruction(run.model, prepared, importance)
        out["alignment_regions"] = alignment_regions(run.model, prepared, cfg.region_threshold)
    else:
        out["unavailable"].update(NOT_DINA)
    report("interactions and alignment regions", 1)

    if data.ground_truth is not None:
        report("ground truth")
        out["ground_truth"] = ground_truth_checks(run, data, rankings, rf_top_neurons=cfg.rf_top_neurons,
                                                  attribution_steps=cfg.attribution_steps, prepared=prepared)
        report("ground truth", 1)
    return _jsonable(out)
