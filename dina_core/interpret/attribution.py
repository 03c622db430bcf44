"""Captum attributions of a pair's similarity to image pixels and to neurons.

Every method follows Captum's pattern: build it with ``(forward_func[, layer])`` and
call ``.attribute(inputs, baselines=..., additional_forward_args=...)``. The forward
functions (``similarity_forward``, ``margin_forward``, ``response_forward``) are small
closures over the model, in :mod:`dina_core.interpret.forwards`.

Calls run with the model in eval mode (restored afterwards) inside ``hooks_removed``,
which deletes any module hook added during the call, even when an attribution raises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from captum.attr import (GradientShap, InputXGradient, IntegratedGradients, LayerAttribution, LayerGradCam,
                         Occlusion, Saliency)
from scipy.ndimage import gaussian_filter

from ..errors import DinaError
from ..model import LINEAR, TwoTowerModel
from ..model.config import ENCODING, ENCODING_MODEL
from ..model.inference import eval_mode
from .forwards import hooks_removed, margin_forward, response_forward, similarity_forward

SPATIAL_METHODS = ("integrated_gradients", "saliency", "gradient_shap", "occlusion", "grad_cam")
NEURON_METHODS = {"integrated_gradients": IntegratedGradients, "saliency": Saliency,
                  "input_x_gradient": InputXGradient}
TARGETS = ("similarity", "margin")
BASELINES = ("mean_grey", "blurred")
_USES_BASELINE = ("integrated_gradients", "occlusion", "gradient_shap")
# Occluded copies per forward pass: one per pass is far slower on CPU (bench/results/design_notes_cpu.md).
OCCLUSION_PER_EVAL = 32
SHAP_NOISE_SD = 0.1  # GradientShap's input noise, in normalised pixel units (pixel sd is 1)


def make_baseline(images: torch.Tensor, kind: str = "mean_grey", blur_sigma: float = 4.0) -> torch.Tensor:
    """Reference images for path and occlusion methods.

    Args:
        images: (B, 1, H, W) normalised stimuli.
        kind: 'mean_grey': zeros, i.e. the train images' mean grey level after normalisation;
            'blurred': each image Gaussian-blurred with sd ``blur_sigma`` pixels, which keeps
            its coarse luminance but removes the edges and textures V1 responds to.

    Returns:
        (B, 1, H, W) tensor on the images' device and dtype.
    """
    if kind == "mean_grey":
        return torch.zeros_like(images)
    if kind == "blurred":
        blurred = gaussian_filter(images.detach().cpu().numpy(), sigma=(0, 0, blur_sigma, blur_sigma), mode="nearest")
        return torch.from_numpy(blurred).to(images.device, images.dtype)
    raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")


def _check_choice(value: str, choices, what: str) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {tuple(choices)}, got {value!r}")


def spatial_attribution(model: TwoTowerModel, images: torch.Tensor, responses: torch.Tensor, method: str, *,
                        stage: str | None = None, target: str = "similarity", reduce: str = "mean",
                        baseline: str = "mean_grey", blur_sigma: float = 4.0, n_steps: int = 32,
                        n_samples: int = 16, window: tuple[int, int] = (6, 6), stride: tuple[int, int] = (3, 3),
                        layer: str | None = None, batch_size: int = 16, seed: int = 0) -> np.ndarray:
    """Attribute each pair's similarity (or margin) to the image's pixels.

    Args:
        model: a trained two-tower model.
        images: (B, 1, H, W) normalised stimuli.
        responses: (B, n_neurons) normalised responses, row i paired with image i. With
            ``target='margin'`` all B rows are each image's candidates.
        method: 'integrated_gradients' | 'saliency' (signed gradient) | 'gradient_shap' |
            'occlusion' | 'grad_cam' (ReLU'd LayerGradCam at ``layer``, bilinearly upsampled).
        stage: level whose similarity is explained; None for the combined retrieval score.
        target: 'similarity' or 'margin' (true pair minus the ``reduce`` of the others).
        reduce: 'mean' or 'max', for ``target='margin'``.
        baseline: 'mean_grey' or 'blurred' (see ``make_baseline``); used by integrated
            gradients, occlusion and GradientShap (whose reference distribution is the
            baselines of all B images), ignored by saliency and grad_cam.
        blur_sigma: sd in pixels of the blurred baseline.
        n_steps: integration steps of integrated gradients.
        n_samples: random references per image for GradientShap.
        window: occlusion patch (height, width) in pixels.
        stride: occlusion step (rows, columns) in pixels.
        layer: image-tower module for grad_cam ('stage1', ...); default ``stage``, else the
            model's deepest aligned stage.
        batch_size: images per ``attribute`` call.
        seed: seeds GradientShap's sampling (the global RNG is left untouched).

    Returns:
        (B, H, W) float32 attributions, in similarity units per pixel (grad_cam: per-pixel
        relevance on the layer's scale). For integrated gradients each map sums to
        f(image) - f(baseline) up to the integration error.
    """
    _check_choice(method, SPATIAL_METHODS, "method")
    _check_choice(target, TARGETS, "target")
    _check_choice(baseline, BASELINES, "baseline")
    device = next(model.parameters()).device
    images = images.detach().to(device)
    rng_devices = [device] if device.type == "cuda" else []
    with eval_mode(model), hooks_removed(model), torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        with torch.no_grad():
            embeddings = model.encode_response(responses.detach().to(device), level=stage)
        if target == "similarity":
            forward, extra = similarity_forward(model, stage), embeddings
        else:
            forward = margin_forward(model, embeddings, stage, reduce)
            extra = torch.arange(len(images), device=device)
        references = make_baseline(images, baseline, blur_sigma) if method in _USES_BASELINE else None
        parts = []
        for i in range(0, len(images), batch_size):
            batch = images[i:i + batch_size].clone().requires_grad_()
            args = (extra[i:i + batch_size],)
            ref = None if references is None else references[i:i + batch_size]
            parts.append(_attribute(model, forward, method, batch, args, ref, references, stage=stage,
                                    n_steps=n_steps, n_samples=n_samples, window=window, stride=stride,
                                    layer=layer).detach().float().cpu())
    return torch.cat(parts)[:, 0].numpy()


def _attribute(model: TwoTowerModel, forward: Callable, method: str, batch: torch.Tensor, args: tuple,
               ref: torch.Tensor | None, all_refs: torch.Tensor | None, *, stage: str | None, n_steps: int,
               n_samples: int, window: tuple[int, int], stride: tuple[int, int], layer: str | None) -> torch.Tensor:
    """One Captum call on a batch -> (b, 1, H, W) attributions."""
    if method == "integrated_gradients":
        return IntegratedGradients(forward).attribute(batch, baselines=ref, additional_forward_args=args,
                                                      n_steps=n_steps)
    if method == "saliency":
        return Saliency(forward).attribute(batch, additional_forward_args=args, abs=False)
    if method == "gradient_shap":
        return GradientShap(forward).attribute(batch, baselines=all_refs, additional_forward_args=args,
                                               n_samples=n_samples, stdevs=SHAP_NOISE_SD)
    if method == "occlusion":
        return Occlusion(forward).attribute(batch, sliding_window_shapes=(1, *window), strides=(1, *stride),
                                            baselines=ref, additional_forward_args=args,
                                            perturbations_per_eval=OCCLUSION_PER_EVAL)
    cam = LayerGradCam(forward, _cam_layer(model, layer, stage)).attribute(batch, additional_forward_args=args,
                                                                          relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(batch.shape[2:]), interpolate_mode="bilinear")


class AttributionError(DinaError):
    """An attribution that cannot be computed as asked (the message says why and what to choose instead)."""


def _cam_layer(model: TwoTowerModel, layer: str | None, stage: str | None) -> torch.nn.Module:
    """The image-tower module Grad-CAM weighs: ``layer``, else the explained stage (for the encoding level, the
    stage its head reads; for the encoding-model level, its own core's output), else the last stage (which the
    global level pools).

    Raises:
        AttributionError: for the linear level, which reads the pixels without passing through the tower.
    """
    tower = model.image_tower
    if layer is None and stage == LINEAR:
        raise AttributionError("Grad-CAM weighs a layer of the image tower, and the linear level reads the pixels "
                               "directly, without it: explain the linear level with another method (integrated "
                               "gradients, saliency, SHAP or occlusion)")
    if layer is None and stage == ENCODING:
        stage = model.config.encoding_stage
    if layer is None and stage == ENCODING_MODEL:
        return model.encoding_model.model.core  # the feature maps the frozen encoding model's readout reads
    name = layer or (stage if stage in tower.stage_channels else None) or tower.stage_names[-1]
    return getattr(tower, name)


def neuron_attribution(model: TwoTowerModel, images: torch.Tensor, responses: torch.Tensor,
                       method: str = "integrated_gradients", *, stage: str | None = None, n_steps: int = 32,
                       batch_size: int = 64) -> np.ndarray:
    """Attribute each pair's similarity to the neurons of its response.

    Args:
        model: a trained two-tower model.
        images: (B, 1, H, W) normalised stimuli.
        responses: (B, n_neurons) normalised responses (z-scored on train), paired row by row.
        method: 'integrated_gradients' (baseline: zeros, i.e. every neuron at its train
            mean, the state a pruned neuron is set to), 'saliency' (signed gradient) or
            'input_x_gradient'.
        stage: level whose similarity is explained; None for the combined score.
        n_steps: integration steps of integrated gradients.
        batch_size: pairs per ``attribute`` call.

    Returns:
        (B, n_neurons) float32; for integrated gradients each row sums to the pair's
        similarity minus its similarity with an all-mean response.
    """
    _check_choice(method, NEURON_METHODS, "method")
    device = next(model.parameters()).device
    responses = responses.detach().to(device)
    with eval_mode(model), hooks_removed(model):
        with torch.no_grad():
            embeddings = torch.cat([model.encode_image(images[i:i + batch_size].to(device), level=stage)
                                    for i in range(0, len(images), batch_size)])
        explainer = NEURON_METHODS[method](response_forward(model, stage))
        kwargs = {"integrated_gradients": {"n_steps": n_steps}, "saliency": {"abs": False}}.get(method, {})
        parts = [explainer.attribute(responses[i:i + batch_size].clone().requires_grad_(),
                                     additional_forward_args=(embeddings[i:i + batch_size],), **kwargs)
                 .detach().float().cpu() for i in range(0, len(responses), batch_size)]
    return torch.cat(parts).numpy()


def mean_neuron_importance(model: TwoTowerModel, images: torch.Tensor, responses: torch.Tensor,
                           batch_size: int = 64) -> np.ndarray:
    """Mean absolute integrated-gradients attribution of each neuron over paired test data.

    Args:
        model: a trained two-tower model.
        images: (N, 1, H, W) normalised stimuli.
        responses: (N, n_neurons) normalised responses (repeat-averaged), paired row by row.
        batch_size: pairs per ``attribute`` call.

    Returns:
        (n_neurons,) float32, >= 0: how much each neuron moves the combined similarity of true pairs.
    """
    return np.abs(neuron_attribution(model, images, responses, "integrated_gradients",
                                     batch_size=batch_size)).mean(axis=0)
