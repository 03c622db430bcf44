"""DINA's linear level: the linear two-tower held inside DINA as one more retrieval level."""

import pytest
import torch

from dina_core.model import LINEAR, DinaModel, LinearConfig, LinearTwoTower, ModelConfig
from dina_core.model.config import ENCODING, ENCODING_MODEL
from dina_core.config import ConfigError


def _pair(n_neurons=30, shape=(12, 20)):
    torch.manual_seed(0)
    dina = DinaModel(ModelConfig(stage_channels=(4, 8, 8), encoding_model_level=False), n_neurons, shape).eval()
    linear = LinearTwoTower(LinearConfig(embed_dim=dina.config.linear_dim), n_neurons, shape).eval()
    return dina, linear


def test_the_linear_level_is_the_linear_two_tower():
    dina, linear = _pair()
    assert dina.levels[-1] == LINEAR and dina.level_weights[LINEAR] == 1.0
    with torch.no_grad():  # the linear model's weights copied into DINA's linear level
        dina.image_linear.load_state_dict(linear.image_linear.state_dict())
        dina.neural_tower.linear_head.load_state_dict(linear.response_linear.state_dict())
    images, responses = torch.randn(5, 1, 12, 20), torch.randn(5, 30)
    assert torch.allclose(dina.encode_image(images, LINEAR), linear.encode_image(images, "global"), atol=1e-6)
    assert torch.allclose(dina.encode_response(responses, LINEAR), linear.encode_response(responses, "global"),
                          atol=1e-6)


def test_the_linear_level_reads_the_responses_not_the_trunk():
    dina, _ = _pair()
    responses = torch.randn(3, 30)
    before = dina.encode_response(responses, LINEAR)
    with torch.no_grad():
        dina.neural_tower.trunk[0].weight.mul_(-3.0)  # the maps' trunk changes; the linear level must not
    assert torch.allclose(dina.encode_response(responses, LINEAR), before)
    mask = torch.ones(30)
    mask[:10] = 0  # a pruned neuron is at its train mean (0): the same as a zero response
    zeroed = responses.clone()
    zeroed[:, :10] = 0
    assert torch.allclose(dina.encode_response(responses, LINEAR, neuron_mask=mask),
                          dina.encode_response(zeroed, LINEAR), atol=1e-6)


def test_linear_level_in_the_config():
    config = ModelConfig()
    assert config.levels() == ("stage0", "stage2", "stage3", LINEAR, ENCODING_MODEL)
    assert len(ModelConfig(retrieval_weights=(0.0, 1.0, 0.5, 0.25, 1.0)).retrieval_weights) == 5
    assert ModelConfig(linear_level=False, encoding_model_level=False).levels() == ("stage0", "stage2", "stage3")
    assert ModelConfig(encoding_level=True).levels() == ("stage0", "stage2", "stage3", LINEAR, ENCODING,
                                                         ENCODING_MODEL)
    assert not {LINEAR, ENCODING} & set(ModelConfig.global_only(encoding_level=False).levels())
    assert ModelConfig(aligned_stages=(), stage_weights=(), linear_level=True).levels() == (LINEAR, ENCODING_MODEL)
    with pytest.raises(ConfigError, match="linear_level"):
        ModelConfig(linear_level="yes")
    with pytest.raises(ConfigError, match="linear_dim"):
        ModelConfig(linear_dim=0)


def test_training_fits_the_linear_level_first_then_freezes_it(small_data):
    """After training, the linear level alone scores on validation exactly what its own fit's best epoch scored:
    the maps trained beside it without changing it, and early stopping chose their epoch on their own score."""
    from dina_core.runs.config import TrainConfig
    from dina_core.train.run import train_run
    from dina_core.train.validation import validation_top1

    run, result = train_run(small_data, None, model_config=ModelConfig(encoding_model_level=False).to_dict(),
                            train_config=TrainConfig(epochs=4, batch_size=32, patience=100))
    model, fitted = run.model, run.metadata["linear_level"]
    assert 1 <= fitted["epochs"] <= 4 and "loss_linear" not in result.history[-1]
    assert all(not p.requires_grad for p in model.image_linear.parameters())
    prepared = run.prepare(small_data)
    chosen = dict(model.level_weights)
    model.level_weights = {lv: float(lv == LINEAR) for lv in model.levels}
    assert validation_top1(model, prepared) == pytest.approx(fitted["best_val_top1"])
    model.level_weights = {lv: float(lv != LINEAR) for lv in model.levels}
    assert validation_top1(model, prepared) == pytest.approx(result.best_val_top1)  # the maps' own score
    model.level_weights = chosen
