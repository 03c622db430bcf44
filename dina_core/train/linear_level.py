"""DINA's linear level, fitted first and on its own, exactly as the linear two-tower baseline is fitted.

A linear read-out of pixels and responses learns in a few epochs and then overfits, while the
image tower's maps need many more: trained jointly, early stopping on the combined score ends
training when the linear level peaks, before the maps have learnt (measured on the simulator:
single-trial validation top-1 0.387 -> 0.324). So the linear level is fitted first as a
:class:`~dina_core.model.linear.LinearTwoTower` with the linear kind's training defaults and its
own early stopping, copied into the DINA model and frozen; the maps then train with early stopping
on their own validation score (``maps_scored_alone``: scored with the fitted linear level, an
untrained tower adds only noise to a good linear score, so the first epoch would win), and
afterwards validation decides how much each level counts in the retrieval score
(``level_weights``). With the maps' retrieval weights at 0, DINA scores exactly as that fitted
linear model does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from torch import nn

from ..model.config import FITTED_FIRST, LINEAR
from ..model.dina import DinaModel
from ..model.linear import LinearConfig, LinearTwoTower
from ..model.two_tower import TwoTowerModel
from ..runs.config import SHIFT_DEFAULTS, TrainConfig
from ..runs.prepare import PreparedData
from .loop import FitResult, StepInfo, fit


def has_linear_level(model: TwoTowerModel) -> bool:
    """True for a DINA model with a linear level and a trained level beside it (a linear level alone trains as
    it is)."""
    return (isinstance(model, DinaModel) and model.image_linear is not None
            and any(lv not in FITTED_FIRST for lv in model.levels))


def linear_level_parameters(model: DinaModel) -> list[nn.Parameter]:
    """The parameters of ``model``'s linear level: its image map, its response map and its temperature."""
    return [*model.image_linear.parameters(), *model.neural_tower.linear_head.parameters(),
            model.logit_scale[LINEAR]]


def fit_linear_level(model: DinaModel, data: PreparedData, config: TrainConfig,
                     should_stop: Callable[[], bool] | None = None,
                     on_step: Callable[[StepInfo], None] | None = None) -> FitResult:
    """Fit ``model``'s linear level as a linear two-tower on ``data``, copy it in and freeze it.

    Args:
        model: a DINA model with a linear level, on the device of ``data``.
        data: the prepared recording (its validation tier drives this fit's early stopping).
        config: DINA's training config; the linear fit uses it with the linear kind's shift default.
        should_stop: polled every step, as in ``fit``.
        on_step: called after every step of this fit with its StepInfo, as in ``fit``: ``step`` counts
            this fit's steps from 1 and ``total_steps`` is this fit's, so the maps' fit that follows
            counts from 1 again.

    Returns:
        The linear fit's FitResult (``interrupted`` when stopped; the level is then left untrained).
    """
    linear = LinearTwoTower(LinearConfig(embed_dim=model.config.linear_dim, neuron_dropout=model.config.neuron_dropout,
                                         init_temperature=model.config.init_temperature),
                            model.n_neurons, model.image_shape).to(next(model.parameters()).device)
    result = fit(linear, data, replace(config, shift_pixels=SHIFT_DEFAULTS["linear"]), on_step=on_step, stage="linear level",
                 should_stop=should_stop)
    if not result.interrupted:
        model.image_linear.load_state_dict(linear.image_linear.state_dict())
        model.neural_tower.linear_head.load_state_dict(linear.response_linear.state_dict())
        model.logit_scale[LINEAR].data.copy_(linear.logit_scale["global"].data)
        freeze_linear_level(model)
    return result


def freeze_linear_level(model: DinaModel) -> None:
    """Stop training the linear level: ``fit``'s optimiser leaves frozen parameters out, and its loss weight is 0.

    Its retrieval weight (``level_weights``) stays: the maps train beside it, scored with it."""
    for p in linear_level_parameters(model):
        p.requires_grad_(False)
    model.loss_weights[LINEAR] = 0.0


@contextmanager
def maps_scored_alone(model: DinaModel) -> Iterator[None]:
    """Within the block ``model``'s retrieval score leaves the levels fitted first out (the linear and the
    encoding-model level: weight 0); restored on exit."""
    weights = {lv: model.level_weights[lv] for lv in FITTED_FIRST if lv in model.level_weights}
    model.level_weights.update(dict.fromkeys(weights, 0.0))
    try:
        yield
    finally:
        model.level_weights.update(weights)
