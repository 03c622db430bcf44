"""DINA Studio's Train page through AppTest, its two DINA options: train jointly with other recordings of the data
folder (one run folder, a run per recording) and start from a trained model (the run records where its image tower
came from); each refusal is one error line.

The app runs on the small simulated demo with the suite's small run as its demo run (the ``studio`` fixture,
conftest.py); the data folder gets a second, smaller recording of the demo's image size, one of another size and
two copies of the demo (``others``). Trainings are 2 epochs.
"""

from __future__ import annotations

import json
import shutil

import pytest

from dina_app import keys
from dina_core.data.format import write_dataset
from dina_core.simulate import SimConfig, simulate_recording
from studio_pages import open_page

QUICK = SimConfig.small(seed=1, n_neurons=60, n_train_images=160, n_validation_images=30, n_test_images=12,
                        n_test_repeats=3)  # the demo's 36 x 64 images, another animal's neurons


@pytest.fixture(scope="module")
def others(studio):
    """{what: resolved path} of the data folder's DINA files beside the demo (which is outside it)."""
    data = studio / "data"
    files = {"mouse2": data / "mouse2.h5", "wide": data / "wide.h5", "copy": data / "copy.h5",
             "same name": data / "again" / "demo_small.h5"}
    write_dataset(files["mouse2"], simulate_recording(QUICK))
    write_dataset(files["wide"], simulate_recording(SimConfig.small(seed=2, image_shape=(36, 48), n_neurons=60)))
    files["same name"].parent.mkdir()
    for what in ("copy", "same name"):
        shutil.copy(studio / "demo" / "demo_small.h5", files[what])
    return {what: str(path.resolve()) for what, path in files.items()}


def _form(at, name: str, **options):
    """Choose the DINA options ``{widget key: value}``, fill in a 2-epoch run named ``name``, then press Start."""
    for key, value in options.items():  # outside the form: each choice reruns the page
        (at.multiselect if key == "train.joint" else at.selectbox if key == "train.from" else at.radio)(
            key=key).set_value(value).run()
    at.number_input(key="train.t.epochs").set_value(2)  # form values are sent with the submit click: set last
    at.number_input(key="train.t.batch_size").set_value(64)
    at.text_input(key="train.name").set_value(name)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]


def _finished_job(at):
    from dina_app import jobs
    job = jobs.get(keys.training_job(at.session_state[keys.SESSION]))
    assert job is not None, [e.value for e in at.error]
    assert job.wait(timeout=600)
    assert job.status == "finished", job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


def test_the_options_are_dinas_and_offer_only_what_fits(studio, others, small_run_dir):
    at = open_page("train")
    joint = at.multiselect(key="train.joint")
    offered = set(joint.options)
    assert {"mouse2.h5", "copy.h5", "again/demo_small.h5"} <= offered and "wide.h5" not in offered  # 36 x 48
    source = at.selectbox(key="train.from")
    assert source.value is None and source.options[0] == "none"
    assert any(o.startswith("shipped demo") for o in source.options)  # the suite's small run, the demo's size
    assert not [r for r in at.radio if r.key == "train.image_tower"]  # only once a run is chosen
    source.set_value(str(small_run_dir[0])).run()
    tower = at.radio(key="train.image_tower")
    assert tower.value == "auto" and tower.options == ["chosen on validation", "frozen", "fine-tuned"]
    at.button_group(key="train.kind").set_value("linear").run()
    assert not at.exception
    assert not [w for w in [*at.selectbox, *at.multiselect, *at.radio]
                if w.key in ("train.from", "train.joint", "train.image_tower")]


def test_a_joint_training_writes_a_run_per_recording(studio, others):
    at = open_page("train")
    _form(at, "joint-run", **{"train.joint": [others["mouse2"]]})
    _finished_job(at)
    run = studio / "runs" / "joint-run"
    summary = json.loads((run / "run.json").read_text())
    assert summary["format"] == "dina-joint-run"
    assert [r["name"] for r in summary["recordings"]] == ["demo_small", "mouse2"]  # the files' stems
    for name in ("demo_small", "mouse2"):
        assert (run / "recordings" / name / "model.pt").is_file()
    member = json.loads((run / "recordings" / "mouse2" / "run.json").read_text())
    assert member["metadata"]["data_path"] == others["mouse2"]  # what the Across animals page reads it by
    said = "\n".join(i.value for i in at.info)
    assert str(run / "recordings" / "mouse2") in said and "Checkpoints" in said
    assert at.button(key="train.use_finished").label == "Use this model"  # the demo's own model of the two


def test_a_start_from_training_records_its_transfer(studio, small_run_dir):
    at = open_page("train")
    _form(at, "from-demo", **{"train.from": str(small_run_dir[0]), "train.image_tower": "frozen"})
    _finished_job(at)
    transfer = json.loads((studio / "runs" / "from-demo" / "run.json").read_text())["metadata"]["transfer"]
    assert transfer["from"] == str(small_run_dir[0].resolve()) and transfer["image_tower"] == "frozen"
    assert at.button(key="train.use_finished").label == "Use this model"


def _refused(at, studio, name: str) -> str:
    """The one error line the page shows after ``_form``; nothing started, nothing written."""
    from dina_app import jobs
    assert len(at.error) == 1 and "\n" not in at.error[0].value, [e.value for e in at.error]
    assert jobs.get(keys.training_job(at.session_state[keys.SESSION])) is None
    assert not (studio / "runs" / name).exists()
    return at.error[0].value


def test_start_from_and_joint_together_are_refused(studio, others, small_run_dir):
    at = open_page("train")
    _form(at, "refused-both", **{"train.from": str(small_run_dir[0]), "train.joint": [others["mouse2"]]})
    assert "not supported" in _refused(at, studio, "refused-both")


def test_two_files_of_one_name_are_refused(studio, others):
    at = open_page("train")
    _form(at, "refused-name", **{"train.joint": [others["same name"]]})  # again/demo_small.h5 beside the demo
    assert "both would be recording 'demo_small'" in _refused(at, studio, "refused-name")


def test_the_cores_refusal_in_the_job_is_an_error_line(studio, others):
    from dina_app import jobs

    at = open_page("train")
    _form(at, "joint-twice", **{"train.joint": [others["copy"]]})  # the demo under another name
    job = jobs.get(keys.training_job(at.session_state[keys.SESSION]))
    assert job.wait(timeout=600) and job.status == "failed"
    at.run()
    assert any("the same recording" in e.value for e in at.error)
    assert not at.exception
