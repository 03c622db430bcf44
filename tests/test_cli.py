"""The `dina` command line end to end on small data, and its clear errors."""

import json
import re

import pytest

from dina_core.cli import main
from sensorium_fixture import write_sensorium_folder


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small.h5"
    assert main(["simulate", str(path), "--size", "small", "--seed", "3"]) == 0
    return path


def test_info_prints_summary(small_file, capsys):
    assert main(["info", str(small_file)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_neurons"] == 200 and summary["has_ground_truth"]


def test_train_then_evaluate(small_file, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(small_file), "--out", str(run), "--epochs", "2", "--device", "cpu"]) == 0
    assert (run / "model.pt").exists() and (run / "run.json").exists()
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run), "--json", str(out)]) == 0  # data path recorded by `train`
    rows = json.loads(out.read_text())["rows"]
    assert {(r["direction"], r["responses"]) for r in rows} == {
        ("neural_to_image", "single_trial"), ("neural_to_image", "averaged"),
        ("image_to_neural", "single_trial"), ("image_to_neural", "averaged")}
    assert "top-1" in capsys.readouterr().out
    # the ceiling of the run's own prepared test tier, and every row's share of it
    from dina_core.data.io import read_dataset
    from dina_core.evaluate.ceiling import tier_ceiling
    from dina_core.runs.run import load_run
    ceiling = json.loads(out.read_text())["ceiling"]
    assert ceiling == json.loads(json.dumps(tier_ceiling(load_run(run).prepare(read_dataset(small_file)), "test")))
    bound = {(c["direction"], c["responses"]): c["top1"] for c in ceiling}
    for r in rows:
        assert r["fraction_of_ceiling"] == pytest.approx(r["top1"] / bound[r["direction"], r["responses"]])
    summary_path = tmp_path / "analysis.json"
    assert main(["analyze", str(run), "--json", str(summary_path)]) == 0
    summary = json.loads(summary_path.read_text())
    for key in ("structure_probes", "pruning", "alignment_regions", "ground_truth"):
        assert key in summary
    assert {"strength", "top1"} <= set(summary["structure_probes"]["low_pass"][0])
    assert {"k", "top1", "top1_std"} <= set(summary["pruning"]["random"][0])  # mean and spread over draws
    assert 0.0 <= summary["ground_truth"]["strong_responder_auc"] <= 1.0


def test_import_sensorium_then_info(tmp_path, capsys):
    import numpy as np
    src = write_sensorium_folder(tmp_path / "static", n_trials=60, n_neurons=25, image_shape=(12, 20),
                                 rng=np.random.default_rng(0))
    out = tmp_path / "imported.h5"
    assert main(["import", "sensorium", str(src), str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()  # not a terminal: a plain line per stage read, then the result
    assert [line.split(":")[0] for line in lines[:2]] == ["images", "responses"] and lines[-1] == f"wrote {out}"
    assert all(re.fullmatch(r"\w+: (\d+)/\1 items in [\d.]+ s \([\d.]+ item/s\)", line) for line in lines[:-1])
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n_neurons"] == 25


def test_bad_inputs_exit_2_with_a_message(tmp_path, capsys):
    not_h5 = tmp_path / "notes.h5"
    not_h5.write_text("hello")
    assert main(["info", str(not_h5)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "notes.h5" in err
    assert main(["evaluate", str(tmp_path / "missing_run")]) == 2
    assert "missing_run: no such file" in capsys.readouterr().err
    bad_config = tmp_path / "config.json"
    bad_config.write_text(json.dumps({"train": {"epochz": 3}}))
    assert main(["train", str(not_h5), "--out", str(tmp_path / "r"), "--config", str(bad_config)]) == 2
    assert "epochz" in capsys.readouterr().err


def test_degenerate_input_warnings_read_as_one_line(monkeypatch, capsys):
    """A DinaWarning (usable but degenerate input) is said as 'warning: ...', not Python's file:line form."""
    import warnings

    from dina_core.cli import parser
    from dina_core.errors import DinaWarning

    monkeypatch.setattr(parser, "cmd_info", lambda args: warnings.warn("only 3 test images", DinaWarning))
    assert main(["info", "any.h5"]) == 0
    assert capsys.readouterr().err == "warning: only 3 test images\n"
