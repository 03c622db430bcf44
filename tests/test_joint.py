"""One model over several recordings: the batch schedule, the shared image side, the joint run on disk and its
scores, and the refusals (the same recording twice, other image sizes, bad names, an edited folder)."""

import json
import math

import numpy as np
import pytest
import torch

from dina_core.data.fingerprint import recording_identity
from dina_core.errors import CheckpointError, DinaError
from dina_core.evaluate.joint_table import joint_evaluation
from dina_core.runs.config import TrainConfig
from dina_core.runs.folder import contents
from dina_core.runs.joint import is_joint_run, load_joint_run
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals
from dina_core.train.joint import check_recordings, train_joint
from dina_core.train.schedule import epoch_schedule, turns_per_epoch

from conftest import SMALL_TRAINING


@pytest.fixture(scope="module")
def animals():
    return simulate_animals(3, config=SimConfig.small())


@pytest.fixture(scope="module")
def joint_dir(animals, tmp_path_factory):
    """(folder, JointRun, FitResult) of animals 1-2 trained jointly, briefly (CPU, about a minute)."""
    out = tmp_path_factory.mktemp("joint") / "run"
    joint, result = train_joint({"A": animals[0], "B": animals[1]}, out, train_config=TrainConfig(**SMALL_TRAINING),
                                metadata={"A": {"data_path": "a.h5"}})
    return out, joint, result


def test_one_recording_schedule_is_the_single_run_order():
    for epoch in (0, 3):
        steps = epoch_schedule([100], 32, seed=5, epoch=epoch)
        order = torch.randperm(100, generator=torch.Generator().manual_seed(5 + epoch))
        assert [k for k, _ in steps] == [0] * 4
        assert torch.equal(torch.cat([b for _, b in steps]), order)


def test_schedule_visits_every_trial_once_per_pass_and_interleaves():
    sizes, batch = [100, 30, 65], 16
    steps = epoch_schedule(sizes, batch, seed=0, epoch=0, alpha=1.0)
    assert turns_per_epoch(sizes, batch, 1.0) == [math.ceil(s / batch) for s in sizes]
    for k, size in enumerate(sizes):
        seen = torch.cat([b for r, b in steps if r == k])
        assert torch.equal(seen.sort().values, torch.arange(size))  # one pass: each train trial once
    ks = [k for k, _ in steps]
    assert ks != sorted(ks)  # recordings interleave
    equal = turns_per_epoch(sizes, batch, 0.0)
    steps_in_all = sum(math.ceil(s / batch) for s in sizes)
    assert max(equal) - min(equal) <= 1 and abs(sum(equal) - steps_in_all) <= len(sizes)  # rounded shares
    small = torch.cat([b for r, b in epoch_schedule(sizes, batch, 0, 0, alpha=0.0) if r == 1])
    assert len(small) > 30 and set(small.tolist()) == set(range(30))  # revisited within the epoch, fresh passes


def test_joint_model_shares_one_image_side_and_beats_chance(animals, joint_dir):
    _, joint, result = joint_dir
    a, b = joint.runs["A"].model, joint.runs["B"].model
    assert a.image_tower is b.image_tower and a.image_proj is b.image_proj
    assert a.neural_tower is not b.neural_tower and a.n_neurons == animals[0].n_neurons
    assert set(result.history[0]["val_top1_by_recording"]) == {"A", "B"}
    table = joint_evaluation(joint, {"A": animals[0], "B": animals[1]})
    for name in ("A", "B"):
        rows = {(r["direction"], r["responses"]): r for r in table["recordings"][name]["rows"]
                if r["level"] == "combined"}
        n = rows["neural_to_image", "averaged"]["n_candidates"]
        assert rows["neural_to_image", "averaged"]["top1"] >= 4 / n, name  # each recording far above chance
    mean = next(r for r in table["mean"] if r["level"] == "combined" and r["responses"] == "averaged"
                and r["direction"] == "neural_to_image")
    per = [next(r["top1"] for r in table["recordings"][n]["rows"] if r["level"] == "combined"
                and r["responses"] == "averaged" and r["direction"] == "neural_to_image") for n in ("A", "B")]
    assert mean["top1"] == pytest.approx(np.mean(per))


def test_joint_run_folder_round_trip(animals, joint_dir):
    out, joint, _ = joint_dir
    summary = json.loads((out / "run.json").read_text())
    assert [r["name"] for r in summary["recordings"]] == ["A", "B"]
    entry = summary["recordings"][1]
    assert entry["neurons"] == animals[1].n_neurons
    assert entry["data_fingerprint"] == recording_identity(animals[1])["data_fingerprint"]
    assert sum(entry["trials"].values()) == animals[1].n_trials
    assert is_joint_run(out) and contents(out) == "finished" and not (out / "state.pt").exists()
    loaded = load_joint_run(out)
    assert loaded.runs["A"].model.image_tower is loaded.runs["B"].model.image_tower
    assert loaded.runs["A"].metadata["data_path"] == "a.h5"
    assert loaded.runs["B"].metadata["joint"]["recordings"] == ["A", "B"]
    images = loaded.runs["A"].prepare(animals[0]).images[:4]
    with torch.no_grad():
        before = joint.runs["B"].model.encode_image(images)
        assert torch.equal(loaded.runs["B"].model.encode_image(images), before)  # scores as trained, bit for bit
    with pytest.raises(DinaError, match="finished run"):
        train_joint({"A": animals[0], "B": animals[1]}, out, train_config=TrainConfig(epochs=1))


def test_an_edited_recording_is_refused_at_load(joint_dir, tmp_path):
    import shutil

    from dina_core.runs.checkpoint import atomic_save, load_checkpoint
    out = tmp_path / "edited"
    shutil.copytree(joint_dir[0], out)
    payload = load_checkpoint(out / "recordings" / "B" / "model.pt")
    key = next(k for k in payload["state_dict"] if k.startswith("image_tower.") and k.endswith("weight"))
    payload["state_dict"][key] = payload["state_dict"][key] + 1.0
    atomic_save(payload, out / "recordings" / "B" / "model.pt")
    with pytest.raises(CheckpointError, match="image side differs"):
        load_joint_run(out)
    summary = json.loads((out / "run.json").read_text())
    summary["recordings"][1]["name"] = "../../elsewhere"
    (out / "run.json").write_text(json.dumps(summary))
    with pytest.raises(CheckpointError, match="recordings\\[\\].name"):
        load_joint_run(out)


def test_recordings_one_model_cannot_share_are_refused(animals):
    with pytest.raises(DinaError, match="the same recording"):
        check_recordings({"A": animals[0], "B": animals[0]})
    with pytest.raises(DinaError, match="at least two"):
        check_recordings({"A": animals[0]})
    with pytest.raises(DinaError, match="not a folder name"):
        check_recordings({"../x": animals[0], "B": animals[1]})
    other = simulate_animals(2, config=SimConfig.small(image_shape=(24, 40)))[0]
    with pytest.raises(DinaError, match="one image size"):
        check_recordings({"A": animals[0], "B": other})


def test_an_interrupted_joint_training_resumes_to_the_same_model(tmp_path):
    tiny = simulate_animals(3, config=SimConfig.small(n_neurons=48, n_train_images=80, n_validation_images=16,
                                                      n_test_images=8))
    config = TrainConfig(epochs=3, batch_size=32, patience=100)
    recordings = {"A": tiny[0], "B": tiny[1]}
    full, _ = train_joint(recordings, None, train_config=config)
    out = tmp_path / "run"
    _, stopped = train_joint(recordings, out, train_config=config, should_stop=lambda: (out / "state.pt").exists())
    assert stopped.interrupted and len(stopped.history) == 1 and contents(out) == "interrupted"
    resumed, result = train_joint(recordings, out, train_config=config, resume=True)
    assert len(result.history) == 3 and not (out / "state.pt").exists()
    for name in recordings:
        a, b = full.runs[name].model.state_dict(), resumed.runs[name].model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name  # the same model as an uninterrupted training
    train_joint(recordings, out, train_config=config, overwrite=True, should_stop=lambda: (out / "state.pt").exists())
    with pytest.raises(DinaError, match="differs"):  # a resume must be of the same recordings and settings
        train_joint({"A": tiny[0], "B": tiny[2]}, out, train_config=config, resume=True)
