"""Links in DINA Studio's data and runs folders that lead elsewhere: the folder scan, the import wizard, the
Sensorium import and the benchmark lookup read nothing reached through them, and a link loop ends.

Every case asserts its outcome (a DinaError naming the path, or correct handling) and, with ``untouched``,
that nothing outside the test's folders (and no good file) changed. The folders are the ``app_dirs`` fixture
(conftest.py): the app's data and runs folders and a folder outside both.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dina_core.errors import DinaError
from dina_core.paths import files_under, inside, is_inside
from hostile import untouched


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
