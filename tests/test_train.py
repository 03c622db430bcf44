"""Training: a short CPU run far above chance, determinism, checkpoint round trip and resume."""

import numpy as np
import pytest
import torch

from dina_core.errors import CheckpointError
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.model.inference import encode_images
from dina_core.runs.config import TrainConfig
from dina_core.runs.run import STATE_FILE, load_run
from dina_core.train.run import train_run

def test_short_cpu_training_beats_chance_widely(small_data, small_run_dir):
    _, run, result = small_run_dir
    rows = {(r["direction"], r["responses"]): r for r in evaluate_run(run, small_data) if r["level"] == "combined"}
    n = rows["neural_to_image", "averaged"]["n_candidates"]
    assert rows["neural_to_image", "averaged"]["top1"] >= 5 / n  # 5x chance among the 30 test images
    assert rows["neural_to_image", "averaged"]["ci95_top1"][0] > 1 / n
    assert rows["neural_to_image", "single_trial"]["top1"] >= 3 / n
    assert rows["image_to_neural", "averaged"]["top1"] >= 5 / n
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_checkpoint_round_trip(small_data, small_run_dir):
    out, run, _ = small_run_dir
    loaded = load_run(out)
    images = run.prepare(small_data).images[:5]
    assert torch.equal(encode_images(run.model, images), encode_images(loaded.model, images))
    assert loaded.history == run.history
    assert loaded.metadata["data_fingerprint"] == run.metadata["data_fingerprint"]
    np.testing.assert_array_equal(loaded.preprocessing.response_normalizer.mean,
                                  run.preprocessing.response_normalizer.mean)
    assert not (out / STATE_FILE).exists()


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_run(tmp_path / "nothing")
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="model.pt"):
        load_run(bad)


def test_cpu_training_is_deterministic(small_data):
    config = TrainConfig(epochs=2, batch_size=64, patience=100)
    a, _ = train_run(small_data, None, train_config=config)
    b, _ = train_run(small_data, None, train_config=config)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_resume_after_interruption_matches_uninterrupted(small_data, tmp_path):
    config = TrainConfig(epochs=3, batch_size=64, patience=100)
    full, _ = train_run(small_data, None, train_config=config)
    steps = {"n": 0}  # steps of the maps: the linear level's steps, reported first, are not counted

    def count(info):
        steps["n"] += info.stage == "maps"

    _, interrupted = train_run(small_data, tmp_path, train_config=config,
                               on_step=count, should_stop=lambda: steps["n"] > 8)  # in the second epoch
    assert interrupted.interrupted and (tmp_path / STATE_FILE).exists()
    resumed, result = train_run(small_data, tmp_path, train_config=config, resume=True)
    assert not result.interrupted and len(result.history) == 3
    fitted = {k: v for k, v in full.metadata["linear_level"].items() if k != "seconds"}
    assert {k: v for k, v in resumed.metadata["linear_level"].items() if k != "seconds"} == fitted
    for (k, va), vb in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-6), k
