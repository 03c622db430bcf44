"""The estimator over several recordings (CEBRA's multi-session shape) and started from a trained run."""

import numpy as np
import pytest

import dina_core
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals

QUICK = dict(epochs=2, batch_size=64, patience=100)


@pytest.fixture(scope="module")
def animals():
    return simulate_animals(3, config=SimConfig.small(n_neurons=50, n_train_images=120, n_validation_images=24,
                                                      n_test_images=10, n_test_repeats=3))


@pytest.fixture(scope="module")
def joint(animals):
    return dina_core.DINA(**QUICK).fit({"a": animals[0], "b": animals[1]})


def test_fit_on_several_recordings_is_one_joint_model(animals, joint):
    assert list(joint.joint_.runs) == ["a", "b"] and not hasattr(joint, "run_")
    a, b = joint.recording("a"), joint.recording("b")
    assert a.model_.image_tower is b.model_.image_tower and a.model_.n_neurons == animals[0].n_neurons
    z = b.transform(animals[1].responses[:3], animals[1].behavior[:3])
    assert z.shape[0] == 3 and np.isfinite(z).all()
    scores = joint.score(animals[1])  # scored by recording b's own run
    assert scores.to_dict() == b.score(animals[1]).to_dict()
    with pytest.raises(dina_core.DinaError, match="choose one with model.recording"):
        joint.transform(animals[0].responses[:2], animals[0].behavior[:2])
    with pytest.raises(dina_core.DinaError, match="none of the joint model's"):
        joint.score(animals[2])
    with pytest.raises(dina_core.DinaError, match="expected one of a, b"):
        joint.recording("c")


def test_a_joint_model_saves_loads_and_starts_the_next_animal(animals, joint, tmp_path):
    joint.save(tmp_path / "joint")
    loaded = dina_core.DINA.load(tmp_path / "joint")
    assert loaded.score(animals[0]).to_dict() == joint.score(animals[0]).to_dict()
    with pytest.raises(dina_core.DinaError, match="already holds"):
        joint.save(tmp_path / "joint")
    new = dina_core.DINA(**QUICK).fit(animals[2], start_from=tmp_path / "joint", image_tower="frozen")
    assert new.run_.metadata["transfer"]["image_tower"] == "frozen"
    with pytest.raises(dina_core.DinaError, match="one joint DINA"):
        dina_core.DINA("linear", **{k: v for k, v in QUICK.items()}).fit([animals[0], animals[1]])
