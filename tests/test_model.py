"""Model contracts: shapes, stable layer names, alignment maps that sum to the similarity, masks."""

import pytest
import torch

from dina_core.model import DinaModel, LinearConfig, ModelConfig, build_model
from dina_core.model.inference import encode_images, encode_responses, eval_mode


@pytest.fixture
def model():
    torch.manual_seed(0)
    return DinaModel(ModelConfig(aligned_stages=("stage1", "stage2"), stage_weights=(1.0, 2.0), global_level=True),
                     n_neurons=40, image_shape=(36, 64)).eval()


def test_stage_names_and_map_shapes(model):
    names = dict(model.named_modules())
    for name in ("image_tower.stem", "image_tower.stage1", "image_tower.stage2", "image_tower.stage3"):
        assert name in names
    assert model.map_shapes == {"stage1": (16, 18, 32), "stage2": (32, 9, 16)}
    maps = model.image_tower(torch.zeros(2, 1, 36, 64))
    assert maps["stage3"].shape == (2, 48, 5, 8)
    _, predicted, _ = model.response_latent_maps(torch.zeros(2, 40))
    assert predicted["stage2"].shape == (2, 32, 9, 16)


@pytest.mark.parametrize("stage,shape", [("stage2", (9, 16)), ("stage0", (18, 32))])  # stage0: the pixel level
def test_alignment_map_sums_to_stage_similarity(stage, shape):
    torch.manual_seed(0)
    model = DinaModel(ModelConfig(), n_neurons=40, image_shape=(36, 64)).eval()
    images, responses = torch.randn(5, 1, 36, 64), torch.randn(5, 40)
    amap = model.alignment_map(images, responses, stage)
    sim = (model.encode_image(images, stage) * model.encode_response(responses, stage)).sum(-1)
    assert amap.shape == (5, *shape)
    assert torch.allclose(amap.sum(dim=(1, 2)), sim, atol=1e-5)


def test_combined_embedding_is_weighted_sum_of_level_similarities(model):
    images, responses = torch.randn(4, 1, 36, 64), torch.randn(4, 40)
    combined = model.encode_response(responses) @ model.encode_image(images).T
    expected = sum(w * model.encode_response(responses, lv) @ model.encode_image(images, lv).T
                   for lv, w in model.level_weights.items())
    assert torch.allclose(combined, expected, atol=1e-5)


def test_neuron_mask_equals_zeroing_those_neurons(model):
    responses = torch.randn(3, 40)
    mask = (torch.arange(40) < 10).float()
    masked = model.encode_response(responses, neuron_mask=mask)
    zeroed = responses.clone()
    zeroed[:, 10:] = 0
    assert torch.allclose(masked, model.encode_response(zeroed), atol=1e-6)


def test_batched_inference_restores_mode_and_matches_direct(model):
    model.train()
    images = torch.randn(7, 1, 36, 64)
    z = encode_images(model, images, batch_size=3)
    assert model.training
    with eval_mode(model):
        assert torch.allclose(z, model.encode_image(images), atol=1e-5)
    z_r = encode_responses(model, torch.randn(7, 40), batch_size=2)
    assert z_r.shape == (7, model.encode_image(images[:1]).shape[1])


def test_build_model_rebuilds_both_kinds():
    dina = build_model("dina", ModelConfig.global_only().to_dict(), 12, (20, 30))
    assert dina.levels == ("global",)
    linear = build_model("linear", LinearConfig(embed_dim=8).to_dict(), 12, (20, 30))
    assert linear.encode_image(torch.zeros(2, 1, 20, 30)).shape == (2, 8)
    with pytest.raises(ValueError):
        ModelConfig(aligned_stages=("stage9",), stage_weights=(1.0,))


def test_factorized_head_matches_its_formula():
    from dina_core.model.neural_tower import FactorizedMapHead
    torch.manual_seed(0)
    head = FactorizedMapHead(trunk_dim=6, channels=3, height=4, width=5)
    with torch.no_grad():
        head.bias.normal_()
    trunk = torch.randn(2, 6)
    expected = torch.einsum("bt,tc,tp->bcp", trunk, head.features, head.spatial) + head.bias
    assert torch.allclose(head(trunk), expected.view(2, 3, 4, 5), atol=1e-5)
