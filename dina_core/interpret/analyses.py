"""The named analyses of a trained run on its test tier, shared by ``dina analyze`` and the app.

Each is a plain function of core objects (a ``Run``, a ``DinaData``, its ``run.prepare``
output, a ``MaskedEvaluator``); ``analyze.analyze`` composes them into one JSON summary and
``dina_app/cached.py`` caches them one by one. Both use the keys below, so a number has
one name everywhere; the app turns keys into labels only when drawing.

Key vocabulary:

* rankings (``neuron_rankings``): 'importance', 'response_strength', 'reliability';
* pruning curves (``pruning_curves``): every ranking, plus 'importance_bottom' (least
  important kept first) and 'random' (mean over random draws);
* interactions (``neuron_interactions``): 'neurons', 'synergy_metric', 'synergy',
  'signal_correlation', 'noise_correlation';
* stage maps (``stage_maps``): 'alignment', 'image', 'neural', 'image_rows', 'channels'.

All retrieval scores are neural -> image top-1 among the N test images.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.format import DinaData
from ..model import DinaModel
from ..model.inference import eval_mode
from ..runs.prepare import PreparedData
from ..runs.run import Run
from . import alignment, ground_truth, regions
from .interactions import ablation_synergy, reconstruction_r2, signal_noise_correlations
from .masked_eval import MaskedEvaluator
from .neurons import (attribution_importance, default_ks, model_columns, order, pruning_curve, random_pruning_curve,
                      reliability, response_strength, smallest_subset, strong_responder_auc)


def neuron_rankings(run: Run, data: DinaData, *, tier: str = "validation", prepared: PreparedData | None = None
                    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every neuron ranking this run and recording allow (see ``neurons`` for each definition).

    Args:
        run: a trained run.
        data: a recording compatible with the run.
        tier: pairs the attribution importance is averaged over ('validation': never the
            test pairs the rankings are then scored on).
        prepared: ``run.prepare(data)`` when the caller already has it.

    Returns:
        rankings: {'importance' (similarity units), 'response_strength' (response unit),
            'reliability' (oracle correlation, when computable)}, each (n_neurons,) over the
            neurons the model sees, higher = more important.
        unavailable: {ranking: why it could not be computed}.
    """
    importance = attribution_importance(run, data, tier=tier, prepared=prepared)
    rankings = {"importance": importance, "response_strength": response_strength(run, data)}
    rel, why = reliability(run, data)
    if why is None:
        rankings["reliability"] = rel
    return rankings, ({} if why is None else {"reliability": why})


def pruning_curves(evaluator: MaskedEvaluator, rankings: dict[str, np.ndarray], *, random_draws: int = 20,
                   seed: int = 0) -> dict[str, list[dict]]:
    """Top-1 with only the k first neurons of each ranking, at ``default_ks(n_neurons)``.

    Args:
        evaluator: retrieval under neuron masks.
        rankings: as returned by ``neuron_rankings`` ('importance' required).
        random_draws: random subsets per k (the baseline every ranking must beat).
        seed: seeds the random subsets.

    Returns:
        {ranking: [{'k', 'top1'}]} for each ranking, 'importance_bottom' (least important
        kept first) and 'random' ([{'k', 'top1' (mean over draws), 'top1_std'}]); top-1 in [0, 1].
    """
    ks = default_ks(evaluator.n_neurons)
    curves = {name: pruning_curve(evaluator, r, ks) for name, r in rankings.items()}
    curves["importance_bottom"] = pruning_curve(evaluator, rankings["importance"], ks, keep="bottom")
    curves["random"] = random_pruning_curve(evaluator, ks, n_draws=random_draws, seed=seed)
    return curves


def smallest_subsets(curves: dict[str, list[dict]], full_top1: float, fraction: float = 0.9
                     ) -> dict[str, int | None]:
    """{curve: smallest k whose top-1 reaches ``fraction`` x ``full_top1``, or None} for each pruning curve."""
    return {name: smallest_subset(curve, full_top1, fraction) for name, curve in curves.items()}


def neuron_interactions(run: Run, data: DinaData, evaluator: MaskedEvaluator, importance: np.ndarray, *,
                        m: int = 10, metric: str = "margin", prepared: PreparedData | None = None) -> dict:
    """Pair-ablation synergy and signal/noise correlations of the ``m`` most important neurons.

    Args:
        run: a trained run.
        data: a recording compatible with the run.
        evaluator: retrieval under neuron masks (scores the ablations).
        importance: (n_neurons,) ranking that picks the neurons, higher first.
        m: neurons kept (m(m-1)/2 pair masks); at most n_neurons.
        metric: 'margin' (continuous) or 'top1' (see ``interactions.ablation_synergy``).
        prepared: ``run.prepare(data)`` when the caller already has it.

    Returns:
        {'neurons' (m,) int64 indices among the model's neurons, 'synergy_metric',
        'synergy' (m, m) in ``metric`` units, 'signal_correlation' and 'noise_correlation'
        (m, m) Pearson r on the test trials}.
    """
    prepared = prepared if prepared is not None else run.prepare(data)
    top = order(importance)[:min(m, evaluator.n_neurons)]
    test = prepared.tier_trials["test"]
    signal, noise = signal_noise_correlations(data.responses[test][:, model_columns(run, data)],
                                              data.image_index[test], top)
    return {"neurons": top, "synergy_metric": metric, "synergy": ablation_synergy(evaluator, top, metric=metric),
            "signal_correlation": signal, "noise_correlation": noise}


def reconstruction(model: DinaModel, prepared: PreparedData, importance: np.ndarray) -> list[dict]:
    """R^2 of the predicted feature maps of the test pairs rebuilt from the top-k neurons (DINA only).

    Returns:
        [{'k', 'r2' (mean over stages), 'stages': {stage: r2}}] at ``default_ks(n_neurons)``.
    """
    _, responses, _ = alignment.averaged_pairs(prepared, "test")
    return reconstruction_r2(model, responses, importance, default_ks(len(importance)))


def alignment_regions(model: DinaModel, prepared: PreparedData, threshold: float = 0.5) -> dict[str, float]:
    """{stage: mean number of regions of the test pairs' alignment maps} (``regions.mean_regions``).

    Args:
        model: a DINA model.
        prepared: a recording normalised by ``run.prepare``.
        threshold: a region is >= this fraction of its map's maximum.
    """
    images, responses, _ = alignment.averaged_pairs(prepared, "test")
    return {stage: regions.mean_regions(alignment.alignment_maps(model, images, responses, stage), threshold)
            for stage in model.config.aligned_stages}


def stage_maps(model: DinaModel, prepared: PreparedData, stage: str) -> dict[str, np.ndarray]:
    """The test pairs at ``stage``, for display: alignment, both towers' latent maps, channel alignability.

    Latent channels, not the image tower's own: only after each side's 1x1 projection are
    channel l of the image and channel l of the neural prediction multiplied in the similarity
    (measured on the demo run: tower-space channel maps are uncorrelated, latent ones are not).

    Returns:
        {'alignment' (N, h, w) per-location similarity, 'image' and 'neural' (N, L, h, w)
        latent maps, 'image_rows' (N,) stimulus rows, 'channels' (L,) alignability}; float32.
    """
    images, responses, rows = alignment.averaged_pairs(prepared, "test")
    with torch.no_grad(), eval_mode(model):
        image_latent = model.image_latent_maps(images)[0][stage].numpy()
        neural_latent = model.response_latent_maps(responses)[0][stage].numpy()
    return {"alignment": alignment.alignment_maps(model, images, responses, stage), "image": image_latent,
            "neural": neural_latent, "image_rows": rows,
            "channels": alignment.channel_alignability(model, images, responses, stage, space="latent")}


def ground_truth_checks(run: Run, data: DinaData, rankings: dict[str, np.ndarray], *, rf_top_neurons: int = 10,
                        attribution_steps: int = 32, prepared: PreparedData | None = None) -> dict:
    """On simulated data: do the rankings find the strong responders, do attributions hit the RFs?

    Args:
        run: a trained run.
        data: a simulated recording (``data.ground_truth`` set).
        rankings: as returned by ``neuron_rankings``.
        rf_top_neurons: RF union of the neurons each test image drives most.
        attribution_steps: integrated-gradients steps of the spatial attributions.
        prepared: ``run.prepare(data)`` when the caller already has it.

    Returns:
        {'strong_responder_auc' (importance), 'strong_responder_auc_by_ranking' {ranking: auc},
        'attribution_rf_hit_rate', 'rf_hit_rate_random', 'rf_hit_rate_mismatched'}; all in [0, 1].
    """
    from . import attribution  # imports captum: only needed here

    if data.ground_truth is None:
        raise ValueError("ground-truth checks need a simulated recording (data.ground_truth is None)")
    prepared = prepared if prepared is not None else run.prepare(data)
    gt = data.ground_truth
    strong = np.asarray(gt["strong_responder"])[model_columns(run, data)]
    images, responses, image_rows = alignment.averaged_pairs(prepared, "test")
    maps = attribution.spatial_attribution(run.model, images, responses, "integrated_gradients",
                                           n_steps=attribution_steps)
    rf_args = (image_rows, gt, rf_top_neurons, run.preprocessing.neuron_indices)
    return {
        "strong_responder_auc": strong_responder_auc(rankings["importance"], strong),
        "strong_responder_auc_by_ranking": {name: strong_responder_auc(r, strong) for name, r in rankings.items()},
        "attribution_rf_hit_rate": ground_truth.attribution_rf_hit_rate(maps, *rf_args),
        "rf_hit_rate_random": ground_truth.random_location_rate(*rf_args),
        "rf_hit_rate_mismatched": ground_truth.mismatched_image_rate(maps, *rf_args),
    }
