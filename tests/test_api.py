"""The public Python API: the estimator gives what the CLI and the core give, on raw arrays, with one-line errors."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

import dina_core
from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.errors import DatasetError, DinaError
from dina_core.evaluate.model_eval import evaluate_run
from dina_core.model.inference import encode_responses
from dina_core.runs.config import TrainConfig
from dina_core.train.run import train_run

TINY = dict(epochs=1, batch_size=64)  # a fit that runs in seconds: the API's plumbing, not its accuracy


@pytest.fixture(scope="module")
def fitted(small_run_dir):
    """The suite's briefly trained run, as a fitted estimator (no second training)."""
    return dina_core.DINA.load(small_run_dir[0])


def test_top_level_names_are_lazy_and_documented():
    code = "import sys, dina_core; print('torch' in sys.modules); print(dina_core.DINA.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "dina_core.api.estimator"]  # `import dina_core` alone stays cheap
    doc = dina_core.DINA.__doc__
    for setting in ("trunk_dim", "aligned_stages", "epochs", "batch_size", "behavior"):
        assert f"{setting} = " in doc  # every setting with its default and reason, as help(DINA) shows
    for name in dina_core.__all__:
        assert getattr(dina_core, name).__doc__, name


def test_fit_is_train_run(small_data):
    model = dina_core.DINA(**TINY).fit(small_data)
    run, _ = train_run(small_data, None, train_config=TrainConfig(**TINY))
    for (key, a), b in zip(run.model.state_dict().items(), model.model_.state_dict().values()):
        assert torch.equal(a, b), key
    timeless = [[{k: v for k, v in row.items() if k != "seconds"} for row in h] for h in (model.history_, run.history)]
    assert timeless[0] == timeless[1]


def test_score_is_dina_evaluate(fitted, small_data, small_run_dir, tmp_path, capsys):
    scores = fitted.score(small_data)
    assert [r["top1"] for r in scores.rows] == [r["top1"] for r in evaluate_run(fitted.run_, small_data)]
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(small_run_dir[0]), "--data", _file(small_data, tmp_path), "--json", str(out)]) == 0
    cli = json.loads(out.read_text())
    assert cli["rows"] == json.loads(json.dumps(scores.rows)) and cli["ceiling"] == json.loads(json.dumps(scores.ceiling))
    printed = capsys.readouterr().out
    assert str(scores).splitlines()[0] in printed  # the same table, line for line
    n = scores.n_candidates
    assert scores.top1("neural_to_image", "averaged") >= 5 / n  # trained: far above chance
    assert fitted.score(small_data, tier="validation").tier == "validation"


def _file(data, folder) -> str:
    path = folder / "small.h5"
    if not path.exists():
        write_dataset(path, data)
    return str(path)


def test_transform_applies_the_runs_preprocessing(fitted, small_data):
    rows = np.arange(20)
    z = fitted.transform(small_data.responses[rows], small_data.behavior[rows])
    prepared = fitted.run_.prepare(small_data).responses[rows]
    expected = encode_responses(fitted.model_, prepared).numpy()
    np.testing.assert_allclose(z, expected, atol=1e-6)
    unnormalised = encode_responses(fitted.model_, torch.as_tensor(small_data.responses[rows])).numpy()
    assert not np.allclose(z, unnormalised, atol=1e-3)  # the defect: raw responses fed as if normalised
    maps = fitted.transform(small_data.responses[:3], small_data.behavior[:3], maps=True)
    assert set(maps) == {lv for lv in fitted.model_.levels if lv.startswith("stage")}
    assert all(m.shape[0] == 3 and m.ndim == 4 for m in maps.values())


def test_retrieve_agrees_with_the_scored_single_trial_top1(fitted, small_data):
    scores = fitted.score(small_data)
    test = np.flatnonzero(small_data.tiers == "test")
    candidates = np.unique(small_data.image_index[test])
    hits = fitted.retrieve(small_data.responses[test], small_data.images[candidates], k=5,
                           behavior=small_data.behavior[test])
    assert hits.indices.shape == hits.similarity.shape == (len(test), 5)
    assert (np.diff(hits.similarity, axis=1) <= 0).all()  # best first
    truth = np.searchsorted(candidates, small_data.image_index[test])
    top1 = float(np.mean(hits.indices[:, 0] == truth))
    assert top1 == pytest.approx(scores.top1("neural_to_image", "single_trial"), abs=1 / len(test))


def test_attribution_of_raw_arrays(fitted, small_data):
    rows = np.flatnonzero(small_data.tiers == "test")[:2]
    maps = fitted.attribute(small_data.images[small_data.image_index[rows]], small_data.responses[rows],
                            behavior=small_data.behavior[rows], n_steps=8)
    assert maps.shape == (2, *small_data.image_shape) and np.isfinite(maps).all() and np.abs(maps).sum() > 0


def test_params_clone_and_grid(small_data):
    model = dina_core.DINA(epochs=2, trunk_dim=64)
    assert model.get_params()["trunk_dim"] == 64 and model.get_params()["lr"] == TrainConfig().lr
    grid = [clone(model).set_params(**p) for p in ParameterGrid({"epochs": [1, 2], "trunk_dim": [32, 64]})]
    assert [(m.get_params()["epochs"], m.get_params()["trunk_dim"]) for m in grid] == [(1, 32), (1, 64), (2, 32),
                                                                                         (2, 64)]
    assert repr(clone(model)) == "DINA(kind='dina', trunk_dim=64, epochs=2)"  # settings in config order
    linear = clone(dina_core.DINA(epochs=2)).set_params(kind="linear")  # the dina settings at their defaults drop
    assert linear.get_params()["kind"] == "linear" and "trunk_dim" not in linear.get_params()
    with pytest.raises(DinaError, match="trunk_dim"):
        model.set_params(kind="linear")  # a dina setting the linear model has not
    with pytest.raises(DinaError, match="unknown setting 'trunk_width'.*valid settings: kind, ensemble"):
        dina_core.DINA(trunk_width=3)
    with pytest.raises(DinaError, match="'epochs': expected an integer >= 1, found 0"):
        dina_core.DINA(epochs=0).fit(small_data)


def test_save_load_round_trip(small_data, tmp_path):
    model = dina_core.DINA(**TINY).fit(small_data)
    model.save(tmp_path / "run")
    loaded = dina_core.DINA.load(tmp_path / "run")
    images = small_data.images[:4]
    np.testing.assert_array_equal(model.embed_images(images), loaded.embed_images(images))
    assert loaded.get_params()["epochs"] == 1
    with pytest.raises(DinaError, match="already holds a finished run"):
        model.save(tmp_path / "run")


def test_data_in_memory_is_checked_like_a_file(small_data, fitted):
    leaked = replace(small_data, tiers=small_data.tiers.copy())
    test_image = small_data.image_index[small_data.tiers == "test"][0]
    first_train = np.flatnonzero(small_data.tiers == "train")[0]
    leaked.image_index = small_data.image_index.copy()
    leaked.image_index[first_train] = test_image  # a test image shown on a train trial
    with pytest.raises(DatasetError, match="test images never shown on train or validation trials"):
        dina_core.DINA(**TINY).fit(leaked)
    with pytest.raises(DatasetError, match="test images never shown"):
        evaluate_run(fitted.run_, leaked)


@pytest.mark.parametrize("call, message", [
    (lambda m, d: m.transform(d.responses[:3, :10], d.behavior[:3]), r"expected \(n, 200\) raw responses"),
    (lambda m, d: m.transform(np.full((2, 200), np.nan), d.behavior[:2]), "expected finite values"),
    (lambda m, d: m.transform(d.responses[:2]), "behaviour columns"),
    (lambda m, d: m.embed_images(d.images[:2, :5]), r"expected \(n, 36, 64\) grey-level images"),
    (lambda m, d: m.retrieve(d.responses[:2], d.images[:3], k=4, behavior=d.behavior[:2]), "at most the 3"),
    (lambda m, d: m.transform(d.responses[:2], d.behavior[:2], level="stage9"), "level 'stage9': expected one of"),
    (lambda m, d: m.score(d, tier="train"), "expected 'test' or 'validation'"),
])
def test_bad_input_is_a_one_line_error(fitted, small_data, call, message):
    with pytest.raises(DinaError, match=message) as err:
        call(fitted, small_data)
    assert "\n" not in str(err.value)


def test_unfitted_and_other_data(small_data):
    with pytest.raises(DinaError, match="not fitted yet"):
        dina_core.DINA().score(small_data)
    with pytest.raises(DinaError, match="the same recording"):  # a joint model takes each recording once
        dina_core.DINA().fit([small_data, small_data])
    other = dina_core.simulate_recording(size="small", seed=3)
    model = dina_core.DINA(**TINY).fit(small_data)
    with pytest.raises(DinaError, match="allow_other_data=True"):
        model.score(other)
    assert model.score(other, allow_other_data=True).data_check["same_data"] is False


def test_files_are_never_replaced_unasked(tmp_path):
    out = tmp_path / "sim.h5"
    dina_core.simulate_recording(out, size="small")
    before = out.read_bytes()
    with pytest.raises(DinaError, match="overwrite=True"):
        dina_core.simulate_recording(out, size="small", seed=1)
    with pytest.raises(DinaError, match="overwrite=True"):
        dina_core.import_sensorium(tmp_path, out)
    assert out.read_bytes() == before
    assert dina_core.load(out).n_neurons == 200


def test_analyze_is_dina_analyze(fitted, small_data):
    summary = dina_core.analyze(fitted, small_data, manipulations=("low_pass",), random_draws=2)
    assert summary["data_check"]["same_data"] and set(summary["structure_probes"]) == {"low_pass"}
    assert summary["full_top1"] > summary["chance_top1"]
    with pytest.raises(DinaError, match="unknown setting"):
        dina_core.analyze(fitted, small_data, draws=2)
