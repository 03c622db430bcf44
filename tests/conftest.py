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


# --- Run folders (test_hostile_run_*.py, test_hostile_app_runs.py): copy them, never modify them ---------

@pytest.fixture(scope="session")
def small_data_file(small_data, tmp_path_factory):
    """``small_data`` written as a DINA file."""
    from dina_core.data.format import write_dataset

    path = tmp_path_factory.mktemp("data") / "small.h5"
    write_dataset(path, small_data)
    return path


@pytest.fixture(scope="session")
def finished_run(small_data, tmp_path_factory):
    """A finished one-epoch linear run (model.pt, run.json, no state.pt); copy it, never modify it."""
    from dina_core.train.run import train_run
    from run_folders import tiny

    out = tmp_path_factory.mktemp("finished") / "run"
    train_run(small_data, out, kind="linear", train_config=tiny())
    return out


@pytest.fixture(scope="session")
def interrupted_run(small_data, tmp_path_factory):
    """A two-epoch linear training stopped in its second epoch (state.pt and model.pt); copy it."""
    from dina_core.runs.run import STATE_FILE
    from dina_core.train.run import train_run
    from run_folders import tiny

    out = tmp_path_factory.mktemp("interrupted") / "run"
    epoch = {"now": 0}
    _, result = train_run(small_data, out, kind="linear", train_config=tiny(epochs=2),
                          on_step=lambda info: epoch.update(now=info.epoch), should_stop=lambda: epoch["now"] >= 1)
    assert result.interrupted and (out / STATE_FILE).is_file() and len(result.history) == 1
    return out
