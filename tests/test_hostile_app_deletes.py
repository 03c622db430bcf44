"""Deleting a run from DINA Studio never follows a link: runs that are links out of ``runs/``, runs below a
linked folder, links to another run, and what is not a run folder are refused; a real run goes with only the
link inside it.

Every case asserts its outcome (a DinaError naming the path, or correct handling) and, with ``untouched``,
that nothing outside the test's folders (and no good file) changed. The folders are the ``app_dirs`` fixture
(conftest.py): the app's data and runs folders and a folder outside both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dina_core.errors import DinaError
from hostile import untouched
from studio_pages import APP


def make_run(folder: Path) -> Path:
    """A run folder as list_runs sees one: run.json and model.pt (a stand-in; never loaded here)."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": "dina", "history": [], "metadata": {
        "data_fingerprint": "not-this-data", "data_name": "elsewhere"}}))
    (folder / "model.pt").write_bytes(b"weights that matter")
    return folder


def test_delete_refuses_a_run_that_is_a_link_out_of_runs(app_dirs):
    from dina_app import saved_runs

    _, runs, outside = app_dirs
    make_run(outside / "precious")
    (runs / "evil").symlink_to(outside / "precious")
    assert str(runs / "evil") in [r["path"] for r in saved_runs.list_runs()]  # what the Train page offers
    with untouched(outside, runs), pytest.raises(DinaError, match=r"evil.*outside the folder"):
        saved_runs.delete_run(runs / "evil")


def test_delete_refuses_a_run_below_a_linked_folder(app_dirs):
    """``runs/*/*/*/run.json`` is listed too: a link in the middle must not lead the delete out."""
    from dina_app import saved_runs

    _, runs, outside = app_dirs
    make_run(outside / "lab" / "b" / "c")
    (runs / "a").symlink_to(outside / "lab")
    assert str(runs / "a" / "b" / "c") in [r["path"] for r in saved_runs.list_runs()]
    with untouched(outside, runs), pytest.raises(DinaError, match="outside the folder"):
        saved_runs.delete_run(runs / "a" / "b" / "c")


def test_delete_refuses_a_link_to_another_run_inside(app_dirs):
    """Deleting 'alias' must not remove the run 'real' it points to."""
    from dina_app import saved_runs

    _, runs, outside = app_dirs
    make_run(runs / "real")
    (runs / "alias").symlink_to(runs / "real")
    with untouched(outside, runs), pytest.raises(DinaError, match="symbolic link"):
        saved_runs.delete_run(runs / "alias")


@pytest.mark.parametrize("target", [".", "..", "not-a-run", "../outside"])
def test_delete_refuses_what_is_not_a_run_folder(app_dirs, target):
    from dina_app import saved_runs

    _, runs, outside = app_dirs
    (runs / "not-a-run").mkdir()
    make_run(outside / "run")
    with untouched(outside, runs), pytest.raises(DinaError):
        saved_runs.delete_run(runs / target)


def test_delete_removes_a_run_and_only_the_link_inside_it(app_dirs):
    """Handled: a real run goes, with the link inside it; what the link points to stays."""
    from dina_app import saved_runs

    _, runs, outside = app_dirs
    keep = make_run(runs / "keep")
    gone = make_run(runs / "gone")
    (outside / "dataset.h5").write_bytes(b"a recording")
    (gone / "data.h5").symlink_to(outside / "dataset.h5")
    with untouched(outside, keep):
        saved_runs.delete_run(gone)
    assert not gone.exists() and not gone.is_symlink()


def test_the_train_page_delete_button_refuses_a_linked_run(app_dirs):
    """The whole path: the linked run is listed and offered; *Delete for good* shows the refusal."""
    _, runs, outside = app_dirs
    make_run(outside / "precious")
    (runs / "evil").symlink_to(outside / "precious")
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    chooser = at.selectbox(key="train.chosen")
    chooser.select_index(chooser.options.index("evil")).run()
    with untouched(outside, runs):
        at.button(key="train.delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("outside the folder" in e.value for e in at.error)
