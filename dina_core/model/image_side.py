"""A DINA model's image side, the part several recordings share: the image tower and the image-side projections.

A DINA model splits into what sees only the stimulus (the image tower, its 1x1 latent projections and its global
head) and what belongs to one recording (the neural tower over its neurons, the neural projections, the temperatures,
the linear level over its responses, the encoding levels' per-neuron readouts). Recordings of other animals shown
the same kind of images can share the first, so their neural towers learn to predict maps in one feature space: a
joint model over K recordings (``train.joint``) holds one image side in all K models, and a new recording's model
can start from a trained one's (``copy_image_side``), its image side frozen or fine-tuned.
"""

from __future__ import annotations

from torch import nn

from .dina import DinaModel

def image_side(model: DinaModel) -> dict[str, nn.Module]:
    """``model``'s image-side modules by attribute name (``image_global`` only when the model has a global level)."""
    return {name: getattr(model, name) for name in DinaModel.IMAGE_SIDE if getattr(model, name) is not None}


def check_same_image_side(models: list[DinaModel], names: list[str]) -> None:
    """Raise ValueError unless every model has the first one's image side (config fields and image size).

    Args:
        names: one label per model, for the message (e.g. the recordings' names).
    """
    first = models[0]
    for model, name in zip(models[1:], names[1:]):
        if model.image_shape != first.image_shape:
            raise ValueError(f"{name}: images of {model.image_shape[0]} x {model.image_shape[1]} pixels, "
                             f"{names[0]}: {first.image_shape[0]} x {first.image_shape[1]}; one image tower needs "
                             "one image size (resize one recording's stimuli, e.g. at import)")
        if _side_shapes(model) != _side_shapes(first):
            raise ValueError(f"{name}: its image tower is not {names[0]}'s (another architecture or size)")


def _side_shapes(model: DinaModel) -> dict[str, tuple[int, ...]]:
    return {f"{name}.{k}": tuple(v.shape) for name, module in image_side(model).items()
            for k, v in module.state_dict().items()}


def share_image_side(models: list[DinaModel]) -> None:
    """Make every model use the first one's image-side modules (the same objects: one set of weights)."""
    for model in models[1:]:
        for name, module in image_side(models[0]).items():
            setattr(model, name, module)


def copy_image_side(source: DinaModel, target: DinaModel, freeze: bool) -> None:
    """Copy ``source``'s image-side weights into ``target`` (same architecture and image size); ``freeze``: its
    image side then never trains (no gradient, and batch norm keeps the source's statistics: eval mode).

    Raises:
        ValueError: the two image sides differ (``check_same_image_side``).
    """
    check_same_image_side([source, target], ["the source model", "the new recording's model"])
    target_side = image_side(target)
    for name, module in image_side(source).items():
        target_side[name].load_state_dict(module.state_dict())
    target.image_side_frozen = bool(freeze)
    for module in target_side.values():
        module.requires_grad_(not freeze)
