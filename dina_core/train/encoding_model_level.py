"""DINA's encoding-model level, fitted first and on its own, exactly as the benchmark's encoding baseline is fitted.

The encoding model (``evaluate.encoding.fit_encoding``: Poisson loss, early stopping on validation correlation)
is fitted on the recording with the run's seed, device and validation split, so it is the very model of the
benchmark's ``encoding`` row (which may hand its fit over instead of fitting twice); its core and readout are
copied into the DINA model's level (``model.encoding_model_level``), which is frozen from then on. The maps then
train with early stopping on their own score (``linear_level.maps_scored_alone``), and validation afterwards
weighs every level's score (``level_weights``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ..data.format import DinaData
from ..errors import DinaError
from ..evaluate.encoding import EncodingFit, fit_encoding
from ..evaluate.encoding_data import EncodingData, prepare_encoding
from ..evaluate.model_eval import model_tier_embeddings
from ..evaluate.retrieval import topk_accuracy
from ..model.config import ENCODING_MODEL
from ..model.dina import DinaModel
from ..model.encoding import IDENTIFICATION_RULES
from ..model.encoding_model_level import ARCHITECTURE
from ..runs.config import TrainConfig
from ..runs.prepare import PreparedData, Preprocessing
from .level_weights import set_level_weights
from .loop import StepInfo
from .step import pairing

STAGE = "encoding model"  # StepInfo.stage of this fit's steps

_TRAINING_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "patience", "identification", "behavior_gain",
                    "readout_l1", "init_mu_range", "init_sigma")  # EncodingConfig fields that leave shapes alone


def has_encoding_model_level(model) -> bool:
    """True for a DINA model that holds the encoding-model level."""
    return isinstance(model, DinaModel) and model.encoding_model is not None


def same_architecture(fit: EncodingFit) -> bool:
    """Whether ``fit``'s model has the level's architecture (``ARCHITECTURE``), so its weights can be copied in."""
    ours = {k: v for k, v in ARCHITECTURE.to_dict().items() if k not in _TRAINING_FIELDS}
    return all(fit.config.to_dict()[k] == v for k, v in ours.items())


def shuffle_train_pairs(data: EncodingData, config: TrainConfig) -> None:
    """Permute the images of ``data``'s train trials among them, in place, as ``step.pairing`` permutes DINA's
    (the shuffled-pairing null's encoding model: no image predicts its trial's response; validation and test keep
    their true pairs)."""
    train = torch.as_tensor(data.tier_trials["train"], device=data.image_index.device)
    data.image_index = data.image_index.clone()
    data.image_index[train] = pairing(data, train, config)


def check_fit_matches(fit: EncodingFit, prepared: PreparedData) -> None:
    """Refuse a handed-over fit of another split or neuron count than this run's (it would not be the run's own)."""
    same_split = all(np.array_equal(np.sort(fit.data.tier_trials[t]), np.sort(prepared.tier_trials[t]))
                     for t in ("train", "validation", "test"))
    if not same_split or fit.data.responses.shape[1] != prepared.n_neurons or not same_architecture(fit):
        raise DinaError("the encoding model handed to this training was fitted on another split, another neuron "
                        "count or another architecture than the run's own; fit it with the run's seed and "
                        "validation fraction, or let the training fit it")


def fit_encoding_model_level(model: DinaModel, data: DinaData, prepared: PreparedData, preprocessing: Preprocessing,
                             config: TrainConfig, *, fitted: EncodingFit | None = None,
                             should_stop: Callable[[], bool] | None = None,
                             on_step: Callable[[StepInfo], None] | None = None) -> dict | None:
    """Fit the encoding model (or take ``fitted``), copy it into ``model``'s level; the level stays frozen.

    Args:
        model: a DINA model with the encoding-model level, on the training device.
        data: the recording (``fit_encoding`` prepares its own view of it: responses over their train std).
        prepared: the run's prepared recording (its split is the fit's).
        preprocessing: the run's, fitted on the train tier: its normaliser gives the response offset.
        config: the run's training config: seed, device, bf16, validation fraction, ``epochs`` (a cap, as the
            benchmark's encoding row has it) and ``shuffle_pairs`` (the null: the encoding model learns from
            permuted pairs too, ``shuffle_train_pairs``).
        fitted: an encoding fit of this recording on the run's split (the benchmark's encoding row); None fits one.
        should_stop, on_step: polled and called after every step, as in ``fit`` (``StepInfo.stage`` is ``STAGE``).

    Returns:
        What the run's metadata records ({'epochs', 'best_epoch', 'best_val_correlation', 'seconds', 'reused'}),
        or None when stopped before the first epoch finished (nothing copied).
    """
    started, reused = time.perf_counter(), fitted is not None
    if not reused:
        report = (lambda step: on_step(StepInfo(**vars(step), stage=STAGE))) if on_step is not None else None
        device = prepared.images.device
        encoding_data = prepare_encoding(data, device, config.validation_fraction, config.seed)
        if config.shuffle_pairs:
            shuffle_train_pairs(encoding_data, config)
        # the fit seeds and draws on its own: the maps then train from the random state they would have had
        # without it, so a run that is handed the fit (the benchmark's) trains the same model as one that fits it
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            fitted = fit_encoding(encoding_data, ARCHITECTURE, seed=config.seed, amp=config.amp,
                                  epochs=config.epochs, on_step=report, should_stop=should_stop)
    check_fit_matches(fitted, prepared)
    if fitted.best_epoch < 0:
        return None
    normalizer = preprocessing.response_normalizer
    train_images = np.unique(prepared.image_index[torch.as_tensor(prepared.tier_trials["train"])].cpu().numpy())
    model.encoding_model.load_fitted(fitted.model, normalizer.mean / normalizer.std,
                                     prepared.images[torch.as_tensor(train_images, device=prepared.images.device)])
    rule, top1 = choose_rule(model, prepared)
    return {"epochs": len(fitted.history), "best_epoch": fitted.best_epoch,
            "best_val_correlation": float(fitted.best_val_correlation), "interrupted": fitted.interrupted,
            "rule": rule, "validation_top1": top1, "seconds": time.perf_counter() - started, "reused": reused}


def choose_rule(model: DinaModel, prepared: PreparedData) -> tuple[str, dict[str, float]]:
    """Set the level's rule: ``config.encoding_model_rule``, or with 'auto' the one whose level alone has the higher
    single-trial neural -> image validation top-1 (a tie: correlation, the classic). Returns (rule, {rule: top-1})."""
    top1 = {}
    for rule in IDENTIFICATION_RULES:
        model.encoding_model.set_rule(rule)
        top1[rule] = _validation_top1(model, prepared, "neural_to_image", ENCODING_MODEL)
    wanted = model.config.encoding_model_rule
    rule = wanted if wanted != "auto" else max(IDENTIFICATION_RULES, key=lambda r: top1[r])  # max keeps the first
    model.encoding_model.set_rule(rule)
    return rule, top1


def set_rule_and_level_weights(model: DinaModel, prepared: PreparedData) -> dict:
    """Choose the level's rule and every level's retrieval weights together, on validation.

    A likelihood's cosine spreads on another scale than a correlation's, so the rule that wins alone may
    combine worse with the maps: each rule gets its own weight search (``level_weights.set_level_weights``,
    from the same starting weights), and the rule whose chosen weights score the higher validation top-1 is
    kept. A tie goes to the higher single-trial image -> neural validation top-1 (the likelihood ranks the
    responses to one image less well than the correlation does), then to the rule chosen alone (``choose_rule``).

    Returns:
        ``set_level_weights``'s record for the kept rule, plus 'per_rule': {rule: its validation top-1} and
        'per_rule_image_to_neural': {rule: its single-trial image -> neural validation top-1}.
    """
    start, alone = dict(model.level_weights), model.encoding_model.rule_name
    tried, reverse = {}, {}
    for rule in sorted(IDENTIFICATION_RULES, key=lambda r: r != alone):  # the rule chosen alone first: wins ties
        model.level_weights = dict(start)
        model.encoding_model.set_rule(rule)
        tried[rule] = set_level_weights(model, prepared)
        reverse[rule] = _validation_top1(model, prepared, "image_to_neural")
    best = max(tried, key=lambda r: (tried[r]["validation_top1"], reverse[r]))  # max keeps the first of equals
    model.encoding_model.set_rule(best)
    model.level_weights = dict(zip(model.levels, tried[best]["chosen"]))
    model.config.retrieval_weights = tuple(tried[best]["chosen"])
    return {**tried[best], "per_rule": {r: t["validation_top1"] for r, t in tried.items()},
            "per_rule_image_to_neural": reverse}


def _validation_top1(model: DinaModel, prepared: PreparedData, direction: str, level: str | None = None) -> float:
    """Single-trial top-1 in ``direction`` on the validation tier, of ``level`` (None: the combined score)."""
    embeddings = model_tier_embeddings(model, prepared, level, tier="validation")
    return topk_accuracy(embeddings.ranks(direction, "single_trial"), 1)
