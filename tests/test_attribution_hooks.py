"""Attributions leave the model as they found it: no hooks left behind, training mode restored.

Also when the forward raises midway (Captum's pattern: hooks live in context managers that always
remove them), and Grad-CAM of each level either weighs a tower layer or says why it cannot.
"""

import pytest
import torch

from dina_core.interpret.attribution import spatial_attribution
from dina_core.interpret.forwards import hooks_removed
from dina_core.model import DinaModel, ModelConfig


class RaisingDina(DinaModel):
    """A DINA model whose image encoder fails on its ``fail_at``-th call, after the layers ran."""

    def image_levels(self, images):
        out = super().image_levels(images)
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls >= self.fail_at:
            raise RuntimeError("forward failed midway")
        return out


def _tiny(cls=DinaModel):
    torch.manual_seed(0)
    config = ModelConfig(stage_channels=(4, 8), aligned_stages=("stage1", "stage2"), latent_channels=4, trunk_dim=16)
    return cls(config, n_neurons=10, image_shape=(12, 16))


def _hook_count(model):
    return sum(len(getattr(m, name)) for m in model.modules()
               for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"))


@pytest.mark.parametrize("method", ["grad_cam", "occlusion", "integrated_gradients"])
def test_no_hooks_remain_and_mode_is_restored(method):
    model = _tiny().train()
    before = _hook_count(model)
    images, responses = torch.randn(2, 1, 12, 16), torch.randn(2, 10)
    out = spatial_attribution(model, images, responses, method, layer="stage1", window=(4, 4), stride=(4, 4), n_steps=4)
    assert out.shape == (2, 12, 16)
    assert _hook_count(model) == before and model.training


@pytest.mark.parametrize("method,fail_at", [("grad_cam", 1), ("occlusion", 2)])
def test_no_hooks_remain_when_the_forward_raises(method, fail_at):
    model = _tiny(RaisingDina).train()
    model.fail_at = fail_at
    before = _hook_count(model)
    with pytest.raises(RuntimeError, match="midway"):
        spatial_attribution(model, torch.randn(2, 1, 12, 16), torch.randn(2, 10), method, layer="stage2",
                            window=(4, 4), stride=(4, 4))
    assert model.calls == fail_at and _hook_count(model) == before and model.training


def test_hooks_removed_clears_hooks_left_by_a_failing_block():
    model = _tiny()
    before = _hook_count(model)
    with pytest.raises(ValueError):
        with hooks_removed(model):
            model.image_tower.stage1.register_forward_hook(lambda *args: None)
            model.neural_proj.stage1.register_full_backward_hook(lambda *args: None)
            raise ValueError("boom")
    assert _hook_count(model) == before


def test_grad_cam_of_each_level_weighs_a_tower_layer_or_says_why_not():
    from dina_core.interpret.attribution import AttributionError
    model = _tiny().eval()
    images, responses = torch.randn(2, 1, 12, 16), torch.randn(2, 10)
    for level in model.levels:
        if level == "linear":  # reads the pixels without the tower: a clear refusal naming what to use instead
            with pytest.raises(AttributionError, match="integrated gradients"):
                spatial_attribution(model, images, responses, "grad_cam", stage=level)
        else:
            assert spatial_attribution(model, images, responses, "grad_cam", stage=level).shape == (2, 12, 16)
    assert spatial_attribution(model, images, responses, "integrated_gradients", stage="linear", n_steps=4).any()
