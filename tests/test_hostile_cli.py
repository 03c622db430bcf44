"""Hostile command lines: every user mistake is one clear line, before any expensive work, and changes nothing.

Each refused case runs ``dina_core.cli.main`` in-process and asserts its outcome class: exit status 2,
stderr starting with ``error:``, naming the option or file and what was expected, no traceback; and
that neither the good files (``good_files``: a tiny recording and a run trained on it) nor the case's own
folder changed. The expensive steps (simulating, training, benchmarking, scoring, analysing) are replaced
by tripwires, so "checked before any work" is asserted, not timed. Scoring other data when allowed:
test_hostile_cli_other_data.py; how errors and bugs are reported: test_hostile_cli_errors.py.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

from dina_core.cli import main
from hostile import untouched

EXPENSIVE = {"dina_core.simulate.simulate_recording": "simulating", "dina_core.train.run.train_run": "training",
             "dina_core.benchmark.run_benchmark": "benchmarking", "dina_core.evaluate.model_eval.evaluate_run":
             "scoring", "dina_core.interpret.analyze.analyze": "analysing"}
COMMAND_MODULES = [f"dina_core.cli.{name}" for name in ("commands", "scoring", "tuning", "preflight")] + [
    "dina_core.evaluate.table", "dina_core.api"]


@pytest.fixture()
def tripwires(monkeypatch):
    """Replace every expensive step by a function that fails the test if it is reached.

    Every command module is imported first and each name bound to an expensive function is patched where
    it is bound, so a module first imported during a case never keeps a tripwire for later tests.
    """
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    for target, work in EXPENSIVE.items():
        def tripped(*args, work=work, **kwargs):
            raise AssertionError(f"{work} started before the mistake was reported")
        module, _, attr = target.rpartition(".")
        original = getattr(importlib.import_module(module), attr)
        for loaded in [m for n, m in sys.modules.items() if n.startswith("dina_core") and m is not None]:
            for bound, value in list(vars(loaded).items()):
                if value is original:
                    monkeypatch.setattr(loaded, bound, tripped)


def _config(tmp: Path, content: bytes) -> str:
    (tmp / "config.json").write_bytes(content)
    return str(tmp / "config.json")


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe.h5")
    return str(tmp / "pipe.h5")


def _folder(tmp: Path, name: str) -> str:
    (tmp / name).mkdir()
    return str(tmp / name)


def _file(tmp: Path, name: str, text: str = "keep me") -> str:
    (tmp / name).write_text(text)
    return str(tmp / name)


def _train(g, *options: str) -> list[str]:
    return ["train", g.data, "--out", str(g.root / "never_written"), *options]


CUDA = "cuda:99" if torch.cuda.is_available() else "cuda"
CUDA_EXPECTED = "CUDA device(s)" if torch.cuda.is_available() else "CUDA is not available"

# id: (argv from (good files, case folder), what stderr must name)
CASES = {
    "batch_size_0": (lambda g, t: _train(g, "--batch-size", "0"), ["--batch-size 0", "integer >= 2"]),
    "batch_size_negative": (lambda g, t: _train(g, "--batch-size", "-1"), ["--batch-size -1", "integer >= 2"]),
    "lr_nan": (lambda g, t: _train(g, "--lr", "nan"), ["--lr nan", "finite number > 0"]),
    "lr_inf": (lambda g, t: _train(g, "--lr", "inf"), ["--lr inf", "finite number > 0"]),
    "lr_zero": (lambda g, t: _train(g, "--lr", "0"), ["--lr 0", "finite number > 0"]),
    "lr_negative": (lambda g, t: ["benchmark", g.data, "--out", str(t / "b"), "--lr", "-1"], ["--lr -1", "> 0"]),
    "epochs_negative": (lambda g, t: _train(g, "--epochs", "-1"), ["--epochs -1", "integer >= 1"]),
    "epochs_not_a_number": (lambda g, t: _train(g, "--epochs", "many"), ["--epochs", "invalid int value: 'many'"]),
    "device_banana": (lambda g, t: _train(g, "--device", "banana"), ["--device banana", "'cpu', 'cuda'"]),
    "device_missing_cuda": (lambda g, t: _train(g, "--device", CUDA), [f"--device {CUDA}", CUDA_EXPECTED]),
    "seed_negative": (lambda g, t: _train(g, "--seed", "-1"), ["--seed -1", "integer >= 0"]),
    "seed_too_large": (lambda g, t: _train(g, "--seed", str(2**40)), [f"--seed {2**40}", "<= 4294967295"]),
    "config_not_json": (lambda g, t: _train(g, "--config", _config(t, b"{epochs: 3")),
                        ["--config", "config.json", "not JSON", "line 1", '{"model"']),
    "config_latin1": (lambda g, t: _train(g, "--config", _config(t, '{"train": {"lr": "caf\u00e9"}}'.encode("latin-1"))),
                      ["--config", "config.json", "0xe9", "not UTF-8", "UTF-8 JSON file"]),
    "config_unknown_field": (lambda g, t: _train(g, "--config", _config(t, b'{"train": {"epochz": 3}}')),
                             ["config.json", "section 'train'", "'epochz'", "valid fields: epochs, batch_size"]),
    "config_unknown_model_field": (lambda g, t: _train(g, "--config", _config(t, b'{"model": {"n_layers": 3}}')),
                                   ["config.json", "section 'model'", "'n_layers'", "valid fields: stage_channels"]),
    "config_bad_model_value": (lambda g, t: _train(g, "--config", _config(t, b'{"model": {"stage_channels": [0]}}')),
                               ["config.json", "'stage_channels'", "integers >= 1", "[0]"]),
    "config_wrong_type": (lambda g, t: _train(g, "--config", _config(t, b'{"train": {"lr": "fast"}}')),
                          ["config.json", "field 'lr'", "finite number", "'fast'"]),
    "config_is_a_list": (lambda g, t: _train(g, "--config", _config(t, b"[1, 2]")),
                         ["config.json", "JSON list", "expected an object"]),
    "config_missing": (lambda g, t: _train(g, "--config", str(t / "nope.json")), ["--config", "nope.json", "no such file"]),
    "train_out_is_a_file": (lambda g, t: ["train", g.data, "--out", _file(t, "taken.txt")],
                            ["--out", "taken.txt", "is an existing file", "expected a folder"]),
    "benchmark_out_is_a_file": (lambda g, t: ["benchmark", g.data, "--out", _file(t, "metrics.txt")],
                                ["--out", "metrics.txt", "is an existing file"]),
    "train_data_missing": (lambda g, t: ["train", str(t / "absent.h5"), "--out", str(t / "r")],
                           ["absent.h5", "no such file", "DINA dataset file"]),
    "train_data_is_a_folder": (lambda g, t: ["train", _folder(t, "rec.h5"), "--out", str(t / "r")],
                               ["rec.h5", "is a folder", "DINA dataset file"]),
    "info_fifo": (lambda g, t: ["info", _fifo(t)], ["pipe.h5", "not a regular file"]),
    "info_missing": (lambda g, t: ["info", str(t / "absent.h5")], ["absent.h5", "no such file"]),
    "simulate_zero_neurons": (lambda g, t: ["simulate", str(t / "sim.h5"), "--size", "small", "--neurons", "0"],
                              ["--neurons 0", "integer >= 1"]),
    "simulate_too_few_neurons": (lambda g, t: ["simulate", str(t / "sim.h5"), "--neurons", "5"],
                                 ["--neurons 5", "n_interaction_groups"]),
    "simulate_into_missing_folder": (lambda g, t: ["simulate", str(t / "no" / "sim.h5"), "--size", "small"],
                                     ["sim.h5", "does not exist", "existing folder"]),
    "simulate_out_is_a_folder": (lambda g, t: ["simulate", _folder(t, "sim.h5"), "--size", "small"],
                                 ["sim.h5", "is a folder", "file name"]),
    "evaluate_json_missing_folder": (lambda g, t: ["evaluate", g.run, "--json", str(t / "missing" / "e.json")],
                                     ["--json", "e.json", "missing does not exist", "existing folder"]),
    "evaluate_json_is_a_folder": (lambda g, t: ["evaluate", g.run, "--json", _folder(t, "e.json")],
                                  ["--json", "e.json", "is a folder"]),
    "evaluate_json_over_the_data": (lambda g, t: ["evaluate", g.run, "--data", g.data, "--json", g.data],
                                    ["--json", "tiny.h5", "is the input"]),
    "analyze_json_missing_folder": (lambda g, t: ["analyze", g.run, "--json", str(t / "missing" / "a.json")],
                                    ["--json", "a.json", "does not exist"]),
    "evaluate_data_missing": (lambda g, t: ["evaluate", g.run, "--data", str(t / "absent.h5")],
                              ["--data", "absent.h5", "no such file"]),
    "evaluate_data_is_a_folder": (lambda g, t: ["evaluate", g.run, "--data", _folder(t, "rec.h5")],
                                  ["--data", "rec.h5", "is a folder"]),
    "evaluate_run_missing": (lambda g, t: ["evaluate", str(t / "no_run")], ["no_run", "no such file or folder",
                                                                              "run folder"]),
    "evaluate_device_banana": (lambda g, t: ["evaluate", g.run, "--device", "banana"], ["--device banana"]),
    "evaluate_other_data": (lambda g, t: ["evaluate", g.run, "--data", g.other],
                            ["other_session.h5", "not the recording this run was trained on", "fingerprint",
                             "--allow-other-data"]),
    "evaluate_tier_relabelled_copy": (lambda g, t: ["evaluate", g.run, "--data", g.relabelled],
                                      ["relabelled_copy.h5", "not the recording this run was trained on"]),
    "analyze_other_data": (lambda g, t: ["analyze", g.run, "--data", g.other, "--json", str(t / "a.json")],
                           ["other_session.h5", "not the recording", "--allow-other-data"]),
    "import_negative_pixel_size": (lambda g, t: ["import", "nwb", _file(t, "rec.nwb"), str(t / "o.h5"),
                                                 "--um-per-pixel", "-1"], ["--um-per-pixel -1", "finite number > 0"]),
    "import_validation_fraction": (lambda g, t: ["import", "nwb", _file(t, "rec.nwb"), str(t / "o.h5"),
                                                 "--validation-fraction", "1.5"],
                                   ["--validation-fraction 1.5", "[0, 1)"]),
    "import_iscell_threshold": (lambda g, t: ["import", "suite2p", _folder(t, "suite2p"), str(t / "o.h5"),
                                              "--stimuli", _file(t, "s.csv"), "--images", _folder(t, "imgs"),
                                              "--iscell-threshold", "2"], ["--iscell-threshold 2", "[0, 1]"]),
    "import_reversed_window": (lambda g, t: ["import", "nwb", _file(t, "rec.nwb"), str(t / "o.h5"),
                                             "--response-window-s", "0.6", "0.1"],
                               ["--response-window-s", "start < end"]),
    "import_over_its_source": (lambda g, t: ["import", "nwb", _file(t, "rec.nwb"), str(t / "rec.nwb")],
                               ["rec.nwb", "is the input"]),
}


@pytest.mark.parametrize("case", CASES)
def test_a_mistake_is_one_clear_line_before_any_work(case, good_files, tripwires, tmp_path, capsys):
    build, named = CASES[case]
    argv = build(good_files, tmp_path)
    with untouched(good_files.root, tmp_path):
        status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    # The fixture's tiny test tier is legitimately flagged ("warning: ..."); the mistake itself is one line.
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("warning:"))
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for words in named:
        assert words in err, f"{words!r} not in {err!r}"
