"""Shared fixtures: one small simulated recording per test session (simulated in about a second)."""

import pytest

from dina_core.simulate import SimConfig, simulate_recording


@pytest.fixture(scope="session")
def small_data():
    """A small simulated recording with ground truth (see SimConfig.small)."""
    return simulate_recording(SimConfig.small(seed=0))
