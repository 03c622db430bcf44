"""The pixel-level stage0, validated level weights, the stride-2 stem, and old checkpoints still loading."""

import numpy as np
import pytest
import torch

from dina_core.model import DinaModel, ModelConfig, build_model
from dina_core.runs.run import load_run
from dina_core.train.level_weights import _candidates, correct_of



@pytest.fixture
def model():
    torch.manual_seed(0)
    return DinaModel(ModelConfig(), n_neurons=30, image_shape=(36, 64)).eval()


def test_stage0_is_a_linear_map_of_the_pooled_image(model):
    assert model.levels[0] == "stage0" and model.map_shapes["stage0"] == (4, 18, 32)
    images = torch.randn(3, 1, 36, 64)
    _, predicted, _ = model.response_latent_maps(torch.randn(3, 30))
    assert predicted["stage0"].shape == (3, 4, 18, 32)
    assert "image_tower.stage0" in dict(model.named_modules())  # addressable like any stage
    pooled = images.view(3, 1, 18, 2, 32, 2).mean(dim=(3, 5))
    raw = DinaModel(ModelConfig(stage0_filters=0), 30, (36, 64)).image_tower(images)["stage0"]
    assert torch.allclose(raw, pooled, atol=1e-6)
    # linear in the pixels: f(a x + b y) - f(0) = a (f(x) - f(0)) + b (f(y) - f(0))
    f = model.image_tower.stage0
    x, y, zero = images[:1], images[1:2], torch.zeros_like(images[:1])
    assert torch.allclose(f(2 * x - 3 * y) - f(zero), 2 * (f(x) - f(zero)) - 3 * (f(y) - f(zero)), atol=1e-4)


def test_odd_image_sizes_pool_with_partial_windows():
    m = DinaModel(ModelConfig(stage0_pool=3), n_neurons=5, image_shape=(31, 31)).eval()
    assert m.map_shapes["stage0"] == (4, 11, 11)
    assert m.encode_image(torch.randn(2, 1, 31, 31), "stage0").shape == (2, 16 * 11 * 11)


def test_stride2_stem_keeps_every_stage_shape():
    images = torch.randn(2, 1, 36, 64)
    one = DinaModel(ModelConfig(stem_stride=1), 5, (36, 64)).image_tower(images)
    two = DinaModel(ModelConfig(stem_stride=2), 5, (36, 64)).image_tower(images)
    assert {k: v.shape for k, v in one.items()} == {k: v.shape for k, v in two.items()}


def test_retrieval_weights_score_and_loss_weights_train():
    m = DinaModel(ModelConfig(retrieval_weights=(0.0, 1.0, 0.5, 0.25, 0.5)), 5, (36, 64))
    assert m.level_weights == {"stage0": 0.0, "stage2": 1.0, "stage3": 0.5, "linear": 0.25, "encoding_model": 0.5}
    assert m.loss_weights == {"stage0": 1.0, "stage2": 1.0, "stage3": 1.0, "linear": 1.0, "encoding_model": 0.0}
    with pytest.raises(ValueError, match="retrieval_weights"):
        ModelConfig(retrieval_weights=(1.0,))


def test_level_weight_grid_and_top1():
    grid = _candidates(2)
    assert (1.0, 0.0) in grid and (0.0, 1.0) in grid and (1.0, 1.0) in grid and len(grid) == len(set(grid))
    assert all(max(w) == 1.0 for w in grid)
    # level 0 ranks every target first, level 1 is noise that would spoil it at equal weight
    targets = torch.arange(6)
    good = torch.eye(6) * 0.1
    noise = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    sims = torch.stack([good, noise])
    assert correct_of(sims, targets, (1.0, 0.0)).mean() == 1.0
    assert correct_of(sims, targets, (1.0, 1.0)).mean() < 1.0
    assert correct_of(torch.zeros(2, 6, 6), targets, (1.0, 1.0)).mean() == 0.0  # all ties count against


class _Fixed(torch.nn.Module):
    """Two levels with fixed embeddings: queries and candidates are given per level."""

    def __init__(self, per_level_responses, per_level_images):
        super().__init__()
        self.levels, self.level_weights = ("a", "b"), {"a": 1.0, "b": 1.0}
        self.r, self.i = per_level_responses, per_level_images
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def encode_response(self, responses, level=None, normalize=True, neuron_mask=None):
        return self.r[level][responses[:, 0].long()]

    def encode_image(self, images, level=None, normalize=True):
        return self.i[level][images[:, 0, 0, 0].long()]


def _prepared(n):
    from dina_core.runs.prepare import PreparedData
    ids = torch.arange(n, dtype=torch.float32)
    return PreparedData(ids.view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous(), ids[:, None].clone(),
                        torch.arange(n), {"validation": np.arange(n), "train": np.arange(0), "test": np.arange(0)})


def test_level_weights_change_only_when_validation_clearly_prefers_it():
    from dina_core.train.level_weights import choose_level_weights
    n, g = 200, torch.Generator().manual_seed(0)
    truth = torch.nn.functional.normalize(torch.randn(n, 8, generator=g), dim=-1)
    noisy = torch.nn.functional.normalize(truth + 3 * torch.randn(n, 8, generator=g), dim=-1)
    clean = torch.nn.functional.normalize(truth + 0.3 * torch.randn(n, 8, generator=g), dim=-1)
    junk = torch.nn.functional.normalize(torch.randn(n, 8, generator=g), dim=-1)
    # level b is pure noise: equal weights lose to level a alone by far more than the error
    model = _Fixed({"a": clean, "b": junk}, {"a": truth, "b": torch.nn.functional.normalize(
        torch.randn(n, 8, generator=g), dim=-1)})
    weights, table = choose_level_weights(model, _prepared(n))
    assert weights == (1.0, 0.0) and table[0]["top1"] > 0.3
    # two equally weak levels on 6 images: nothing is clearly better, the training weights stay
    small = _Fixed({"a": noisy[:6], "b": noisy[:6]}, {"a": truth[:6], "b": truth[:6]})
    assert choose_level_weights(small, _prepared(6))[0] == (1.0, 1.0)


def test_trained_run_keeps_chosen_weights_through_save_and_load(small_run_dir):
    out, run, _ = small_run_dir
    chosen = run.metadata["level_weights"]["chosen"]
    assert list(run.model.config.retrieval_weights) == chosen
    loaded = load_run(out)
    assert loaded.model.level_weights == run.model.level_weights
    assert loaded.model.config == run.model.config


def test_old_checkpoint_rebuilds_the_model_it_was_trained_as(tmp_path, small_run):
    """A run saved before stage0, the stride-2 stem and retrieval weights existed loads (strict) as it was."""
    from dina_core.model.config import LEGACY
    from dina_core.runs.checkpoint import load_checkpoint
    from dina_core.runs.run import Run, save_run

    old_config = {**ModelConfig(aligned_stages=("stage2", "stage3")).to_dict(), **LEGACY}
    old = build_model("dina", old_config, small_run.model.n_neurons, small_run.model.image_shape)
    save_run(Run(old, "dina", old_config, small_run.train_config, small_run.preprocessing), tmp_path)
    payload = load_checkpoint(tmp_path / "model.pt")
    for field in LEGACY:  # as an older DINA wrote it: none of these fields
        del payload["model_config"][field]
    torch.save(payload, tmp_path / "model.pt")
    run = load_run(tmp_path)
    assert run.model.levels == ("stage2", "stage3")
    assert run.model.config.stem_stride == 1 and run.model.config.retrieval_weights == ()
    assert run.model.level_weights == {"stage2": 1.0, "stage3": 1.0}
    assert run.model.image_tower.stage1[0][0].stride == (2, 2)
    # a partial config from a user still gets today's defaults
    assert build_model("dina", {"trunk_dim": 64}, 5, (36, 64)).config.stem_stride == ModelConfig().stem_stride
    assert np.isfinite(run.model.encode_image(torch.zeros(1, 1, *run.model.image_shape)).detach().numpy()).all()
