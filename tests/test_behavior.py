"""State correction from behaviour (against the simulator's true gain) and shift augmentation."""

import numpy as np
import pytest
import torch

from dina_core.errors import DatasetError
from dina_core.runs.prepare import Preprocessing, prepare
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.train.augment import random_shifts


@pytest.fixture(scope="module")
def aroused():
    """A recording whose shared gain tracks the simulated arousal closely (behaviour-gain correlation 0.95)."""
    return simulate_recording(SimConfig.small(n_train_images=800, gain_behavior_corr=0.95, shared_gain_sd=0.4))


def test_learned_gain_recovers_the_true_gain_on_held_out_trials(aroused):
    pre = Preprocessing.fit(aroused, behavior=True)
    test = aroused.tier_mask("test")  # never seen by the fit
    learned = np.log(pre.behavior.gain(aroused.behavior[test])).mean(axis=1)
    true = np.log(aroused.ground_truth["trial_gain"][test])
    assert np.corrcoef(learned, true)[0, 1] > 0.8


def test_correction_removes_the_state_from_the_population_response(aroused):
    test = aroused.tier_mask("test")
    true = np.log(aroused.ground_truth["trial_gain"][test])
    raw = Preprocessing.fit(aroused).responses(aroused.responses[test]).mean(axis=1)
    pre = Preprocessing.fit(aroused, behavior=True)
    corrected = pre.responses(aroused.responses[test], aroused.behavior[test]).mean(axis=1)
    assert np.corrcoef(raw, true)[0, 1] > 0.5
    assert abs(np.corrcoef(corrected, true)[0, 1]) < 0.5 * np.corrcoef(raw, true)[0, 1]


def test_correction_round_trips_and_needs_behaviour(aroused):
    pre = Preprocessing.fit(aroused, behavior=True)
    again = Preprocessing.from_dict(pre.to_dict())
    rows = slice(0, 20)
    np.testing.assert_array_equal(pre.responses(aroused.responses[rows], aroused.behavior[rows]),
                                  again.responses(aroused.responses[rows], aroused.behavior[rows]))
    with pytest.raises(DatasetError, match="behavior"):
        pre.responses(aroused.responses[rows])
    with pytest.raises(DatasetError, match="behavior"):
        pre.responses(aroused.responses[rows], aroused.behavior[rows, :2])
    assert Preprocessing.from_dict({k: v for k, v in Preprocessing.fit(aroused).to_dict().items()
                                    if k != "behavior"}).behavior is None  # checkpoints before the field


def test_recording_without_behaviour_gets_no_correction(aroused):
    import dataclasses
    bare = dataclasses.replace(aroused, behavior=None, behavior_columns=[])
    pre = Preprocessing.fit(bare, behavior=True)
    assert pre.behavior is None
    assert prepare(bare, pre).responses.shape == (bare.n_trials, bare.n_neurons)


def test_shifts_keep_each_image_with_its_own_row():
    images = torch.randn(16, 1, 12, 14, generator=torch.Generator().manual_seed(1))
    shifted = random_shifts(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    assert torch.equal(random_shifts(images, 0), images)
    moved = 0
    for b in range(len(images)):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(shifted[b, :, 2:-2, 2:-2], images[b, :, 2 - dy:12 - 2 - dy, 2 - dx:14 - 2 - dx])]
        assert matches, f"row {b} is not a shift of its own image"
        moved += matches != [(0, 0)]
    assert moved > 8  # most rows really moved


def test_shift_and_behaviour_defaults_follow_the_model_kind(small_data):
    from dina_core.runs.config import BEHAVIOR_DEFAULTS, SHIFT_DEFAULTS, TrainConfig
    from dina_core.train.run import train_run

    for kind in ("linear", "dina"):
        run, _ = train_run(small_data, None, kind=kind, train_config=TrainConfig(epochs=1, batch_size=128))
        assert run.train_config.shift_pixels == SHIFT_DEFAULTS[kind]
        assert run.train_config.behavior == BEHAVIOR_DEFAULTS[kind]
        assert (run.preprocessing.behavior is not None) == (BEHAVIOR_DEFAULTS[kind] == "on")
    run, _ = train_run(small_data, None, kind="linear", train_config=TrainConfig(epochs=1, shift_pixels=1,
                                                                                 behavior="on"))
    assert run.train_config.shift_pixels == 1 and run.preprocessing.behavior is not None
    assert TrainConfig(behavior=False).behavior == "off"
    with pytest.raises(ValueError, match="behavior"):
        TrainConfig(behavior="sometimes")
