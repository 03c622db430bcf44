"""Trust, round two (issue 21), DINA Studio: a file that cannot be read is never made active, and a run name a
queued training will take is refused at submit.

Before, a file with Inf images passed the Data page's cheap check (``dataset_summary``), became the active
recording and every page then failed on it; a training queued behind another job had no folder yet, so a
second one of that name was accepted and failed only when it ran. The app runs on the small simulated demo
in temporary folders (the ``studio`` fixture, conftest.py).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from dina_app import keys
from dina_core.data.format import write_dataset
from dina_core.errors import DinaError
from dina_core.runs.config import TrainConfig
from studio_pages import open_page


def _inf_images(data):
    images = data.images.copy()
    images[2, 3, 4] = np.inf
    return dataclasses.replace(data, images=images)


def _nan_responses(data):
    responses = data.responses.copy()
    responses[5, 1] = np.nan
    return dataclasses.replace(data, responses=responses)


def _text_bytes(name: str, row: int = 3):
    def damage(path):
        with h5py.File(path, "r+") as f:
            values = np.array([t.encode() for t in f[name].asstr()[()].tolist()], dtype=object)
            values[row] = b"te\xffst"
            del f[name]
            f.create_dataset(name, data=values, dtype=h5py.string_dtype("utf-8"))
    return damage


def _name_attribute(path):
    with h5py.File(path, "r+") as f:  # variable-length text holding bytes that are not UTF-8
        del f.attrs["name"]
        f.attrs.create("name", data=np.array(b"mouse \xff", dtype=object), dtype=h5py.string_dtype("utf-8"))


BROKEN = {  # name: (edit of the recording, edit of the written file, the field the message names)
    "inf_images": (_inf_images, None, "/stimuli/images"),
    "nan_responses": (_nan_responses, None, "/trials/responses"),
    "tier_byte_0xff": (None, _text_bytes("/trials/tier"), "/trials/tier row 3"),
    "area_byte_0xff": (None, _text_bytes("/neurons/area"), "/neurons/area row 3"),
    "name_attribute_byte_0xff": (None, _name_attribute, "/@name"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_file_that_cannot_be_read_is_never_made_active(case, studio, small_data):
    edit_data, edit_file, field = BROKEN[case]
    path = write_dataset(studio / "data" / f"{case}.h5", edit_data(small_data) if edit_data else small_data)
    if edit_file:
        edit_file(path)
    at = open_page("data")
    at.button_group(key="data.source").set_value("Data folder").run()
    at.selectbox(key="data.file").set_value(path).run()
    at.button(key="data.open_file").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith(f"{path}: field '{field}'") for e in at.error), [e.value for e in at.error]
    assert "UnicodeDecodeError" not in str([e.value for e in at.error])
    assert keys.DATA not in at.session_state  # the demo stays active: every page still works
    assert not at.success and at.metric  # the demo's summary is still drawn


# --- A run name a queued training will take -------------------------------------------------------------------

@pytest.fixture()
def a_job_running():
    """A job that holds the one-at-a-time slot until released, so trainings started meanwhile stay queued."""
    from dina_app import jobs
    release = threading.Event()
    job = jobs.start("trust:blocker", "Blocker", Path("/nonexistent/blocker"), lambda j: release.wait(60))
    yield job
    release.set()
    job.wait(60)


def _queue(key: str, out_dir):
    from dina_app import jobs
    return jobs.start_training(key, f"Training {out_dir.name}", None, out_dir, TrainConfig(device="cpu", epochs=1))


def test_a_second_training_of_a_queued_name_is_refused_at_submit(a_job_running, tmp_path):
    from dina_app import jobs
    first = _queue("trust:first", tmp_path / "shared-name")
    try:
        assert first.status == "queued"
        for other in (tmp_path / "shared-name", tmp_path / "Shared-Name"):  # one folder on case-insensitive disks
            with pytest.raises(DinaError, match="run name '.*': the queued job 'Training shared-name' will write"):
                _queue("trust:second", other)
            with pytest.raises(DinaError, match="queued job"):
                jobs.check_free(other, "trust:second")
        assert jobs.get("trust:second") is None
        jobs.check_free(tmp_path / "shared-name", "trust:first")  # its own key: a rerun of the same session
        assert _queue("trust:third", tmp_path / "another-name").status == "queued"
    finally:
        for key in ("trust:first", "trust:third"):
            if jobs.get(key) is not None:
                jobs.get(key).stop()  # stopped while queued: it never trains


def test_the_train_page_refuses_a_queued_name_at_submit(studio, a_job_running):
    from dina_app import jobs
    first = _queue("trust:queued", studio / "runs" / "taken-name")
    try:
        at = open_page("train")
        at.text_input(key=keys.TRAIN_NAME).set_value("taken-name")
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception, [e.value for e in at.exception]
        errors = [e.value for e in at.error]
        refused = "Choose another run name: run name 'taken-name': the queued job"
        assert any(e.startswith(refused) for e in errors), errors
        assert jobs.get(keys.training_job(at.session_state[keys.SESSION])) is None
    finally:
        first.stop()
