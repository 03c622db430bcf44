"""Hostile uploads to DINA Studio: zips with link members or names that climb out, upload and import folders
that are links out, and two sessions unpacking or saving the same upload at once.

Every case asserts its outcome (a DinaError naming the path, or correct handling) and, with ``untouched``,
that nothing outside the test's folders (and no good file) changed. The folders are the ``app_dirs`` fixture
(conftest.py): the app's data and runs folders and a folder outside both.
"""

from __future__ import annotations

import io
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dina_core.errors import DinaError
from hostile import untouched


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
