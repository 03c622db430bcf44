"""Glue between ``dina_core`` results and the app's figures (numpy in, numpy out; no Streamlit).

The retrieval tasks are ``dina_core.evaluate.tasks``'s (those ``evaluate_run`` scores), kept
as ranks so the app can draw top-k curves for every k and show individual queries.
"""

from __future__ import annotations

import json
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from dina_core.data.format import DinaData
from dina_core.data.reliability import oracle_correlation
from dina_core.paths import is_inside

if TYPE_CHECKING:  # torch loads only when a page needs a model
    from dina_core.runs.prepare import PreparedData
    from dina_core.runs.run import Run

DIRECTIONS = {"neural_to_image": "response → image", "image_to_neural": "image → response"}
RESPONSES = {"averaged": "repeat-averaged", "single_trial": "single trial"}


def embedding_arrays(run: "Run", prepared: "PreparedData", level: str | None) -> dict[str, np.ndarray]:
    """Test-tier embeddings at ``level`` (None: the combined retrieval score), as ``evaluate_run`` makes them.

    Returns:
        The fields of ``dina_core.evaluate.tasks.TierEmbeddings``: images (N, D) of the N distinct
        test images, trials (T, D), averaged (N, D), image_index (T,) stimulus rows, candidates (N,)
        stimulus rows, trial_target (T,) column of each trial's image; float32 / int64.
    """
    from dina_core.evaluate.model_eval import tier_embeddings

    return dict(vars(tier_embeddings(run, prepared, level)))


def task_ranks(emb: dict, direction: str, responses: str, seed: int = 0) -> np.ndarray:
    """0-based rank of the correct candidate for every query of one N-way task (0 = top-1)."""
    from dina_core.evaluate.tasks import TierEmbeddings

    return TierEmbeddings(**emb).ranks(direction, responses, seed=seed)


def topk_curve(ranks: np.ndarray, n_candidates: int) -> np.ndarray:
    """(N,) accuracy at k = 1..N: the fraction of queries whose correct candidate ranks within k."""
    counts = np.bincount(np.asarray(ranks), minlength=n_candidates)[:n_candidates]
    return np.cumsum(counts) / max(len(ranks), 1)


def ceiling_curves(prepared: "PreparedData") -> dict:
    """The noise ceiling's top-k curves on the test tier (``dina_core.evaluate.ceiling``; no model involved).

    Returns:
        {'curves': {(direction, responses): (N',) accuracy at k = 1..N'}, 'note': None}, N' the test images
        shown at least twice; or {'curves': {}, 'note': why there is no ceiling}.
    """
    from dina_core.evaluate.ceiling import ceiling_ranks
    from dina_core.evaluate.tasks import tier_task

    task = tier_task(prepared, "test")
    try:
        ranks = ceiling_ranks(task.responses.cpu().numpy(), task.image_index)
    except ValueError as exc:
        return {"curves": {}, "note": str(exc)}
    return {"curves": {key: topk_curve(r, n) for key, (r, _, n) in ranks.items()}, "note": None}


def similarity(emb: dict, responses: str, relative: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scores of responses (rows) against the N test images (columns) and each row's true column.

    Single-trial rows are sorted by image so that the correct pairs form a staircase diagonal.
    ``relative``: each row z-scored, since retrieval only compares the images within a row
    (a response that is similar to every image would otherwise paint a uniform stripe).
    """
    if responses == "averaged":
        scores, truth = emb["averaged"] @ emb["images"].T, np.arange(len(emb["candidates"]))
    else:
        order = np.argsort(emb["trial_target"], kind="stable")
        scores, truth = emb["trials"][order] @ emb["images"].T, emb["trial_target"][order]
    if relative:
        scores = (scores - scores.mean(1, keepdims=True)) / np.maximum(scores.std(1, keepdims=True), 1e-12)
    return scores, truth


def reliability_on_test(data: DinaData) -> np.ndarray | None:
    """(n_neurons,) oracle correlation over the test repeats, for description only (never selection)."""
    mask = data.tiers == "test"
    if not mask.any() or np.bincount(data.image_index[mask]).max() < 2:
        return None
    return oracle_correlation(data.responses, data.image_index, mask)


def raster(data: DinaData, order: np.ndarray | None, n_trials: int = 120, n_neurons: int = 200) -> dict:
    """Responses of the first test images' repeats (rows grouped by image) for the most reliable neurons.

    Returns: {'values' (rows, neurons) z-scored per neuron and clipped at +-4, 'images' (rows,) stimulus
    row of each trial, 'neurons' column ids, 'n_trials' test trials and 'n_neurons' neurons of the
    recording (what the shown subset is taken from)}.
    """
    test = np.flatnonzero(data.tiers == "test")
    if test.size == 0:
        test = np.arange(data.n_trials)
    total = test.size
    test = test[np.argsort(data.image_index[test], kind="stable")][:n_trials]
    neurons = (np.arange(data.n_neurons) if order is None else order)[:n_neurons]
    values = data.responses[np.ix_(test, neurons)]
    values = (values - values.mean(0)) / np.maximum(values.std(0), 1e-6)
    return {"values": np.clip(values, -4, 4), "images": data.image_index[test], "neurons": neurons,
            "n_trials": int(total), "n_neurons": int(data.n_neurons)}


def find_benchmark(runs_dir: Path, fingerprint: str) -> dict | None:
    """The newest benchmark folder (``metrics.json`` + model run folders) made on this recording.

    Returns: {'folder', 'metrics', 'runs': {model name: run folder}} or None. Files reached
    through a link that leads out of ``runs_dir`` are ignored.
    """
    found = []
    for metrics_file in list(runs_dir.glob("*/metrics.json")) + list(runs_dir.glob("*/*/metrics.json")):
        if not is_inside(runs_dir, metrics_file):
            continue
        folder = metrics_file.parent
        runs = {}
        for summary in folder.glob("*/run.json"):
            if not is_inside(runs_dir, summary.parent):
                continue
            try:
                meta = json.loads(summary.read_text()).get("metadata", {})
            except (OSError, ValueError):
                continue
            if meta.get("data_fingerprint") == fingerprint and (summary.parent / "model.pt").is_file():
                runs[summary.parent.name] = str(summary.parent)
        metrics = json.loads(metrics_file.read_text())
        if runs or folder.name.endswith(fingerprint):
            found.append((metrics_file.stat().st_mtime, {"folder": str(folder), "metrics": metrics, "runs": runs}))
    return max(found, key=lambda f: f[0])[1] if found else None


def keep_mask(ranking: np.ndarray | None, k: int, n: int, least_first: bool = False, seed: int = 0) -> np.ndarray:
    """(n,) float32 mask keeping ``k`` neurons: the best-ranked (or worst with ``least_first``);
    ``ranking=None`` keeps a fixed random draw of k."""
    from dina_core.interpret.neurons import order

    ranked = np.random.default_rng(seed).permutation(n) if ranking is None else order(ranking)
    mask = np.zeros(n, dtype=np.float32)
    mask[(ranked[::-1] if least_first else ranked)[:k]] = 1.0
    return mask


def query_topk(emb: dict, direction: str, responses: str, query: int, k: int, repeat: int = 0) -> dict:
    """The ``k`` best candidates of one query and where its correct candidate ranks, in the N-way task
    ``dina_core.evaluate.tasks`` scores (so a query's rank is one of the ranks behind the top-k curves).

    neural -> image: the query is a response (an averaged one per image, or a trial), the
    candidates the N test images. image -> neural: the query is test image ``query``, the
    candidates the N averaged responses, or on single trials the N trials of repeat set ``repeat``
    (one trial of every test image: ``repeats.repeat_sets``).

    Returns: {'scores' (k,), 'image_rows' (k,) stimulus row of each candidate (for display),
    'correct' (k,) bool, 'true_rank' 1-based rank of the correct candidate, 'n' candidates,
    'n_repeats' repeat sets (single-trial image -> neural; else 1)}.
    """
    from dina_core.evaluate.repeats import repeat_sets

    averaged, n_repeats = responses == "averaged", 1
    if direction == "neural_to_image":
        q = emb["averaged" if averaged else "trials"][query]
        candidates, shown = emb["images"], emb["candidates"]
        correct = np.arange(len(candidates)) == (query if averaged else emb["trial_target"][query])
    else:
        q, shown = emb["images"][query], emb["candidates"]
        if averaged:
            candidates = emb["averaged"]
        else:
            sets = repeat_sets(emb["image_index"])  # the seed evaluate uses (0)
            n_repeats = len(sets)
            candidates = emb["trials"][sets[repeat % n_repeats]]
        correct = np.arange(len(candidates)) == query
    scores = candidates @ q
    ranked = np.argsort(-scores, kind="stable")
    best = scores[correct].max()
    return {"scores": scores[ranked[:k]], "image_rows": shown[ranked[:k]], "correct": correct[ranked[:k]],
            "true_rank": int((scores[~correct] >= best).sum()) + 1, "n": len(candidates), "n_repeats": n_repeats}
