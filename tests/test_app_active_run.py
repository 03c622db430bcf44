"""Which model DINA Studio's pages use: a run at chance is offered, never adopted silently; a choice is deliberate,
shown in the sidebar with its validation score, and survives a reload (a new browser session). Without a
shipped model the default one trains in the background and is used unasked only when clearly above chance;
a run of another recording is never scored. The app's environment is the ``studio`` fixture (conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from dina_app import keys
from dina_core.runs.config import TrainConfig
from dina_core.runs.folder import MODEL_FILE
from studio_pages import APP, TIMEOUT, demo_fingerprint, open_page, wait_for_a_maps_epoch


def sidebar() -> str:
    """The sidebar of a new session at the app's root (AppTest's ``switch_page`` runs a page without app.py)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    return "\n".join(m.value for m in at.sidebar.markdown)


def test_a_chance_level_run_is_offered_and_a_deliberate_choice_is_remembered(studio, small_run_dir):
    from dina_app.active_run import CHOICES_FILE

    chance_run = studio / "runs" / "one-epoch"
    shutil.copytree(small_run_dir[0], chance_run)
    info = json.loads((chance_run / "run.json").read_text())
    info["metadata"]["best_val_top1"] = info["metadata"]["unselected_val_top1"] = 1 / 60  # one of 60 images: chance
    (chance_run / "run.json").write_text(json.dumps(info))
    payload = torch.load(chance_run / MODEL_FILE, weights_only=True)  # runs are ranked by what model.pt says
    payload["metadata"]["best_val_top1"] = payload["metadata"]["unselected_val_top1"] = 1 / 60
    torch.save(payload, chance_run / MODEL_FILE)
    try:
        shipped_top1 = 100 * small_run_dir[1].metadata["unselected_val_top1"]  # the score no weight search chose
        assert (f"**shipped demo run** (default)  \nvalidation top-1 {shipped_top1:.1f}% (chance 1.7%; trained level "
                "weights, before validation chose them)") in sidebar()

        at = open_page("train")
        runs = at.selectbox(key="train.chosen")
        runs.select_index(runs.options.index("one-epoch")).run()
        assert any("**one-epoch**: validation top-1 1.7% (chance 1.7%; trained level weights, before validation chose them) · "
                   "not clearly above chance" in m.value
                   for m in at.markdown)
        at.button(key="train.use").click().run()
        assert at.session_state[keys.RUN] == str(chance_run)
        # a reload is a new session: the choice is read back from the runs folder
        assert ("**one-epoch**  \nvalidation top-1 1.7% (chance 1.7%; trained level weights, before validation chose "
                "them) · not clearly above chance") in sidebar()
        assert open_page("neurons").get("plotly_chart")  # a chosen run is used, at chance or not
    finally:
        (studio / "runs" / CHOICES_FILE).unlink(missing_ok=True)
        shutil.rmtree(chance_run)


def test_the_shipped_runs_analyses_are_ready_before_the_first_visit(studio, monkeypatch):
    """Opening the app starts the warm-up; afterwards the Probes and Neurons pages compute nothing themselves."""
    import threading

    from dina_core.interpret import analyses, probes

    sidebar()  # a first session at the root
    for thread in [t for t in threading.enumerate() if t.name == "dina-warmup"]:
        thread.join(timeout=600)

    def recomputed(*args, **kwargs):
        raise AssertionError("computed again: the warm-up did not fill this cache")

    for module, name in ((probes, "structure_probe"), (analyses, "neuron_rankings"), (analyses, "pruning_curves"),
                         (analyses, "neuron_interactions")):
        monkeypatch.setattr(module, name, recomputed)
    for page in ("probes", "neurons"):
        assert open_page(page).get("plotly_chart")


def test_without_a_shipped_model_the_default_one_trains_and_a_stopped_one_is_adopted_only_above_chance(
        studio, monkeypatch, tmp_path):
    from dina_app import jobs
    from dina_core.data.io import dataset_summary
    from dina_core.evaluate.chance import validation_score

    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DINA_DEMO_RUN", str(tmp_path / "no_run"))
    at = open_page("retrieval")
    assert any("DINA's default model" in i.value and "no_run has no model.pt" in i.value for i in at.info)
    job = jobs.get(keys.demo_job(demo_fingerprint(studio)))
    assert job is not None and job.out_dir.parent == tmp_path / "runs"
    assert job.meta["epochs"] == TrainConfig().epochs  # the documented default, not a quick variant
    assert open_page("data").get("plotly_chart")  # the data pages work meanwhile
    wait_for_a_maps_epoch(job)  # stopped after an epoch of the maps, a model is saved
    job.stop()  # a stopped run is saved: its linear level fitted, its maps one epoch in
    assert job.wait(timeout=600)
    saved = json.loads((job.out_dir / "run.json").read_text())["metadata"]
    assert saved["interrupted"] and saved["linear_level"]["epochs"] >= 1
    demo = next((studio / "demo").glob("*.h5"))
    above = validation_score(saved, dataset_summary(demo), TrainConfig().validation_fraction).clearly_above_chance
    at = open_page("retrieval")
    assert not at.info and bool(at.get("plotly_chart")) == above  # used unasked only when clearly above chance
    assert above or any("none beats chance clearly" in w.value for w in at.warning)
    assert jobs.get(job.key) is job  # and no second training started


def test_the_training_time_announced_is_the_shipped_runs_own(monkeypatch, tmp_path):
    import json

    from dina_app import run_guard

    monkeypatch.setenv("DINA_DEMO_RUN", str(tmp_path))
    assert run_guard.shipped_train_minutes() == run_guard.FALLBACK_TRAIN_MINUTES  # no run.json
    (tmp_path / "run.json").write_text(json.dumps({"metadata": {"train_seconds": 340.0}}))
    assert run_guard.shipped_train_minutes() == 6  # 5.7 minutes, rounded
    (tmp_path / "run.json").write_text("{not json")
    assert run_guard.shipped_train_minutes() == run_guard.FALLBACK_TRAIN_MINUTES


def test_a_run_of_another_recording_is_refused_not_scored(studio, small_run_dir, monkeypatch):
    """A run chosen earlier (or a training adopted after the recording changed) never scores other data."""
    from dina_core.data.format import write_dataset
    from dina_core.simulate import SimConfig, simulate_recording
    other = write_dataset(studio / "data" / "other_session.h5", simulate_recording(SimConfig.small(seed=5)))
    # chosen in this session for another recording: not this recording's run, so not used
    at = open_page("retrieval", **{keys.DATA: str(other), keys.RUN: str(small_run_dir[0])})
    assert any("No model has been trained on this recording" in w.value for w in at.warning)
    assert not at.get("plotly_chart")  # nothing was scored
    # and should a run of other data ever become active, the guard itself refuses it
    from dina_app import active_run, state
    monkeypatch.setattr(active_run, "active_run_key", lambda _: state.file_key(Path(small_run_dir[0]) / "model.pt"))
    at = open_page("retrieval", **{keys.DATA: str(other)})
    refusals = [e.value for e in at.error if "not trained on this recording" in e.value]
    assert refusals and "other_session.h5" in refusals[0] and "fingerprint" in refusals[0]
    assert not at.get("plotly_chart")
