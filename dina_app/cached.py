"""Cached analyses of the active run on the active recording, keyed by ``state.FileKey``s.

``st.cache_data`` results are copied per call (a page may modify them); the evaluators
are ``st.cache_resource`` (shared, read-only). Captum methods that hook modules and
the evaluator's construction (which hooks the neural tower for a moment) run under
``MODEL_LOCK``: a hook on the shared model would otherwise fire in another session's
forward pass.
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st
import torch

from dina_core.evaluate.model_eval import evaluate_run
from dina_core.evaluate.tasks import tier_task
from dina_core.interpret import alignment, ground_truth, interactions, neurons, probes
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.model import DinaModel

from . import analysis
from .state import FileKey, load_data, load_run, prepared

MODEL_LOCK = threading.RLock()


@st.cache_data(max_entries=8, show_spinner="Scoring the test set…")
def evaluation(run_key: FileKey, data_key: FileKey) -> list[dict]:
    return evaluate_run(load_run(run_key), load_data(data_key))


@st.cache_data(max_entries=16, show_spinner="Encoding the test set…")
def embeddings(run_key: FileKey, data_key: FileKey, level: str | None) -> dict:
    return analysis.test_embeddings(load_run(run_key), prepared(run_key, data_key), level)


@st.cache_data(max_entries=64, show_spinner=False)
def ranks(run_key: FileKey, data_key: FileKey, level: str | None, direction: str, responses: str) -> np.ndarray:
    return analysis.task_ranks(embeddings(run_key, data_key, level), direction, responses)


def levels(run_key: FileKey) -> list[str]:
    return list(load_run(run_key).model.levels)


def is_dina(run_key: FileKey) -> bool:
    return isinstance(load_run(run_key).model, DinaModel)


# -- feature maps -----------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner="Computing alignment maps…")
def stage_maps(run_key: FileKey, data_key: FileKey, stage: str) -> dict:
    """Test pairs at ``stage``: alignment (N, h, w); the two towers' latent maps (N, L, h, w) and the
    latent channels' alignability (L,).

    Latent channels, not the image tower's own: only after each side's 1x1 projection are
    channel l of the image and channel l of the neural prediction multiplied in the similarity
    (measured on the demo run: tower-space channel maps are uncorrelated, latent ones are not).
    """
    from dina_core.model.inference import eval_mode

    model = load_run(run_key).model
    images, responses, rows = alignment.averaged_pairs(prepared(run_key, data_key), "test")
    with torch.no_grad(), eval_mode(model):
        image_latent = model.image_latent_maps(images)[0][stage].numpy()
        neural_latent = model.response_latent_maps(responses)[0][stage].numpy()
    return {"alignment": alignment.alignment_maps(model, images, responses, stage), "image": image_latent,
            "neural": neural_latent, "image_rows": rows,
            "channels": alignment.channel_alignability(model, images, responses, stage, space="latent")}


# -- attributions -----------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner="Computing attributions…")
def attributions(run_key: FileKey, data_key: FileKey, method: str, positions: tuple[int, ...], params: tuple) -> dict:
    """Spatial attributions of the test pairs at ``positions`` (indices among the N test images).

    Returns {'maps' (B, H, W), 'image_rows' (B,)}; ``params`` is ``tuple(sorted(kwargs.items()))``.
    """
    from dina_core.interpret import attribution  # captum: imported by the pages that attribute

    images, responses, rows = alignment.averaged_pairs(prepared(run_key, data_key), "test")
    every = tuple(range(len(images)))
    if dict(params).get("target") == "margin" and positions != every:
        # a margin compares each image with all N responses: compute the set once, then pick
        full = attributions(run_key, data_key, method, every, params)
        return {"maps": full["maps"][list(positions)], "image_rows": full["image_rows"][list(positions)]}
    index = torch.as_tensor(positions)
    with MODEL_LOCK:
        maps = attribution.spatial_attribution(load_run(run_key).model, images[index], responses[index], method,
                                               **dict(params))
    return {"maps": maps, "image_rows": rows[np.asarray(positions)]}


@st.cache_data(max_entries=32, show_spinner=False)
def rf_union(data_key: FileKey, run_key: FileKey, image_rows: tuple[int, ...], top: int) -> np.ndarray | None:
    """(B, H, W) bool union of the true RFs of the ``top`` neurons each image drives most; None without ground truth."""
    gt = load_data(data_key).ground_truth
    if gt is None or "rf_masks" not in gt:
        return None
    return ground_truth.top_neuron_rf_union(np.asarray(image_rows), gt, top,
                                            load_run(run_key).preprocessing.neuron_indices)


# -- structure probes -------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Scoring manipulated images…")
def probe(run_key: FileKey, data_key: FileKey, manipulation: str, responses: str) -> list[dict]:
    return probes.structure_probe(load_run(run_key), load_data(data_key), manipulation, responses=responses,
                                  prepared=prepared(run_key, data_key))


@st.cache_data(max_entries=32, show_spinner=False)
def manipulated(data_key: FileKey, run_key: FileKey, manipulation: str, strength: float, count: int) -> np.ndarray:
    """The first ``count`` test images under ``manipulation`` at ``strength`` (grey levels)."""
    images = load_data(data_key).images[tier_task(prepared(run_key, data_key), "test").candidates[:count]]
    return probes.MANIPULATIONS[manipulation].apply(images, float(strength), np.random.default_rng(0))


# -- neurons ----------------------------------------------------------------------------------
@st.cache_resource(max_entries=8, show_spinner="Preparing fast pruning…")
def evaluator(run_key: FileKey, data_key: FileKey, responses: str = "averaged") -> MaskedEvaluator:
    """Retrieval under neuron masks (shared, read-only)."""
    with MODEL_LOCK:
        return MaskedEvaluator(load_run(run_key), load_data(data_key), responses,
                               prepared=prepared(run_key, data_key))


@st.cache_data(max_entries=16, show_spinner="Ranking neurons (integrated gradients)…")
def rankings(run_key: FileKey, data_key: FileKey, tier: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Neuron rankings by name and, by name, why a ranking is unavailable."""
    run, data = load_run(run_key), load_data(data_key)
    with MODEL_LOCK:
        importance = neurons.attribution_importance(run, data, tier=tier, prepared=prepared(run_key, data_key))
    out = {"importance": importance, "response_strength": neurons.response_strength(run, data)}
    rel, why = neurons.reliability(run, data)
    if why is None:
        out["reliability"] = rel
    return out, ({} if why is None else {"reliability": why})


@st.cache_data(max_entries=16, show_spinner="Computing pruning curves…")
def pruning(run_key: FileKey, data_key: FileKey, tier: str, responses: str) -> dict[str, list[dict]]:
    ev = evaluator(run_key, data_key, responses)
    ranked, _ = rankings(run_key, data_key, tier)
    ks = neurons.default_ks(ev.n_neurons)
    curves = {name: neurons.pruning_curve(ev, r, ks) for name, r in ranked.items()}
    curves["importance (least first)"] = neurons.pruning_curve(ev, ranked["importance"], ks, keep="bottom")
    curves["random"] = neurons.random_pruning_curve(ev, ks)
    return curves


@st.cache_data(max_entries=16, show_spinner="Ablating neuron pairs…")
def synergy(run_key: FileKey, data_key: FileKey, tier: str, m: int, metric: str) -> dict:
    """Pair-ablation synergy and signal/noise correlations of the top-m neurons by importance."""
    ranked, _ = rankings(run_key, data_key, tier)
    top = neurons.order(ranked["importance"])[:m]
    run, data = load_run(run_key), load_data(data_key)
    test = prepared(run_key, data_key).tier_trials["test"]
    signal, noise = interactions.signal_noise_correlations(
        data.responses[test][:, neurons.model_columns(run, data)], data.image_index[test], top)
    return {"neurons": top, "synergy": interactions.ablation_synergy(evaluator(run_key, data_key), top, metric=metric),
            "signal": signal, "noise": noise}
