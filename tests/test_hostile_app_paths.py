"""Hostile paths in the app's data and runs folders: nothing outside them is read, written or deleted.

Links inside ``runs/`` or the data folder that lead elsewhere, zip uploads with link members or
names that climb out, and two sessions unpacking the same upload at once. Every case asserts its
outcome (a DinaError naming the path, or correct handling) and, with ``untouched``, that nothing
outside the test's folders (and no good file) changed.
"""

from __future__ import annotations

import io
import json
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_core.errors import DinaError
from dina_core.paths import files_under, inside, is_inside
from hostile import untouched

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture()
def app_dirs(tmp_path, monkeypatch):
    """(data folder, runs folder, outside folder) set as the app's environment."""
    data, runs, outside = tmp_path / "data", tmp_path / "runs", tmp_path / "outside"
    for folder in (data, runs, outside):
        folder.mkdir()
    for name, value in {"DINA_DATA_DIR": data, "DINA_RUNS_DIR": runs, "DINA_DEMO_DIR": tmp_path / "demo",
                        "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": tmp_path / "no_demo_run"}.items():
        monkeypatch.setenv(name, str(value))
    return data, runs, outside


def make_run(folder: Path) -> Path:
    """A run folder as list_runs sees one: run.json and model.pt (a stand-in; never loaded here)."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": "dina", "history": [], "metadata": {
        "data_fingerprint": "not-this-data", "data_name": "elsewhere"}}))
    (folder / "model.pt").write_bytes(b"weights that matter")
    return folder


# --- Delete never follows a link --------------------------------------------------------------

def test_delete_refuses_a_run_that_is_a_link_out_of_runs(app_dirs):
    from dina_app import state

    _, runs, outside = app_dirs
    make_run(outside / "precious")
    (runs / "evil").symlink_to(outside / "precious")
    assert str(runs / "evil") in [r["path"] for r in state.list_runs()]  # what the Train page offers
    with untouched(outside, runs), pytest.raises(DinaError, match=r"evil.*outside the folder"):
        state.delete_run(runs / "evil")


def test_delete_refuses_a_run_below_a_linked_folder(app_dirs):
    """``runs/*/*/*/run.json`` is listed too: a link in the middle must not lead the delete out."""
    from dina_app import state

    _, runs, outside = app_dirs
    make_run(outside / "lab" / "b" / "c")
    (runs / "a").symlink_to(outside / "lab")
    assert str(runs / "a" / "b" / "c") in [r["path"] for r in state.list_runs()]
    with untouched(outside, runs), pytest.raises(DinaError, match="outside the folder"):
        state.delete_run(runs / "a" / "b" / "c")


def test_delete_refuses_a_link_to_another_run_inside(app_dirs):
    """Deleting 'alias' must not remove the run 'real' it points to."""
    from dina_app import state

    _, runs, outside = app_dirs
    make_run(runs / "real")
    (runs / "alias").symlink_to(runs / "real")
    with untouched(outside, runs), pytest.raises(DinaError, match="symbolic link"):
        state.delete_run(runs / "alias")


@pytest.mark.parametrize("target", [".", "..", "not-a-run", "../outside"])
def test_delete_refuses_what_is_not_a_run_folder(app_dirs, target):
    from dina_app import state

    _, runs, outside = app_dirs
    (runs / "not-a-run").mkdir()
    make_run(outside / "run")
    with untouched(outside, runs), pytest.raises(DinaError):
        state.delete_run(runs / target)


def test_delete_removes_a_run_and_only_the_link_inside_it(app_dirs):
    """Handled: a real run goes, with the link inside it; what the link points to stays."""
    from dina_app import state

    _, runs, outside = app_dirs
    keep = make_run(runs / "keep")
    gone = make_run(runs / "gone")
    (outside / "dataset.h5").write_bytes(b"a recording")
    (gone / "data.h5").symlink_to(outside / "dataset.h5")
    with untouched(outside, keep):
        state.delete_run(gone)
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


# --- Uploads and zips ---------------------------------------------------------------------------

def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix: external_attr holds the mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


@pytest.mark.parametrize("link_target", ["/etc/passwd", "../../outside", "plane0"])
def test_zip_with_a_symlink_member_is_refused(app_dirs, link_target):
    from dina_app import sources

    data, _, outside = app_dirs
    upload = _zip(data / "uploads" / "session.zip", {"suite2p/plane0/F.npy": b"x"},
                  links={"suite2p/link": link_target})
    with untouched(data, outside), pytest.raises(DinaError, match=r"'suite2p/link' is a symbolic link"):
        sources.extract_zip(upload, data)


@pytest.mark.parametrize("member", ["../../outside.txt", "/abs/outside.txt", "a/../../climb.txt"])
def test_zip_slip_is_refused(app_dirs, member):
    from dina_app import sources

    data, _, outside = app_dirs
    upload = _zip(data / "uploads" / "session.zip", {"ok.txt": b"fine", member: b"escaped"})
    with untouched(data, outside), pytest.raises(DinaError, match="points outside the archive"):
        sources.extract_zip(upload, data)


def test_uploads_folder_that_is_a_link_out_is_refused(app_dirs):
    from dina_app import sources

    data, _, outside = app_dirs
    (data / "uploads").symlink_to(outside)
    with untouched(data, outside), pytest.raises(DinaError, match="outside the folder"):
        sources.save_upload(io.BytesIO(b"collaborator's file"), "rec.h5", data)


def test_zip_reached_through_a_link_is_not_unpacked(app_dirs):
    from dina_app import sources

    data, _, outside = app_dirs
    _zip(outside / "session.zip", {"a.txt": b"x"})
    (data / "uploads").symlink_to(outside)
    with untouched(data, outside), pytest.raises(DinaError, match="only uploads inside the data folder"):
        sources.extract_zip(data / "uploads" / "session.zip", data)


def test_imports_folder_that_is_a_link_out_is_refused(app_dirs):
    from dina_app import sources

    data, _, outside = app_dirs
    (data / "imported").symlink_to(outside)
    with untouched(data, outside), pytest.raises(DinaError, match="outside the folder"):
        sources.imported_path("session", data)


def _race(work, n: int = 2) -> list:
    """Run ``work()`` in ``n`` threads released at the same instant; their results (or errors)."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except Exception as err:  # a collision shows up as an error in one of the threads
            results[i] = err
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("round_", range(4))
def test_two_sessions_unpacking_the_same_upload_do_not_collide(app_dirs, round_):
    from dina_app import sources

    data, _, outside = app_dirs
    rng = np.random.default_rng(round_)
    members = {f"suite2p/plane0/part{i:03d}.bin": rng.bytes(20_000) for i in range(150)}
    upload = _zip(data / "uploads" / f"session-{round_}.zip", members)
    with untouched(outside):
        results = _race(lambda: sources.extract_zip(upload, data))
    assert results[0] == results[1] == upload.with_suffix(""), results
    found = {str(p.relative_to(results[0])): p.read_bytes() for p in results[0].rglob("*") if p.is_file()}
    assert found == members
    assert sorted(p.name for p in (data / "uploads").iterdir()) == [upload.stem, upload.name]  # no leftovers


def test_two_sessions_saving_the_same_upload_do_not_collide(app_dirs):
    from dina_app import sources

    data, _, outside = app_dirs
    content = np.random.default_rng(0).bytes(3_000_000)
    with untouched(outside):
        results = _race(lambda: sources.save_upload(io.BytesIO(content), "big recording.h5", data), n=3)
    assert len(set(results)) == 1 and isinstance(results[0], Path), results
    assert results[0].read_bytes() == content
    assert [p.name for p in (data / "uploads").iterdir()] == [results[0].name]


# --- Reading sources: scans, the wizard, imports ---------------------------------------------

@pytest.fixture()
def linked_data(app_dirs):
    """A data folder whose links lead out (and one that stays in)."""
    data, _, outside = app_dirs
    (outside / "session" / "suite2p" / "plane0").mkdir(parents=True)
    np.save(outside / "session" / "suite2p" / "plane0" / "F.npy", np.zeros((2, 3)))
    (outside / "secret.h5").write_bytes(b"not yours")
    (outside / "sens_data").mkdir()
    (data / "linked_session").symlink_to(outside / "session")  # a folder link: never descended
    (data / "secret.h5").symlink_to(outside / "secret.h5")  # a file link out
    (data / "s2p" / "plane0").mkdir(parents=True)
    (data / "s2p" / "plane0" / "F.npy").symlink_to(outside / "session" / "suite2p" / "plane0" / "F.npy")
    (data / "sens" / "meta" / "trials").mkdir(parents=True)
    (data / "sens" / "data").symlink_to(outside / "sens_data")  # a Sensorium folder whose data/ is elsewhere
    (data / "real.h5").write_bytes(b"mine")
    (data / "alias.h5").symlink_to(data / "real.h5")  # a link that stays inside: fine
    return data, outside


def test_data_folder_scan_lists_nothing_reached_through_links_out(linked_data):
    from dina_app import sources

    data, outside = linked_data
    with untouched(data, outside):
        found = sources.scan(data)
    listed = [p for kind in vars(found).values() for p in kind]
    assert all(is_inside(data, p) for p in listed), listed
    assert found.datasets == [data / "alias.h5", data / "real.h5"]
    assert found.suite2p == [] and found.sensorium == []


def test_wizard_refuses_a_suite2p_folder_with_a_file_linked_out(linked_data):
    from dina_app import import_wizard

    data, outside = linked_data
    with untouched(data, outside), pytest.raises(DinaError, match=r"F\.npy.*outside the folder"):
        import_wizard._stamp([data / "s2p"], data)


def test_wizard_refuses_a_link_out_hidden_behind_a_link_that_stays_in(linked_data):
    """plane0 -> a folder inside the data folder, whose ops.npy leads out: still refused."""
    from dina_app import import_wizard

    data, outside = linked_data
    (data / "hidden").mkdir()
    (data / "hidden" / "ops.npy").symlink_to(outside / "secret.h5")
    (data / "s2p2").mkdir()
    (data / "s2p2" / "plane0").symlink_to(data / "hidden")
    with untouched(data, outside), pytest.raises(DinaError, match=r"ops\.npy.*outside the folder"):
        import_wizard._stamp([data / "s2p2"], data)


def test_a_link_loop_inside_the_data_folder_ends(app_dirs):
    data, _, outside = app_dirs
    (data / "a" / "b").mkdir(parents=True)
    (data / "a" / "b" / "f.txt").write_text("x")
    (data / "a" / "b" / "up").symlink_to(data / "a")
    with untouched(data, outside):
        assert files_under(data, data / "a") == [data / "a" / "b" / "f.txt"]


def test_sensorium_import_refuses_a_folder_with_links_out(app_dirs):
    from dina_app import sources
    from dina_core.simulate.sensorium_folder import write_sensorium_folder

    data, _, outside = app_dirs
    folder = write_sensorium_folder(data)
    target = next((folder / "data" / "responses").iterdir())
    (outside / "elsewhere.npy").write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside / "elsewhere.npy")
    with untouched(data, outside), pytest.raises(DinaError, match="outside the folder"):
        sources.import_sensorium_source(folder, data)


def test_benchmark_lookup_ignores_metrics_reached_through_links(app_dirs):
    from dina_app.analysis import find_benchmark

    _, runs, outside = app_dirs
    (outside / "bench-fp").mkdir()
    (outside / "bench-fp" / "metrics.json").write_text(json.dumps({"planted": True}))
    (runs / "bench-fp").symlink_to(outside / "bench-fp")
    with untouched(runs, outside):
        assert find_benchmark(runs, "fp") is None


@pytest.mark.parametrize("path,ok", [
    ("sub/new.h5", True), ("../escape.h5", False), ("/etc/passwd", False), ("link/x", False),
    ("inner_link/x", True),
])
def test_inside_resolves_before_it_trusts(tmp_path, path, ok):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    (root / "inner_link").symlink_to(root / "sub")
    if ok:
        assert inside(root, path).is_relative_to(root.resolve())
    else:
        with pytest.raises(DinaError, match="outside the folder"):
            inside(root, path)
