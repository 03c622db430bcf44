"""DINA Studio with the noise ceiling, a seed-ensemble model and the Train page's tuning (AppTest, small demo)."""

from __future__ import annotations

import base64
import copy

import numpy as np
import pytest

from dina_app import keys
from studio_pages import open_page, texts, traces, wait_for_a_maps_epoch


def _values(y) -> np.ndarray:
    """A trace's y as numpy: plotly sends numpy arrays as {'dtype', 'bdata' (base64)}."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    return np.asarray(y, dtype=float)


def test_retrieval_draws_the_noise_ceiling_of_the_test_repeats(studio, studio_demo):
    from dina_core.evaluate.ceiling import tier_ceiling

    run, data = studio_demo
    at = open_page("retrieval")
    expected = {r["responses"]: r["top1"] for r in tier_ceiling(run.prepare(data), "test")
                if r["direction"] == "neural_to_image"}
    shown = [_values(c["y"]) for chart in at.get("plotly_chart") for c in traces(chart)
             if c.get("name") == "noise ceiling"]
    assert len(shown) == 2  # one per response mode, averaged panel first
    assert [y[0] for y in shown] == pytest.approx([expected["averaged"], expected["single_trial"]])
    assert all(np.all(np.diff(y) >= 0) and y[-1] == 1.0 for y in shown)
    assert "not a proof that no model can do better" in texts(at)


@pytest.fixture(scope="module")
def ensemble_dir(studio, studio_demo):
    from dataclasses import replace

    from dina_core.runs.ensemble import EnsembleModel
    from dina_core.runs.run import save_run

    run, _ = studio_demo
    folder = studio / "runs" / "ensemble-of-two"
    save_run(replace(run, model=EnsembleModel([run.model, copy.deepcopy(run.model)], [0, 1])), folder)
    return folder


@pytest.mark.parametrize("page", ["retrieval", "feature_maps"])
def test_an_ensemble_is_one_model_and_interpretation_names_its_first_member(ensemble_dir, page):
    at = open_page(page, **{keys.RUN: str(ensemble_dir)})
    assert not at.error, [e.value for e in at.error]
    assert "2-seed ensemble" in texts(at) and "first member (seed 0)" in texts(at)
    assert at.get("plotly_chart")


def test_a_tuned_config_prefills_the_training_form(studio):
    from dina_core.model import ModelConfig
    from dina_core.runs.config import TrainConfig

    tuned = {"model": ModelConfig(neuron_dropout=0.3).to_dict(), "train": TrainConfig(weight_decay=0.03).to_dict()}
    at = open_page("train", **{keys.TUNED: tuned})
    assert at.number_input(key=f"{keys.model_form('dina')}.neuron_dropout").value == pytest.approx(0.3)
    assert at.number_input(key=f"{keys.TRAIN_FORM}.weight_decay").value == pytest.approx(0.03)


def test_tuning_runs_in_the_background_and_offers_its_config(studio):
    from dina_app import jobs

    at = open_page("train")
    at.button(key="train.tune").click().run()
    job = jobs.get(keys.tune_job(at.session_state[keys.SESSION]))
    assert job is not None
    wait_for_a_maps_epoch(job)  # a first epoch of the maps has finished: the first trial has a score to offer
    at.button(key="train.tune_stop").click().run()
    assert job.wait(timeout=600) and job.status == "stopped", job.error
    at.run()
    assert not at.exception
    assert (job.out_dir / "tune.json").is_file() and (job.out_dir / "best_config.json").is_file()
    assert list(at.dataframe[0].value["trial"]) == [0]
    at.button(key="train.tune_use").click().run()
    assert at.session_state[keys.TUNED] == job.snapshot()["result"]["best_config"]
