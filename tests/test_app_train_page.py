"""DINA Studio's Train page through AppTest: every form field says why, a training runs in the background
and lands in the checkpoints, Stop keeps a usable run (and never an untrained one).

The app runs on the small simulated demo (DINA_DEMO_SIZE=small) with the suite's shared small run
(``small_run_dir``) as its demo run, in temporary data/runs folders (the ``studio`` fixture, conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from dina_app import keys
from dina_core.importers.traces import TraceConfig
from dina_core.model import LinearConfig, ModelConfig
from dina_core.runs.config import TrainConfig
from studio_pages import open_page, wait_for_a_maps_epoch


FORM_CONFIGS = [TrainConfig, ModelConfig, LinearConfig, TraceConfig]  # what the app's forms are built from


@pytest.mark.parametrize("cls", FORM_CONFIGS, ids=lambda cls: cls.__name__)
def test_every_config_field_says_why_and_round_trips(cls):
    for f in fields(cls):
        assert isinstance(f.metadata.get("help"), str) and f.metadata["help"].strip(), f"{cls.__name__}.{f.name}"
    default = cls()
    assert cls.from_dict(json.loads(json.dumps(default.to_dict()))) == default


def test_the_train_forms_show_each_fields_help(studio):
    at = open_page("train")
    widgets = [*at.number_input, *at.text_input, *at.checkbox, *at.selectbox]
    for prefix, cls in ((keys.TRAIN_FORM, TrainConfig), (keys.model_form("dina"), ModelConfig)):
        shown = {w.key: w.help for w in widgets if w.key and w.key.startswith(prefix + ".")}
        assert shown == {f"{prefix}.{f.name}": f.metadata["help"] for f in fields(cls)}


def test_training_runs_in_the_background_and_lands_in_the_checkpoints(studio):
    from dina_app import jobs

    at = open_page("train")
    at.number_input(key="train.t.epochs").set_value(1)  # form values are sent with the submit click
    at.number_input(key="train.t.batch_size").set_value(64)
    at.text_input(key="train.name").set_value("app-test-run")
    next(b for b in at.button if b.label == "Start training").click().run()
    job = jobs.get(keys.training_job(at.session_state[keys.SESSION]))
    assert job is not None
    at.run()  # a rerun never restarts it
    assert jobs.get(job.key) is job
    assert job.wait(timeout=600)
    assert job.status == "finished", job.error
    at.run()
    assert not at.exception
    assert "app-test-run" in list(at.dataframe[0].value["run"])
    assert keys.RUN not in at.session_state  # offered, not adopted: the active model is a deliberate choice
    assert at.button(key="train.use_finished").label == "Use this model"


def _start_long_training(name: str):
    """(the Train page, its background job) after starting a 200-epoch training named ``name``."""
    from dina_app import jobs

    at = open_page("train")
    at.number_input(key="train.t.epochs").set_value(200)
    at.text_input(key="train.name").set_value(name)
    next(b for b in at.button if b.label == "Start training").click().run()
    return at, jobs.get(keys.training_job(at.session_state[keys.SESSION]))


def test_stop_ends_training_and_keeps_a_usable_run(studio):
    at, job = _start_long_training("stopped-run")
    wait_for_a_maps_epoch(job)  # a first epoch of the maps has finished: there is a model to keep
    at.button(key="train.stop").click().run()
    assert job.wait(timeout=600)
    assert job.status == "stopped" and (studio / "runs" / "stopped-run" / "model.pt").is_file()


def test_stop_in_the_first_epoch_saves_no_untrained_model(studio):
    _, job = _start_long_training("stopped-at-once")
    job.stop()  # before its first step: no epoch can finish
    assert job.wait(timeout=600)
    assert job.status == "stopped" and not (studio / "runs" / "stopped-at-once").exists()
