"""The stages of one recording's training that come before and after the maps' fit, shared by a single run
(``run.train_run``) and a joint run over several recordings (``joint.train_joint``).

Before: the levels fitted first and frozen (the encoding-model level, then the linear level), each on its own
recording. After: validation chooses the levels' retrieval weights (and the encoding-model rule), and the run's
metadata records the scores with and without that choice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..data.format import DinaData
from ..errors import DinaError
from ..evaluate.encoding import EncodingFit
from ..model.device import autocast
from ..model.two_tower import TwoTowerModel
from ..runs.config import TrainConfig
from ..runs.prepare import PreparedData, Preprocessing
from .encoding_model_level import fit_encoding_model_level, has_encoding_model_level, set_rule_and_level_weights
from .level_weights import set_level_weights
from .linear_level import fit_linear_level, freeze_linear_level, has_linear_level, maps_scored_alone
from .loop import FitResult, StepInfo
from .validation import validation_top1

FIRST_LEVEL_KEYS = ("linear_level", "encoding_model_level")  # metadata entries a resumed training's state keeps


class NothingTrainedError(DinaError):
    """Training ended (stopped by the user) before its first epoch finished: there is no model to save."""


def fit_first_levels(model: TwoTowerModel, data: DinaData, prepared: PreparedData, preprocessing: Preprocessing,
                     train_config: TrainConfig, metadata: dict, saved: dict | None, *, where: str,
                     encoding_fit: EncodingFit | None = None, should_stop: Callable[[], bool] | None = None,
                     on_step: Callable[[StepInfo], None] | None = None) -> None:
    """Fit and freeze ``model``'s levels that train before the maps, recording each in ``metadata``.

    Args:
        saved: a resumed training's state (its levels are in the state's weights, loaded later by the loop; only
            their metadata is taken from it, and the linear level is frozen); None: fitted here.
        where: names the run in errors.
        encoding_fit: the encoding model already fitted on this recording (see ``train_run``), or None.

    Raises:
        NothingTrainedError: stopped during a fit, before a model could be saved.
    """
    started = time.perf_counter()
    if has_encoding_model_level(model) and saved is not None:
        if isinstance(saved.get("encoding_model_level"), dict):
            metadata["encoding_model_level"] = saved["encoding_model_level"]
    elif has_encoding_model_level(model):
        fitted = fit_encoding_model_level(model, data, prepared, preprocessing, train_config, fitted=encoding_fit,
                                          should_stop=should_stop, on_step=on_step)
        if fitted is None:
            raise NothingTrainedError(f"{where}: stopped while fitting the encoding model, before its first epoch "
                                      "finished; no model was saved")
        metadata["encoding_model_level"] = fitted
    if has_linear_level(model) and saved is not None:
        freeze_linear_level(model)
        if isinstance(saved.get("linear_level"), dict):
            metadata["linear_level"] = saved["linear_level"]
    elif has_linear_level(model):
        linear = fit_linear_level(model, prepared, train_config, should_stop, on_step=on_step)
        if linear.interrupted:
            raise NothingTrainedError(f"{where}: stopped while fitting the linear level, before the first epoch "
                                      "of the maps; no model was saved")
        metadata["linear_level"] = {"epochs": len(linear.history), "best_epoch": linear.best_epoch,
                                    "best_val_top1": linear.best_val_top1, "seconds": time.perf_counter() - started}


def is_staged(model: TwoTowerModel) -> bool:
    """Whether ``model`` has levels fitted before its maps (the maps then train scored alone)."""
    return has_linear_level(model) or has_encoding_model_level(model)


@contextlib.contextmanager
def maps_alone(models: list[TwoTowerModel]) -> Iterator[None]:
    """Within the block every staged model of ``models`` scores its maps alone (``linear_level.maps_scored_alone``)."""
    with contextlib.ExitStack() as stack:
        for model in models:
            if is_staged(model):
                stack.enter_context(maps_scored_alone(model))
        yield


def finish_levels(model: TwoTowerModel, prepared: PreparedData, train_config: TrainConfig, device,
                  result: FitResult, metadata: dict, started: float) -> dict:
    """After the maps' fit: choose the level weights on validation (unless interrupted) and record the scores.

    Args:
        started: ``time.perf_counter()`` when the training began (its ``train_seconds``).

    Returns:
        The model's config as it now is (its chosen retrieval weights and rule included).
    """
    with autocast(device, train_config.amp):  # the trained weights' score: no level-weight search chose it
        saved_val_top1 = unselected_val_top1 = validation_top1(model, prepared)
    if train_config.tune_level_weights and len(model.levels) > 1 and not result.interrupted:
        with autocast(device, train_config.amp):
            if has_encoding_model_level(model) and model.config.encoding_model_rule == "auto":
                metadata["level_weights"] = set_rule_and_level_weights(model, prepared)  # the rule too
                metadata["encoding_model_level"]["rule"] = model.encoding_model.rule_name
            else:
                metadata["level_weights"] = set_level_weights(model, prepared)
            saved_val_top1 = validation_top1(model, prepared)  # the saved model's own: its chosen weights
    metadata.update(train_seconds=time.perf_counter() - started, best_epoch=result.best_epoch,
                    best_val_top1=saved_val_top1 if np.isfinite(saved_val_top1) else result.best_val_top1,
                    unselected_val_top1=(unselected_val_top1 if np.isfinite(unselected_val_top1)
                                         else result.best_val_top1),
                    early_stopping_val_top1=result.best_val_top1, stopped_early=result.stopped_early,
                    interrupted=result.interrupted)
    model.eval()  # a Run's model is applied, not trained (the level-weight choice may have left train mode)
    return model.config.to_dict()
