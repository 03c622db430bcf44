"""Cached analyses of the active run on the active recording, keyed by ``state.FileKey``s.

Thin ``st.cache_data`` / ``st.cache_resource`` wrappers of ``dina_core`` functions (the named
analyses of ``dina_core.interpret.analyses`` among them, under their keys). ``st.cache_data``
results are copied per call (a page may modify them); the evaluators are ``st.cache_resource``
(shared, read-only).

The run's model is one object shared by every browser session. Every computation that
touches it runs under ``MODEL_LOCK`` (see ``_locked``): a Captum method hooks its modules
for the length of a call, and the hook would otherwise fire inside another session's
forward pass. A ``MaskedEvaluator`` scores masks through its own copy of the model, so only
its construction needs the lock.

Retrieval (``evaluation``, ``embeddings``, ``ranks``) scores the run as trained, a seed ensemble
as one model; the interpretation analyses look inside one network, a seed ensemble's first member
(``saved_runs.load_interpreted_run``; ``run_guard.require_run`` says so on every page).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import streamlit as st
import torch

from dina_core.evaluate.model_eval import evaluate_run
from dina_core.evaluate.tasks import tier_task
from dina_core.interpret import alignment, analyses, ground_truth, probes
from dina_core.interpret.masked_eval import MaskedEvaluator
from dina_core.model import DinaModel
from dina_core.runs.run import Run

from . import analysis
from .saved_runs import load_interpreted_run, load_run, prepared
from .state import FileKey, load_data

MODEL_LOCK = threading.RLock()


@contextlib.contextmanager
def _locked(run_key: FileKey, interpret: bool = True) -> Iterator[Run]:
    """The shared run (``interpret``: the network interpretation looks inside), with ``MODEL_LOCK`` held.

    Fetch every other cached input before entering: a cached analysis called inside could
    wait for another session that is computing it and waits, in turn, for this lock.
    """
    run = load_interpreted_run(run_key) if interpret else load_run(run_key)
    with MODEL_LOCK:
        yield run


@st.cache_data(max_entries=8, show_spinner="Scoring the test set…")
def evaluation(run_key: FileKey, data_key: FileKey) -> list[dict]:
    data = load_data(data_key)
    with _locked(run_key, interpret=False) as run:
        return evaluate_run(run, data)


@st.cache_data(max_entries=16, show_spinner="Encoding the test set…")
def embeddings(run_key: FileKey, data_key: FileKey, level: str | None) -> dict:
    prep = prepared(run_key, data_key)
    with _locked(run_key, interpret=False) as run:
        return analysis.embedding_arrays(run, prep, level)


@st.cache_data(max_entries=64, show_spinner=False)
def ranks(run_key: FileKey, data_key: FileKey, level: str | None, direction: str, responses: str) -> np.ndarray:
    return analysis.task_ranks(embeddings(run_key, data_key, level), direction, responses)


@st.cache_data(max_entries=16, show_spinner="Computing the noise ceiling…")
def ceiling_curves(run_key: FileKey, data_key: FileKey) -> dict:
    """``analysis.ceiling_curves`` of the test tier as the run normalises it (no model involved)."""
    return analysis.ceiling_curves(prepared(run_key, data_key))


def levels(run_key: FileKey) -> list[str]:
    return list(load_run(run_key).model.levels)


def is_dina(run_key: FileKey) -> bool:
    return isinstance(load_interpreted_run(run_key).model, DinaModel)


# -- feature maps -----------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner="Computing alignment maps…")
def stage_maps(run_key: FileKey, data_key: FileKey, stage: str) -> dict:
    """``analyses.stage_maps`` of the test pairs at ``stage``."""
    prep = prepared(run_key, data_key)
    with _locked(run_key) as run:
        return analyses.stage_maps(run.model, prep, stage)


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
    with _locked(run_key) as run:
        maps = attribution.spatial_attribution(run.model, images[index], responses[index], method, **dict(params))
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
    data, prep = load_data(data_key), prepared(run_key, data_key)
    with _locked(run_key) as run:
        return probes.structure_probe(run, data, manipulation, responses=responses, prepared=prep)


@st.cache_data(max_entries=32, show_spinner=False)
def manipulated(data_key: FileKey, run_key: FileKey, manipulation: str, strength: float, count: int) -> np.ndarray:
    """The first ``count`` test images under ``manipulation`` at ``strength`` (grey levels)."""
    images = load_data(data_key).images[tier_task(prepared(run_key, data_key), "test").candidates[:count]]
    return probes.MANIPULATIONS[manipulation].apply(images, float(strength), np.random.default_rng(0))


# -- neurons ----------------------------------------------------------------------------------
@st.cache_resource(max_entries=8, show_spinner="Preparing fast pruning…")
def evaluator(run_key: FileKey, data_key: FileKey, responses: str = "averaged") -> MaskedEvaluator:
    """Retrieval under neuron masks (shared, read-only; scores through its own copy of the model)."""
    data, prep = load_data(data_key), prepared(run_key, data_key)
    with _locked(run_key) as run:
        return MaskedEvaluator(run, data, responses, prepared=prep)


@st.cache_data(max_entries=16, show_spinner="Ranking neurons (integrated gradients)…")
def rankings(run_key: FileKey, data_key: FileKey, tier: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``analyses.neuron_rankings``: rankings by name and, by name, why a ranking is unavailable."""
    data, prep = load_data(data_key), prepared(run_key, data_key)
    with _locked(run_key) as run:
        return analyses.neuron_rankings(run, data, tier=tier, prepared=prep)


@st.cache_data(max_entries=16, show_spinner="Computing pruning curves…")
def pruning(run_key: FileKey, data_key: FileKey, tier: str, responses: str) -> dict[str, list[dict]]:
    """``analyses.pruning_curves`` of the rankings made on ``tier``, scored with ``responses`` queries."""
    ranked, _ = rankings(run_key, data_key, tier)
    return analyses.pruning_curves(evaluator(run_key, data_key, responses), ranked)


@st.cache_data(max_entries=16, show_spinner="Ablating neuron pairs…")
def synergy(run_key: FileKey, data_key: FileKey, tier: str, m: int, metric: str) -> dict:
    """``analyses.neuron_interactions`` of the top-m neurons by importance (ranked on ``tier``)."""
    ranked, _ = rankings(run_key, data_key, tier)
    ev, prep = evaluator(run_key, data_key), prepared(run_key, data_key)
    return analyses.neuron_interactions(load_interpreted_run(run_key), load_data(data_key), ev, ranked["importance"],
                                        m=m,
                                        metric=metric, prepared=prep)
