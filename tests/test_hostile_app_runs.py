"""Broken run folders in DINA Studio, and run names that reach out, hide or collide.

Outcome classes: *listed as broken* (the app names the file and field, never offers the run for use, and keeps
working), *refused* (a DinaError or a page error naming what is wrong, nothing changed). The runs are one-epoch
linear trainings on the small simulated recording (``finished_run`` and ``interrupted_run`` in conftest.py),
copied and damaged for each case.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dina_core.errors import DinaError
from dina_core.runs.names import check_run_name
from dina_core.runs.run import MODEL_FILE, STATE_FILE, SUMMARY_FILE
from hostile import untouched
from run_folders import APP, copy


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """Where the app simulates its small demo recording: once for the module."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture()
def app_runs(tmp_path, monkeypatch, demo_dir) -> Path:
    """The app's runs folder (empty), with its data folder and the small demo recording."""
    for name, value in {"DINA_DATA_DIR": tmp_path / "data", "DINA_RUNS_DIR": tmp_path / "runs",
                        "DINA_DEMO_DIR": demo_dir, "DINA_DEMO_SIZE": "small",
                        "DINA_DEMO_RUN": tmp_path / "no_demo_run"}.items():
        monkeypatch.setenv(name, str(value))
    (tmp_path / "data").mkdir()
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


def _summary(finished_run: Path, **changes) -> str:
    return json.dumps({**json.loads((finished_run / SUMMARY_FILE).read_text()), **changes})


BROKEN = {  # name: (run.json text or None to leave it out, model.pt bytes or None to copy the good one, reason)
    "list": (lambda f: "[1, 2]", None, r"field '<top level>': expected an object, found a list"),
    "number": (lambda f: "3.5", None, r"expected an object, found float 3\.5"),
    "not-json": (lambda f: '{"kind": "dina",', None, r"not valid JSON"),
    "not-utf8": (lambda f: b"\xff\xfe{}", None, r"not UTF-8"),
    "history-dict": (lambda f: _summary(f, history={"epoch": 0}), None, r"field 'history': expected a list"),
    "history-rows": (lambda f: _summary(f, history=[{"val_top1": "high"}]), None, r"field 'history\[0\]'"),
    "no-kind": (lambda f: json.dumps({"history": [], "metadata": {}}), None, r"field 'kind' missing"),
    "no-fingerprint": (lambda f: _summary(f, metadata={"best_val_top1": 0.5}), None,
                       r"field 'metadata.data_fingerprint': expected a string"),
    "metadata-list": (lambda f: _summary(f, metadata=[]), None, r"field 'metadata': expected an object"),
    "no-run-json": (None, None, r"run\.json: missing"),
    "model-garbage": (lambda f: (f / SUMMARY_FILE).read_text(), lambda f: b"\0" * 64,
                      r"model\.pt: not a PyTorch checkpoint"),
    "model-truncated": (lambda f: (f / SUMMARY_FILE).read_text(),
                        lambda f: (f / MODEL_FILE).read_bytes()[:(f / MODEL_FILE).stat().st_size // 2],
                        r"model\.pt: not a PyTorch checkpoint.*truncated"),
}


def _broken_run(runs: Path, finished_run: Path, name: str) -> Path:
    summary, model, _ = BROKEN[name]
    folder = runs / name
    folder.mkdir()
    if summary is not None:
        text = summary(finished_run)
        (folder / SUMMARY_FILE).write_bytes(text if isinstance(text, bytes) else text.encode())
    (folder / MODEL_FILE).write_bytes(model(finished_run) if model is not None
                                      else (finished_run / MODEL_FILE).read_bytes())
    return folder


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_run_folder_is_listed_as_broken_with_the_reason(app_runs, finished_run, name):
    from dina_app import active_run, saved_runs, state

    folder = _broken_run(app_runs, finished_run, name)
    with untouched(app_runs):
        (listed,) = [r for r in saved_runs.list_runs() if r["path"] == str(folder)]  # listed: it can be deleted
        assert active_run.compatible_runs(state.active_data_key()) == []  # never offered for use
    assert listed["problem"] is not None and str(folder) in listed["problem"]
    assert re.search(BROKEN[name][2], listed["problem"]), listed["problem"]


def test_a_checkpoint_that_does_not_load_is_named_by_the_full_check(app_runs, finished_run):
    """A torch archive of something else: the listing (which reads model.pt's metadata) and the full
    weights-only load both name the field that is wrong."""
    from dina_app import saved_runs, state

    folder = copy(finished_run, app_runs, "foreign")
    torch.save({"format": "someone-else"}, folder / MODEL_FILE)
    with untouched(app_runs):
        (listed,) = saved_runs.list_runs()
        problem = saved_runs.checkpoint_problem(state.file_key(folder / MODEL_FILE))
    for said in (listed["problem"], problem):
        assert "field 'format'" in said and str(folder) in said, said


def test_the_train_page_lists_broken_runs_without_breaking(app_runs, finished_run):
    """Every page's sidebar lists runs: broken folders of every kind, and the page still works."""
    copy(finished_run, app_runs, "good")
    for name in BROKEN:
        _broken_run(app_runs, finished_run, name)
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.switch_page("pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value
    problems = dict(zip(table["run"], table["problem"]))
    assert problems.pop("good") == "" and set(problems) == set(BROKEN) and all(problems.values())
    chooser = at.selectbox(key="train.chosen")
    chooser.select_index(chooser.options.index("list")).run()
    assert any("is broken and cannot be used" in w.value for w in at.warning)
    assert not any(b.label == "Use this model" and not b.disabled for b in at.button)  # never offered for use


def test_a_model_page_whose_run_does_not_load_shows_why(app_runs, finished_run):
    """The chosen run's model.pt is a torch file of something else: the page says so, no traceback."""
    from dina_app import keys

    folder = copy(finished_run, app_runs, "foreign")
    torch.save({"format": "someone-else"}, folder / MODEL_FILE)
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.session_state[keys.RUN] = str(folder)
        at.switch_page("pages/retrieval.py").run()
        assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be used" in e.value and "field 'format'" in e.value for e in at.error), at.error


def test_a_demo_model_that_cannot_resume_says_why_and_a_retry_starts_afresh(app_runs, interrupted_run):
    """A killed training of the demo's default model, of another model kind: resuming it is refused on the page; *Try again* replaces it."""
    from dina_app import jobs, keys, state

    fp = state.fingerprint(state.file_key(state.demo_path()))
    folder = copy(interrupted_run, app_runs, f"demo-default-{fp}")
    for name in (MODEL_FILE, SUMMARY_FILE):  # killed before its final save: only state.pt
        (folder / name).unlink()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page("pages/retrieval.py").run()
    assert jobs.get(keys.demo_job(fp)).wait(timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot resume" in e.value and "model kind: 'linear'" in e.value for e in at.error), at.error
    next(b for b in at.button if b.label == "Try again").click().run()
    retry = jobs.get(keys.demo_job(fp))
    while retry.live and (folder / STATE_FILE).exists():  # a fresh start removes the state it could not resume
        time.sleep(0.1)
    retry.stop()
    assert retry.wait(timeout=300) and retry.status == "stopped"
    assert not (folder / STATE_FILE).exists()


@pytest.mark.parametrize("name, reason", [
    ("x" * 300, "300 characters; at most 64"),
    ("a/b", r"characters '/' not allowed"),
    ("..", "starts with '.'"),
    (".hidden", "starts with '.'"),
    ("run\x1bname", r"characters '\\x1b' not allowed"),
    ("-rf", "starts with '-'"),
    ("Good", "a run folder 'good' exists already"),
    ("", "empty"),
], ids=["300-chars", "slash", "dotdot", "leading-dot", "control-char", "leading-dash", "collision", "empty"])
def test_run_names_that_reach_out_hide_or_collide_are_refused(name, reason):
    with pytest.raises(DinaError, match=reason):
        check_run_name(name, taken=["good"])


def test_the_train_form_refuses_a_300_character_name(app_runs):
    with untouched(app_runs):
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.switch_page("pages/train.py").run()
        at.text_input(key="train.name").set_value("r" * 300)
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert any("300 characters; at most 64" in e.value for e in at.error), [e.value for e in at.error]
