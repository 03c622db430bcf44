"""DINA Studio's Across animals page through AppTest.

Two simulated animals of one visual system (``simulate_animals``) are written into the data folder, and a tiny DINA
run (maps only, two epochs) is trained on each into the runs folder, recording its file as ``data_path``; a third
run names a recording that has gone. The page lists the two, refuses the third with its reason, computes their
consistency in the background and shows the saved result; a damaged saved result is one error line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dina_app import keys
from dina_core.simulate import SimConfig
from studio_pages import open_page, texts, traces

MAPS_ONLY = {"encoding_model_level": False, "linear_level": False}  # DINA's maps alone: quick to train


@pytest.fixture(scope="module")
def aa_studio(tmp_path_factory):
    """The app's folders (no demo run) with two animals' recordings and a run on each, plus a run whose recording
    is missing."""
    from dina_core.data.format import write_dataset
    from dina_core.runs.config import TrainConfig
    from dina_core.runs.run import load_run, save_run
    from dina_core.simulate.animals import simulate_animals
    from dina_core.train.run import train_run

    root = tmp_path_factory.mktemp("aa_studio")
    env = {"DINA_DATA_DIR": root / "data", "DINA_RUNS_DIR": root / "runs", "DINA_DEMO_DIR": root / "demo",
           "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": root / "no_demo_run"}
    (root / "data").mkdir()
    for i, data in enumerate(simulate_animals(2, config=SimConfig.small())):
        path = root / "data" / f"animal{i + 1}.h5"
        write_dataset(path, data)
        train_run(data, root / "runs" / f"run{i + 1}", model_config=MAPS_ONLY, train_config=TrainConfig(epochs=2),
                  metadata={"data_path": str(path)})
    gone = load_run(root / "runs" / "run1")
    gone.metadata["data_path"] = str(root / "data" / "gone.h5")
    save_run(gone, root / "runs" / "orphan")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        yield root


def test_page_renders_with_no_runs_and_no_results(aa_studio, tmp_path, monkeypatch):
    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page("across_animals")
    assert not at.error, [e.value for e in at.error]
    assert "No saved DINA run" in texts(at) and "No consistency computed yet" in texts(at)
    assert at.button(key="aa.start").disabled


def test_consistency_computed_from_the_page_shows_the_matrix_and_the_table(aa_studio):
    from dina_app import jobs

    at = open_page("across_animals")
    assert not at.error, [e.value for e in at.error]
    picker = at.multiselect(key="aa.runs")
    assert sorted(picker.options) == [f"simulated animal {i} of 2 (study seed {SimConfig.small().seed}): run run{i}"
                                      for i in (1, 2)]
    assert "orphan" in texts(at) and "gone.h5" in texts(at)  # listed with its reason, not offered
    assert at.button(key="aa.start").disabled  # fewer than two runs chosen
    picker.set_value([str((aa_studio / "runs" / f"run{i}").resolve()) for i in (1, 2)]).run()
    at.button(key="aa.start").click().run()
    job = jobs.get(f"consistency:{at.session_state[keys.SESSION]}")
    assert job is not None and job.wait(timeout=300) and job.snapshot()["status"] == "finished", job.snapshot()
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    saved = json.loads((aa_studio / "runs" / "consistency").glob("*.json").__next__().read_text())
    assert saved["runs"] == [str((aa_studio / "runs" / f"run{i}").resolve()) for i in (1, 2)]
    assert saved["n_shared"][0][1] > 100 and saved["matrix"][0][0] == 1.0  # half of each tier is shared
    matrix, control = (traces(c)[0] for c in at.get("plotly_chart"))
    assert np.allclose(np.array(matrix["z"], dtype=float), np.array(saved["matrix"], dtype=float), equal_nan=True)
    assert control["z"][0][0] is None or np.isnan(control["z"][0][0])  # no control on the diagonal
    assert f"n={saved['n_shared'][0][1]}" in matrix["text"][0][1]
    rows = at.dataframe[0].value
    assert len(rows) == 2 and list(rows["shared images"]) == [saved["n_shared"][0][1]] * 2
    assert rows["R² ± sd"][0] == f"{saved['matrix'][0][1]:.2f} ± {saved['matrix_sd'][0][1]:.2f}"


def test_a_damaged_saved_result_is_one_error_line(aa_studio, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    (runs / "consistency").mkdir(parents=True)
    (runs / "consistency" / "20990101-000000.json").write_text('{"names": ["a", "b"], "matrix": [[1.0]]')
    monkeypatch.setenv("DINA_RUNS_DIR", str(runs))
    at = open_page("across_animals", **{keys.PRESENT: True})
    assert len(at.error) == 1 and "cannot be shown" in at.error[0].value
    (runs / "consistency" / "20990101-000000.json").write_text('{"names": ["a", "b"], "matrix": [[1.0]]}')
    at = open_page("across_animals")
    assert len(at.error) == 1 and "not a consistency result" in at.error[0].value
