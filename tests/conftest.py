"""Shared fixtures: one small simulated recording per test session (simulated in about a second)."""

import pytest

from dina_core.simulate import SimConfig, simulate_recording


@pytest.fixture(scope="session")
def small_data():
    """A small simulated recording with ground truth (see SimConfig.small)."""
    return simulate_recording(SimConfig.small(seed=0))


@pytest.fixture(scope="session")
def small_run(small_data):
    """A DINA run briefly trained on ``small_data`` (CPU, seconds); its model is in eval mode.

    Tests must not modify it (it is shared): analyses that prune or fine-tune use masks or copies.
    """
    from dina_core.train.config import TrainConfig
    from dina_core.train.run import train_run

    run, _ = train_run(small_data, None, train_config=TrainConfig(epochs=8, batch_size=64, lr=3e-3, patience=100))
    return run
