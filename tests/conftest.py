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
    """DINA Studio warms caches in daemon threads (dina_app.warmup, dina_app.prefetch); a test that started
    one waits for it, so it never competes with the next test (a torchrun test's gloo peers, a timing)."""
    yield
    import threading
    for thread in [t for t in threading.enumerate() if t.name in ("dina-warmup", "dina-prefetch")]:
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


# --- Raw sources (test_hostile_suite2p_*.py, test_hostile_nwb.py, test_hostile_dina_files.py) ----------------

@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory):
    """(files, folder of good imports, data): a tiny recording's raw files and a good import of each format
    (shared, never modified; a ``hostile_sources.Case`` copies them)."""
    import warnings

    from dina_core.errors import DinaWarning
    from dina_core.importers.suite2p import import_suite2p
    from dina_core.simulate.trace_writers import write_trace_recording
    from hostile_sources import HAS_NWB, TINY

    data = simulate_recording(TINY)
    files = write_trace_recording(data, tmp_path_factory.mktemp("rec") / "session", nwb=HAS_NWB)
    good = tmp_path_factory.mktemp("good")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        import_suite2p(files.suite2p, good / "s2p.h5", stimuli=files.stimulus_table, images=files.images)
        if HAS_NWB:
            from dina_core.importers.nwb import import_nwb
            import_nwb(files.nwb, good / "nwb.h5")
    return files, good, data


@pytest.fixture()
def s2p_case(tiny_sources, tmp_path):
    """A fresh copy of the tiny suite2p session and of its good import, to damage."""
    from hostile_sources import Case
    return Case(tiny_sources, tmp_path, "s2p")


@pytest.fixture()
def nwb_case(tiny_sources, tmp_path):
    """A fresh copy of the tiny NWB file and of its good import, to damage (skipped without pynwb)."""
    from hostile_sources import HAS_NWB, Case
    if not HAS_NWB:
        pytest.skip("pynwb is not installed")
    return Case(tiny_sources, tmp_path, "nwb")


# --- DINA Studio through AppTest and Chromium (test_app_*.py, test_browser*.py; helpers in studio_pages.py) ---

@pytest.fixture(scope="module")
def studio(tmp_path_factory, small_run_dir):
    """Environment of the app: temporary folders, the small demo recording, the shared small run as its model."""
    root = tmp_path_factory.mktemp("studio")
    env = {"DINA_DATA_DIR": root / "data", "DINA_RUNS_DIR": root / "runs", "DINA_DEMO_DIR": root / "demo",
           "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": small_run_dir[0]}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        (root / "data").mkdir()
        from dina_app import state
        state.demo_path()  # the same recording as small_data: the run's data fingerprint matches
        yield root


@pytest.fixture(scope="module")
def studio_demo(studio, small_run_dir):
    """(run, data) exactly as the app loads them, for independent reference numbers."""
    from dina_core.data.io import read_dataset
    from dina_core.runs.run import load_run
    return load_run(small_run_dir[0]), read_dataset(studio / "demo" / "demo_small.h5")


@pytest.fixture(scope="module")
def playwright_chromium():
    """Debian's Chromium through Playwright (``studio_pages.chromium``): skipped without it, failed under CI=true."""
    from studio_pages import chromium
    with chromium() as browser:
        yield browser


# --- The app's folders with an outside one (test_hostile_app_*.py) ------------------------------------------

@pytest.fixture()
def app_dirs(tmp_path, monkeypatch):
    """(data folder, runs folder, outside folder) set as the app's environment."""
    data, runs, outside = tmp_path / "data", tmp_path / "runs", tmp_path / "outside"
    for folder in (data, runs, outside):
        folder.mkdir()
    for name, value in {"DINA_DATA_DIR": data, "DINA_RUNS_DIR": runs, "DINA_DEMO_DIR": tmp_path / "demo",
                        "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": tmp_path / "no_demo_run"}.items():
        monkeypatch.setenv(name, str(value))
    return data, runs, outside


# --- Hostile inputs (test_hostile_cli*.py, test_hostile_hdf5*.py; helpers in hostile.py) -------------------

@pytest.fixture(scope="session")
def good_files(tmp_path_factory):
    """The good files no hostile command line may change (``hostile.good_cli_files``); never modify them."""
    from hostile import good_cli_files
    return good_cli_files(tmp_path_factory.mktemp("good"))


@pytest.fixture()
def folders(tmp_path):
    """(work folder, outside folder): hostile files live in work/, what they point to in outside/."""
    (tmp_path / "work").mkdir()
    (tmp_path / "outside").mkdir()
    return tmp_path / "work", tmp_path / "outside"


# --- Sensorium folders (test_hostile_sensorium*.py, test_sensorium_degenerate.py) ---------------------------

@pytest.fixture(scope="session")
def sensorium_pristine(tmp_path_factory):
    """A small Sensorium folder (60 trials, 12 neurons, 9 x 16 images) and a good import of it; never modified."""
    import warnings

    from dina_core.errors import DinaWarning
    from dina_core.importers.sensorium import import_sensorium
    from dina_core.simulate.sensorium_folder import write_sensorium_folder

    folder = write_sensorium_folder(tmp_path_factory.mktemp("pristine"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        good = import_sensorium(folder, folder.parent / "good.h5")
    return folder, good


@pytest.fixture()
def sensorium_case(sensorium_pristine, tmp_path):
    """(source copy to damage, output path holding a copy of the good import)."""
    import shutil

    from dina_core.simulate.sensorium_folder import NAME

    folder, good = sensorium_pristine
    src = shutil.copytree(folder, tmp_path / "src" / NAME)
    out = tmp_path / "out" / "recording.h5"
    out.parent.mkdir()
    shutil.copy2(good, out)
    return src, out


# --- small_data as a raw suite2p session (test_suite2p*.py, test_app_import*.py; helpers in simulated_sessions.py)

@pytest.fixture(scope="session")
def suite2p_files(small_data, tmp_path_factory):
    """``small_data``'s suite2p folder, stimulus table, images and NWB file (shared, never modified)."""
    from simulated_sessions import simulated_files
    return simulated_files(small_data, tmp_path_factory)


@pytest.fixture(scope="module")
def suite2p_source(suite2p_files):
    """``suite2p_files`` read as a suite2p source (with its stimulus table and images)."""
    from dina_core.importers.suite2p import read_suite2p_source
    return read_suite2p_source(suite2p_files.suite2p, stimuli=suite2p_files.stimulus_table, images=suite2p_files.images)


@pytest.fixture()
def suite2p_copy(suite2p_files, tmp_path):
    """(suite2p folder, stimulus table, images) of a fresh copy of the source that a test may damage."""
    import shutil

    shutil.copytree(suite2p_files.suite2p.parent, tmp_path / "rec", ignore=shutil.ignore_patterns("*.nwb"))
    root = tmp_path / "rec"
    return root / "suite2p", root / "stimulus_table.csv", root / "images.npy"
