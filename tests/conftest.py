"""Shared fixtures: one small simulated recording per test session (simulated in about a second)."""

import pytest

from dina_core.simulate import SimConfig, simulate_recording


@pytest.fixture(scope="session")
def small_data():
    """A small simulated recording with ground truth (see SimConfig.small)."""
    return simulate_recording(SimConfig.small(seed=0))


# Enough optimiser steps for the small recording (340 training trials): 15 epochs of 11 batches.
SMALL_TRAINING = dict(epochs=15, batch_size=32, lr=3e-3, patience=100)


@pytest.fixture(scope="session")
def small_run_dir(small_data, tmp_path_factory):
    """(run folder, Run, FitResult) of DINA briefly trained on ``small_data`` (CPU, under a minute)."""
    from dina_core.runs.config import TrainConfig
    from dina_core.train.run import train_run

    out = tmp_path_factory.mktemp("small_run")
    run, result = train_run(small_data, out, train_config=TrainConfig(**SMALL_TRAINING))
    return out, run, result


@pytest.fixture(scope="session")
def small_run(small_run_dir):
    """The briefly trained DINA run of ``small_run_dir``; its model is in eval mode.

    Tests must not modify it (it is shared): analyses that prune or fine-tune use masks or copies.
    """
    return small_run_dir[1]


@pytest.fixture(autouse=True)
def no_background_warmup_left():
    """DINA Studio warms the shipped run's caches in a daemon thread (dina_app.warmup); a test that started
    one waits for it, so it never competes with the next test (a torchrun test's gloo peers, a timing)."""
    yield
    import threading
    for thread in [t for t in threading.enumerate() if t.name == "dina-warmup"]:
        thread.join(timeout=600)
