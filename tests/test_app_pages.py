"""DINA Studio, page by page, through Streamlit's AppTest (no browser; see test_browser.py for one).

The app runs on the small simulated demo (DINA_DEMO_SIZE=small) with the suite's shared small run
(``small_run_dir``) as its demo run, in temporary data/runs folders. Numbers the pages show are checked
against ``dina_core`` computed independently here, not merely for being present.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_app import keys
from dina_core.importers.traces import TraceConfig
from dina_core.model import LinearConfig, ModelConfig
from dina_core.runs.config import TrainConfig

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGES = ["data", "train", "retrieval", "feature_maps", "attributions", "probes", "neurons", "report"]
FIGURE_PAGES = {"data", "retrieval", "feature_maps", "attributions", "probes", "neurons"}
TIMEOUT = 180  # seconds per script run: generous for a loaded 2-core machine


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
def demo(studio, small_run_dir):
    """(run, data) exactly as the app loads them, for independent reference numbers."""
    from dina_core.data.io import read_dataset
    from dina_core.runs.run import load_run
    return load_run(small_run_dir[0]), read_dataset(studio / "demo" / "demo_small.h5")


def open_page(name: str, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _demo_fingerprint(studio: Path) -> str:
    from dina_app import state
    return state.fingerprint(state.file_key(studio / "demo" / "demo_small.h5"))


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_the_demo(studio, name):
    at = open_page(name)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value
    if name in FIGURE_PAGES:
        assert at.get("plotly_chart"), f"{name} shows no figure"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_in_presentation_mode(studio, name):
    at = open_page(name, **{keys.PRESENT: True})
    assert not at.error, [e.value for e in at.error]
    if name in FIGURE_PAGES:
        assert at.get("plotly_chart"), f"{name} shows no figure"


def test_data_page_tier_switch_changes_the_gallery(studio):
    at = open_page("data")
    assert {"Built-in demo", "Data folder", "Upload a DINA file", "Import Sensorium"} <= set(
        at.button_group(key="data.source").options)
    assert "of the 30 test images" in texts(at)
    at.button_group(key="data.tier").set_value("train").run()
    assert "of the 400 train images" in texts(at)
    assert [m.value for m in at.metric][:2] == ["490", "200"]


def test_data_folder_file_and_sensorium_import_become_active(studio):
    from dina_core.simulate.sensorium_folder import write_sensorium_folder

    shutil.copy(studio / "demo" / "demo_small.h5", studio / "data" / "copy.h5")
    folder = write_sensorium_folder(studio / "data" / "sensorium")
    at = open_page("data")
    at.button_group(key="data.source").set_value("Data folder").run()
    at.selectbox(key="data.file").set_value(studio / "data" / "copy.h5").run()
    at.button(key="data.open_file").click().run()
    assert at.session_state[keys.DATA] == str((studio / "data" / "copy.h5").resolve())
    assert [s.value for s in at.success] == ["Opened copy.h5"]

    at.button_group(key="data.source").set_value("Import Sensorium").run()
    at.selectbox(key="data.sensorium").set_value(folder).run()
    at.button(key="data.import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    imported = studio / "data" / "imported" / f"{folder.name}.h5"
    assert imported.is_file() and at.session_state[keys.DATA] == str(imported.resolve())
    assert [m.value for m in at.metric][1] == "12"  # the fixture folder's neurons


def test_uploads_are_saved_once_under_the_data_folder(studio):
    import io

    from dina_app import sources

    content = (studio / "demo" / "demo_small.h5").read_bytes()
    first = sources.save_upload(io.BytesIO(content), "../../etc/my recording.h5", studio / "data")
    again = sources.save_upload(io.BytesIO(content), "../../etc/my recording.h5", studio / "data")
    assert first == again and first.parent == studio / "data" / sources.UPLOADS
    assert first.name.startswith("my_recording-") and first.read_bytes() == content


def test_without_a_shipped_model_the_default_one_trains_and_a_stopped_one_is_adopted_only_above_chance(
        studio, monkeypatch, tmp_path):
    from dina_app import jobs
    from dina_core.data.io import dataset_summary
    from dina_core.evaluate.chance import validation_score

    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DINA_DEMO_RUN", str(tmp_path / "no_run"))
    at = open_page("retrieval")
    assert any("DINA's default model" in i.value and "no_run has no model.pt" in i.value for i in at.info)
    job = jobs.get(keys.demo_job(_demo_fingerprint(studio)))
    assert job is not None and job.out_dir.parent == tmp_path / "runs"
    assert job.meta["epochs"] == TrainConfig().epochs  # the documented default, not a quick variant
    assert open_page("data").get("plotly_chart")  # the data pages work meanwhile
    while job.live and not job.snapshot()["val_top1"]:  # stopped after an epoch, a model is saved
        time.sleep(0.2)
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


def test_a_broken_file_shows_its_message_not_a_traceback(studio):
    bad = studio / "data" / "broken.h5"
    bad.write_text("not HDF5")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[keys.DATA] = str(bad)
    at.run()
    assert not at.exception
    assert any("broken.h5" in e.value for e in at.error)


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


def test_retrieval_shows_the_true_rank_of_each_query(studio, demo):
    from dina_core.interpret.masked_eval import MaskedEvaluator

    run, data = demo
    ev = MaskedEvaluator(run, data, "averaged")
    ranks = ev.ranks(np.ones(ev.n_neurons, dtype=np.float32))
    at = open_page("retrieval")
    for q in (0, 7, ev.n_queries - 1):
        at.slider(key="retrieval.query").set_value(q).run()
        shown = re.search(r"The true image ranks #(\d+) of (\d+)", texts(at))
        assert shown and (int(shown[1]), int(shown[2])) == (ranks[q] + 1, ev.n_candidates)


def test_fast_baselines_join_the_topk_curves(studio):
    from dina_app import jobs

    at = open_page("retrieval")
    at.button(key="retrieval.baselines").click().run()
    job = jobs.get(keys.baselines_job(_demo_fingerprint(studio)))
    assert job is not None and job.wait(timeout=600)
    assert job.status == "finished", job.error
    at.run()
    assert not at.exception
    assert not any(b.key == "retrieval.baselines" for b in at.button)  # the benchmark folder is found now
    names = {trace.get("name") for chart in at.get("plotly_chart") for trace in _traces(chart)}
    assert {"linear two-tower", "ridge regression", "chance"} <= names  # plain names (labels.MODELS) in the legend


def _traces(chart) -> list[dict]:
    return json.loads(chart.proto.spec)["data"]


def test_topk_curve_is_topk_accuracy_at_every_k():
    from dina_app import analysis
    from dina_core.evaluate.retrieval import topk_accuracy

    ranks = np.random.default_rng(0).integers(0, 30, 500)
    curve = analysis.topk_curve(ranks, 30)
    np.testing.assert_allclose(curve, [topk_accuracy(ranks, k) for k in range(1, 31)])
    assert curve[-1] == 1.0


def test_pruning_slider_updates_the_accuracy(studio, demo):
    from dina_core.evaluate.model_eval import evaluate_run
    from dina_core.interpret.masked_eval import MaskedEvaluator
    from dina_core.interpret.neurons import attribution_importance, order

    run, data = demo
    ev = MaskedEvaluator(run, data, "averaged")
    ranking = order(attribution_importance(run, data, tier="validation"))
    at = open_page("neurons")
    for k in (5, 60):
        at.slider(key="neurons.k").set_value(k).run()
        mask = np.zeros(ev.n_neurons, np.float32)
        mask[ranking[:k]] = 1
        assert f"Top-1 with {k} neurons: {100 * ev.top1(mask):.1f}%" in texts(at)
    at.slider(key="neurons.k").set_value(ev.n_neurons).run()
    full = next(r["top1"] for r in evaluate_run(run, data, per_level=False)
                if r["direction"] == "neural_to_image" and r["responses"] == "averaged")
    assert f"Top-1 with {ev.n_neurons} neurons: {100 * full:.1f}%" in texts(at)


def test_other_pages_react_to_their_controls(studio, demo):
    from dina_app.labels import level

    at = open_page("probes")
    at.selectbox(key="probe.name").set_value("contrast").run()
    assert "Contrast reduction at 0.75 (fraction of contrast removed): top-1" in texts(at)  # mid grid
    at = open_page("feature_maps")
    stage = demo[0].model.config.aligned_stages[-1]
    at.selectbox(key="maps.stage").set_value(stage).run()
    assert f"similarity in the {level(stage)}" in texts(at)


def test_probe_headline_gives_the_unmanipulated_score(studio, demo):
    from dina_core.evaluate.model_eval import evaluate_run
    from dina_core.interpret.probes import structure_probe

    run, data = demo
    full = next(r["top1"] for r in evaluate_run(run, data, per_level=False)
                if r["direction"] == "neural_to_image" and r["responses"] == "averaged")
    assert structure_probe(run, data, "low_pass", (0.0,))[0]["top1"] == pytest.approx(full)  # blur 0: the identity
    assert structure_probe(run, data, "high_pass", (0.5,))[0]["top1"] != pytest.approx(full)  # high-pass has none
    at = open_page("probes")
    for name in ("high_pass", "low_pass", "contrast"):
        at.selectbox(key="probe.name").set_value(name).run()
        shown = re.search(r"unmanipulated ([\d.]+)%", texts(at))
        assert shown and shown[1] == f"{100 * full:.1f}", name


def test_presentation_mode_enlarges_and_hides_advanced_controls(studio):
    normal = open_page("attributions")
    assert any(e.label == "Method parameters" for e in normal.expander)
    big = open_page("attributions", **{keys.PRESENT: True})
    assert not any(e.label == "Method parameters" for e in big.expander)
    # AppTest drops what app.py draws before page.run() after switch_page, so read the CSS on the first page
    first = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    first.session_state[keys.PRESENT] = True
    first.run()
    assert any("font-size: 21px" in m.value for m in first.markdown)
    assert first.sidebar.toggle(key="dina.presentation").value


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
    while job.live and not job.snapshot()["val_top1"]:  # a first epoch has finished: there is a model to keep
        time.sleep(0.2)
    at.button(key="train.stop").click().run()
    assert job.wait(timeout=600)
    assert job.status == "stopped" and (studio / "runs" / "stopped-run" / "model.pt").is_file()


def test_stop_in_the_first_epoch_saves_no_untrained_model(studio):
    _, job = _start_long_training("stopped-at-once")
    job.stop()  # before its first step: no epoch can finish
    assert job.wait(timeout=600)
    assert job.status == "stopped" and not (studio / "runs" / "stopped-at-once").exists()


def test_report_is_one_self_contained_html_file(studio):
    at = open_page("report")
    at.checkbox(key="report.interpret").uncheck().run()
    at.button(key="report.build").click().run()
    assert not at.exception
    html = at.session_state[keys.REPORT_HTML]
    assert html.count('class="plotly-graph-div"') >= 4
    assert "Plotly" in html and not re.search(r"<script[^>]+src=", html)  # plotly.js inline, nothing fetched
    assert "Test retrieval" in html and "Simulated data" in html  # metrics table and the data's citation
