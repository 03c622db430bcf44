"""Train a neural tower against fixed maps and score it on the test tier: one row of the validation table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..evaluate.model_eval import model_tier_embeddings
from ..evaluate.retrieval import bootstrap_ci
from ..evaluate.tasks import score_tasks, tier_task
from ..model.feature_alignment import FeatureAlignmentModel
from ..runs.config import TrainConfig
from ..runs.prepare import PreparedData
from ..train.loop import StepInfo, fit


@dataclass
class AlignedLevel:
    """A fitted alignment: the model, the packed maps it was trained on and its test-tier rows."""

    model: FeatureAlignmentModel
    features: torch.Tensor  # (N_images, feature_size) packed maps of every stimulus
    tasks: list[dict]  # ``score_tasks`` rows of the test tier
    hits: np.ndarray  # (T,) 1.0 where a single test trial retrieves its own image first (neural -> image)
    groups: np.ndarray  # (T,) the image of each of those trials: what a paired bootstrap resamples
    best_epoch: int
    validation_top1: float
    interrupted: bool = False


def pack(maps: dict[str, np.ndarray]) -> torch.Tensor:
    """{level: (N, K, gh, gw)} -> (N, sum K*gh*gw) float32, levels in the dict's order."""
    return torch.from_numpy(np.concatenate([m.reshape(len(m), -1) for m in maps.values()], axis=1)).float()


def fit_alignment(base: PreparedData, maps: dict[str, np.ndarray], train_config: TrainConfig, *,
                  stage: str = "train", on_step: Callable[[StepInfo], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> AlignedLevel:
    """Fit a :class:`FeatureAlignmentModel` on the train tier of ``base`` against ``maps`` and score the test tier.

    Args:
        base: the prepared recording (its ``images`` are ignored: the maps take their place).
        maps: {level: (N_images, K, gh, gw)} reduced maps, rows indexed like ``base``'s images.
        train_config: DINA's training settings (shift augmentation off: the maps are fixed).
    """
    features = pack(maps)
    prepared = replace(base, images=features.to(base.responses.device))
    with torch.random.fork_rng():
        torch.manual_seed(train_config.seed)
        model = FeatureAlignmentModel(base.n_neurons, {k: tuple(m.shape[1:]) for k, m in maps.items()})
    model.to(base.responses.device)
    result = fit(model, prepared, replace(train_config, shift_pixels=0), on_step=on_step, should_stop=should_stop,
                 stage=stage)
    embeddings = model_tier_embeddings(model, prepared, None, None, "test")
    hits = (embeddings.ranks("neural_to_image", "single_trial", seed=train_config.seed) == 0).astype(np.float64)
    return AlignedLevel(model, features, score_tasks(embeddings, seed=train_config.seed), hits,
                        np.asarray(embeddings.groups("neural_to_image", "single_trial")), result.best_epoch,
                        result.best_val_top1, result.interrupted)


def paired_difference(a: AlignedLevel | dict, b: AlignedLevel | dict, seed: int = 0) -> dict:
    """Single-trial top-1 of ``a`` minus ``b`` on the same test trials, with a 95% bootstrap CI over images.

    ``a`` and ``b``: fitted levels, or saved ones' payloads (``load_level``), which hold 'test_hits' and 'test_groups'.
    """
    def hits(x):
        return (x.hits, x.groups) if isinstance(x, AlignedLevel) else (x["test_hits"].numpy(), x["test_groups"].numpy())
    (ha, ga), (hb, gb) = hits(a), hits(b)
    if ha.shape != hb.shape or not np.array_equal(ga, gb):
        raise ValueError("paired difference of levels scored on other test trials")
    diff = ha - hb
    lo, hi = bootstrap_ci(diff, seed=seed, groups=ga)
    return {"single_trial": float(diff.mean()), "ci95": [float(lo), float(hi)]}


def neural_to_image(tasks: list[dict]) -> dict:
    """The table's fields from ``score_tasks`` rows: neural->image top-1 (single trial, averaged) with their CIs,
    and image->neural top-1 beside them."""
    def task(direction, responses):
        return next(r for r in tasks if r["direction"] == direction and r["responses"] == responses)
    single, averaged = task("neural_to_image", "single_trial"), task("neural_to_image", "averaged")
    return {"single_trial": single["top1"], "averaged": averaged["top1"],
            "ci95_single_trial": list(single["ci95_top1"]), "ci95_averaged": list(averaged["ci95_top1"]),
            "image_to_neural": {"single_trial": task("image_to_neural", "single_trial")["top1"],
                                "averaged": task("image_to_neural", "averaged")["top1"]},
            "n_candidates": single["n_candidates"]}


def with_fraction(row: dict, ceiling: dict | None) -> dict:
    """``row`` with ``fraction_of_ceiling`` (single-trial top-1 over the ceiling's) and its averaged twin."""
    def frac(key):
        bound = (ceiling or {}).get(key)
        return row[key] / bound if bound else None
    return {**row, "fraction_of_ceiling": frac("single_trial"), "fraction_of_ceiling_averaged": frac("averaged")}


def save_level(path: Path, fitted: AlignedLevel, base: PreparedData) -> None:
    """What the app needs to draw the level's alignment map: weights, map shapes and the test images' maps."""
    candidates = tier_task(base, "test").candidates
    payload = {"state": {k: v.detach().cpu() for k, v in fitted.model.state_dict().items()},
               "map_shapes": {k: list(s) for k, s in fitted.model.map_shapes.items()},
               "test_images": torch.as_tensor(np.asarray(candidates), dtype=torch.int64),
               "test_features": fitted.features[torch.as_tensor(np.asarray(candidates))].clone(),
               "test_hits": torch.from_numpy(fitted.hits), "test_groups": torch.from_numpy(fitted.groups)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_level(path: str | Path) -> tuple[FeatureAlignmentModel, dict]:
    """A saved level (``weights_only=True``) -> (model in eval mode, payload)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    shapes = {k: tuple(int(v) for v in s) for k, s in payload["map_shapes"].items()}
    n_neurons = int(payload["state"]["neural_tower.trunk.0.weight"].shape[1])
    model = FeatureAlignmentModel(n_neurons, shapes)
    model.load_state_dict(payload["state"])
    return model.eval(), payload


def row_slug(index: int, label: str, layer: str) -> str:
    """File name of a row's saved level: its position and a readable, safe form of its network and layer."""
    text = "".join(c if c.isalnum() else "_" for c in f"{layer}_{label}")[:60]
    return f"{index:02d}_{text}.pt"
