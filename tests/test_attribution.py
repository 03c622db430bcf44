"""Captum attributions on a linear two-tower model, where every method has an exact answer.

Saliency, integrated gradients (with completeness), margin targets, occlusion, GradientShap and
the neuron attributions are compared with the model's analytic gradient. No leftover hooks:
test_attribution_hooks.py; receptive-field hits on the simulator's ground truth:
test_attribution_ground_truth.py.
"""

import numpy as np
import pytest
import torch
from torch import nn

from dina_core.interpret.attribution import (make_baseline, mean_neuron_importance, neuron_attribution,
                                             spatial_attribution)
from dina_core.model import TwoTowerModel

H, W, D = 6, 8, 3
PIXELS = [(1, 2), (3, 5), (4, 1)]  # the only pixels the linear image embedding reads


class PixelLinear(TwoTowerModel):
    """Embeddings that are fixed linear maps: image z = x[PIXELS] @ A, response z = r @ B.

    The similarity r B . (x A) is linear in each input, so every method has an exact answer.
    """

    def __init__(self, n_neurons: int = 4):
        super().__init__(("lin",), (1.0,), 0.07)
        gen = torch.Generator().manual_seed(0)
        self.pixel_weights = nn.Parameter(torch.randn(len(PIXELS), D, generator=gen))
        self.neuron_weights = nn.Parameter(torch.randn(n_neurons, D, generator=gen))

    def encode_image(self, images, level=None, normalize=True):
        picked = torch.stack([images[:, 0, r, c] for r, c in PIXELS], dim=1)
        return picked @ self.pixel_weights

    def encode_response(self, responses, level=None, normalize=True, neuron_mask=None):
        return responses @ self.neuron_weights

    def pixel_gradient(self, response_embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, H, W) d similarity / d pixel: zero except at PIXELS."""
        grad = torch.zeros(len(response_embeddings), H, W)
        for k, (r, c) in enumerate(PIXELS):
            grad[:, r, c] = response_embeddings @ self.pixel_weights[k]
        return grad


@pytest.fixture
def linear():
    torch.manual_seed(1)
    return PixelLinear(), torch.randn(3, 1, H, W), torch.randn(3, 4)


def _known(model, responses):
    with torch.no_grad():
        return model.pixel_gradient(model.encode_response(responses))


def test_saliency_is_the_signed_gradient(linear):
    model, images, responses = linear
    got = spatial_attribution(model, images, responses, "saliency")
    np.testing.assert_allclose(got, _known(model, responses).numpy(), atol=1e-6)


@pytest.mark.parametrize("baseline", ["mean_grey", "blurred"])
def test_integrated_gradients_on_linear_is_exact(linear, baseline):
    model, images, responses = linear
    got = spatial_attribution(model, images, responses, "integrated_gradients", baseline=baseline, n_steps=5)
    expected = (images - make_baseline(images, baseline))[:, 0] * _known(model, responses)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    with torch.no_grad():  # completeness: each map sums to f(x) - f(baseline)
        z = model.encode_response(responses)
        gap = ((model.encode_image(images) - model.encode_image(make_baseline(images, baseline))) * z).sum(-1)
    np.testing.assert_allclose(got.sum(axis=(1, 2)), gap.numpy(), atol=1e-5)


def test_margin_target_uses_the_other_candidates(linear):
    model, images, responses = linear
    got = spatial_attribution(model, images, responses, "integrated_gradients", target="margin", n_steps=3)
    with torch.no_grad():
        z = model.encode_response(responses)
        others = (z.sum(0, keepdim=True) - z) / (len(z) - 1)
        expected = images[:, 0] * model.pixel_gradient(z - others)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    with torch.no_grad():  # 'max': the gradient runs against each image's strongest wrong candidate
        scores = model.encode_image(images) @ z.T
        rival = scores.masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf")).argmax(dim=1)
        expected = model.pixel_gradient(z - z[rival])
    got = spatial_attribution(model, images, responses, "saliency", target="margin", reduce="max")
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_occlusion_highlights_exactly_the_weighted_pixels(linear):
    model, images, responses = linear
    got = spatial_attribution(model, images, responses, "occlusion", window=(1, 1), stride=(1, 1))
    expected = (images[:, 0] * _known(model, responses)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    weighted = np.zeros((H, W), dtype=bool)
    weighted[tuple(np.array(PIXELS).T)] = True
    assert np.all(got[:, ~weighted] == 0) and np.all(got[:, weighted] != 0)


def test_gradient_shap_is_zero_off_the_weighted_pixels_and_close_to_ig(linear):
    model, images, responses = linear
    got = spatial_attribution(model, images, responses, "gradient_shap", n_samples=64)
    again = spatial_attribution(model, images, responses, "gradient_shap", n_samples=64)
    np.testing.assert_array_equal(got, again)  # seeded
    known = _known(model, responses).numpy()
    assert np.all(got[known == 0] == 0)
    # E[(x + noise - 0) * grad] = x * grad; noise sd 0.1 over 64 samples leaves ~0.0125 * |grad|
    np.testing.assert_allclose(got, images[:, 0].numpy() * known, atol=0.06 * np.abs(known).max())


def test_neuron_attribution_on_linear_response_tower(linear):
    model, images, responses = linear
    with torch.no_grad():
        grad = model.neuron_weights @ model.encode_image(images).T  # (n_neurons, B)
    grad = grad.T.numpy()
    np.testing.assert_allclose(neuron_attribution(model, images, responses, "saliency"), grad, atol=1e-5)
    exact = responses.numpy() * grad
    np.testing.assert_allclose(neuron_attribution(model, images, responses, "input_x_gradient"), exact, atol=1e-5)
    ig = neuron_attribution(model, images, responses, "integrated_gradients", n_steps=4)
    np.testing.assert_allclose(ig, exact, atol=1e-5)
    np.testing.assert_allclose(mean_neuron_importance(model, images, responses, batch_size=2),
                               np.abs(exact).mean(axis=0), atol=1e-5)
