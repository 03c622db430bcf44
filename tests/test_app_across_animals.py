"""DINA Studio's Across animals page through AppTest.

Two simulated animals of one visual system (``simulate_animals``) are written into the data folder, and a tiny DINA
run (maps only, two epochs) is trained on each into the runs folder, recording its file as ``data_path``; a third
run names a recording that has gone. The page lists the two, refuses the third with its reason, computes their
consistency in the background and shows the saved result; a damaged saved result is one error line. A joint run J
over the two recordings is listed through its recordings' runs (never as a broken run), counts as both in the
comparison, and draws the core's maps of a shared stimulus; a few-shot curve under the runs folder shows its table
and curve, and a broken or hand-edited one is one notice naming the file.
"""

from __future__ import annotations

import base64
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


# -- a joint run: its listing, the comparison builder, "Where the animals agree" -------------------------------------
def _array(z) -> np.ndarray:
    """A trace's array as numpy: plotly sends numpy arrays as {'dtype', 'bdata' (base64), 'shape' (2-d ones)}."""
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        return flat.reshape([int(s) for s in str(z["shape"]).split(",")]) if "shape" in z else flat
    return np.array(z, dtype=float)


def _chart(at, key: str) -> list[dict]:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]  # an element id ends in its key
    return traces(chart)


@pytest.fixture(scope="module")
def joint_runs_dir(aa_studio):
    """A runs folder holding one joint run J, a tiny DINA over the two animals' recordings of ``aa_studio``."""
    from dina_core.data.io import read_dataset
    from dina_core.runs.config import TrainConfig
    from dina_core.train.joint import train_joint

    paths = {f"animal{i}": aa_studio / "data" / f"animal{i}.h5" for i in (1, 2)}
    train_joint({name: read_dataset(path) for name, path in paths.items()}, aa_studio / "joint_runs" / "J",
                model_config=MAPS_ONLY, train_config=TrainConfig(epochs=2, batch_size=64),
                metadata={name: {"data_path": str(path)} for name, path in paths.items()})
    return aa_studio / "joint_runs"


def test_a_joint_run_is_listed_through_its_recordings_and_never_as_broken(joint_runs_dir, tmp_path, monkeypatch):
    import shutil

    from dina_app import saved_runs, state

    monkeypatch.setenv("DINA_RUNS_DIR", str(joint_runs_dir))
    listed = {r["name"]: r for r in saved_runs.list_runs()}
    assert sorted(listed) == ["J/recordings/animal1", "J/recordings/animal2"]  # not J itself
    assert all(r["problem"] is None and r["kind"] == "dina" for r in listed.values())
    assert saved_runs.run_label(state.file_key(joint_runs_dir / "J/recordings/animal1/model.pt")) == "J · animal1"
    at = open_page("across_animals")
    assert not at.error, [e.value for e in at.error]
    picker = at.multiselect(key="aa.runs")
    assert len(picker.options) == 3 and picker.options[0] == "joint run J: the runs of animal1, animal2"
    assert "cannot be compared" not in texts(at)
    picker.set_value([str(joint_runs_dir.resolve() / "J")]).run()
    assert not at.button(key="aa.start").disabled  # the joint run alone stands for two runs

    shutil.copytree(joint_runs_dir / "J", tmp_path / "runs" / "J")  # a joint run that lost a recording's model
    (tmp_path / "runs" / "J" / "recordings" / "animal2" / "model.pt").unlink()
    (tmp_path / "runs" / "J" / "recordings" / "animal2" / "run.json").unlink()
    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    listed = {r["name"]: r for r in saved_runs.list_runs()}
    assert sorted(listed) == ["J", "J/recordings/animal1"]  # listed broken, so that it can be deleted
    assert "animal2" in listed["J"]["problem"] and listed["J/recordings/animal1"]["problem"] is None


def test_where_the_animals_agree_draws_the_core_maps_of_a_shared_stimulus(joint_runs_dir, monkeypatch):
    from dina_core.data.io import read_dataset
    from dina_core.interpret.cross_animal import common_images, cross_animal_maps
    from dina_core.runs.joint import load_joint_run

    monkeypatch.setenv("DINA_RUNS_DIR", str(joint_runs_dir))
    at = open_page("across_animals")
    assert not at.error and not at.warning, [e.value for e in [*at.error, *at.warning]]
    joint = load_joint_run(joint_runs_dir / "J")
    recordings = {n: read_dataset(joint_runs_dir.parent / "data" / f"{n}.h5") for n in ("animal1", "animal2")}
    rows = common_images(recordings)
    assert at.slider(key="aa.stimulus").max == len(rows["animal1"]) - 1 > 100  # half of each tier is shared
    at.slider(key="aa.stimulus").set_value(3)
    stages = list(joint.runs["animal1"].model.map_shapes)
    assert len(at.selectbox(key="aa.stage").options) == len(stages) > 1
    for stage in stages:
        at.selectbox(key="aa.stage").set_value(stage).run()
        assert not at.error and not at.exception, [e.value for e in at.error]
        expected = cross_animal_maps(joint.runs, recordings, {n: int(r[3]) for n, r in rows.items()}, stage)
        (stimulus,) = _chart(at, "aa.stimulus_fig")
        assert np.array_equal(_array(stimulus["z"]), recordings["animal1"].images[rows["animal1"][3]])
        aligned = [t for t in _chart(at, "aa.alignment") if t.get("name")]  # the maps, not the grey stimuli
        assert [t["name"].split(":")[0] for t in aligned] == ["animal1", "animal2"]
        assert all(_array(t["z"]).shape == recordings["animal1"].images.shape[1:] for t in aligned)
        (agreement,) = [t for t in _chart(at, "aa.agreement") if t.get("name")]
        h, w = joint.runs["animal1"].model.map_shapes[stage][1:]
        assert agreement["name"] == "animal1 and animal2" and _array(agreement["z"]).shape == (h, w)
        assert np.allclose(_array(agreement["z"]), expected["agreement"]["animal1|animal2"], atol=1e-5)
    assert "cosine over latent channels" in texts(at)


def test_a_joint_run_whose_recordings_share_no_stimulus_gets_a_notice(joint_runs_dir, monkeypatch):
    from dina_app import joint_runs

    monkeypatch.setenv("DINA_RUNS_DIR", str(joint_runs_dir))
    monkeypatch.setattr(joint_runs, "shared_stimuli", lambda keys: {n: np.array([], int) for n, _ in keys})
    at = open_page("across_animals")
    assert not at.error and not at.exception, [e.value for e in at.error]
    assert len(at.info) == 1 and "share no stimulus" in at.info[0].value
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("aa.agreement")]


# -- few-shot curves ---------------------------------------------------------------------------------------------
def _curve(trials: list[int]) -> dict:
    def arm(top1: float) -> dict:
        return {"single_trial": top1, "averaged": 2 * top1, "ci95_single_trial": [top1 / 2, 1.5 * top1],
                "ci95_averaged": [top1, 2.5 * top1], "validation_top1": top1, "seconds": 1.0}
    return {"source": "/runs/J", "recording": "mouse3 ![x](http://example.org/x.png) <b>bold</b>",
            "image_tower": "auto", "test_images": 60,
            "rows": [{"trials": t, "transfer": {**arm(0.1 + t / 4000), "image_tower": "frozen"},
                      "scratch": arm(0.05 + t / 8000)} for t in trials]}


def test_a_fewshot_curve_under_the_runs_folder_shows_its_table_and_curve(aa_studio, tmp_path, monkeypatch):
    folder = tmp_path / "runs" / "fewshot-mouse3"
    folder.mkdir(parents=True)
    (folder / "fewshot.json").write_text(json.dumps(_curve([1000, 100, 250])))
    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page("across_animals")
    assert not at.error and not at.warning, [e.value for e in [*at.error, *at.warning]]
    rows = at.dataframe[0].value
    assert list(rows["train trials"]) == [100, 250, 1000]
    assert rows["transfer single-trial"][0] == "12.5% (6%–19%)" and rows["image tower"][0] == "frozen"
    curves = {t["name"]: t for t in _chart(at, "aa.fewshot_fig") if "band" not in t["name"]}
    assert sorted(curves) == ["scratch, averaged", "scratch, single-trial", "transfer, averaged",
                              "transfer, single-trial"]
    assert list(_array(curves["scratch, averaged"]["x"])) == [100, 250, 1000]
    assert np.allclose(_array(curves["transfer, single-trial"]["y"]), [0.125, 0.1625, 0.35])
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith("aa.fewshot_fig")]
    assert json.loads(chart.proto.spec)["layout"]["xaxis"]["type"] == "log"
    assert "mouse3 ![x]" in at.text[0].value and "![x]" not in texts(at)  # the file's strings stay plain text


@pytest.mark.parametrize("content", ['{"rows": [', json.dumps({**_curve([100]), "test_images": "60"}),
                                     json.dumps(_curve([100])).replace("0.125", '"<b>0.125</b>"'),
                                     json.dumps({**_curve([100]), "rows": [{"trials": 100}]})])
def test_a_broken_fewshot_curve_is_one_notice_naming_the_file(aa_studio, tmp_path, monkeypatch, content):
    folder = tmp_path / "runs" / "fewshot-mouse3"
    folder.mkdir(parents=True)
    (folder / "fewshot.json").write_text(content)
    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page("across_animals")
    assert not at.error and len(at.warning) == 1, [e.value for e in [*at.error, *at.warning]]
    assert str(folder / "fewshot.json") in at.warning[0].value and "<b>" not in at.warning[0].value
    assert not at.dataframe and not [c for c in at.get("plotly_chart") if c.proto.id.endswith("aa.fewshot_fig")]
