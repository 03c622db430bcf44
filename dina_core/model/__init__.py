"""Retrieval models: DINA (feature-map alignment) and the linear two-tower baseline.

Modules: ``config`` (:class:`ModelConfig`), ``image_tower``, ``neural_tower``, ``dina``
(:class:`DinaModel`), ``linear`` (:class:`LinearTwoTower`), ``two_tower`` (the shared
``encode_image`` / ``encode_response`` interface), ``inference`` (batched gradient-free
encoding), ``device`` (device names resolved, CUDA checked).

``build_model(kind, config, n_neurons, image_shape)`` rebuilds either from the plain
dict stored in a checkpoint, so checkpoints never pickle objects.
"""

from __future__ import annotations

from .config import GLOBAL, LINEAR, ModelConfig, saved_config
from .dina import DinaModel
from .linear import LinearConfig, LinearTwoTower
from .two_tower import TwoTowerModel

MODEL_KINDS = {"dina": (DinaModel, ModelConfig), "linear": (LinearTwoTower, LinearConfig)}


def build_model(kind: str, config: dict, n_neurons: int, image_shape: tuple[int, int],
                saved: bool = False) -> TwoTowerModel:
    """Construct a model of ``kind`` ('dina' | 'linear') from its config dict.

    ``saved=True`` for a dict read from a checkpoint: fields it predates take the values that
    rebuild the model it was trained as (``config.LEGACY``), not today's defaults.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    model_cls, config_cls = MODEL_KINDS[kind]
    if saved and kind == "dina":
        config = saved_config(config)
    return model_cls(config_cls.from_dict(config), n_neurons, image_shape)


__all__ = ["GLOBAL", "LINEAR", "DinaModel", "LinearConfig", "LinearTwoTower", "ModelConfig", "TwoTowerModel",
           "MODEL_KINDS", "build_model"]
