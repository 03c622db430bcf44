"""Helpers of the hostile-input tests (tests/test_hostile_*.py): what a bad input may and may not do.

Every hostile case asserts its outcome class (a clear error naming the file and field, a refusal, or
correct handling) *and* that it changed nothing it should not have: :func:`untouched` snapshots
folders before the case and compares every file's bytes, permissions and the set of names after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path


def snapshot(*roots: str | os.PathLike) -> dict[str, tuple[str, int]]:
    """{path: (sha256 of the bytes or the link target, mode)} of every entry under ``roots`` (links not followed)."""
    state: dict[str, tuple[str, int]] = {}
    for root in map(Path, roots):
        if not root.exists() and not root.is_symlink():
            continue
        entries = [root] + sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else [root]
        for path in entries:
            info = path.lstat()
            if path.is_symlink():
                digest = "link:" + os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digest = "dir"
            state[str(path)] = (digest, info.st_mode)
    return state


def changes(before: dict, after: dict) -> list[str]:
    """Readable differences between two snapshots: added, removed and modified paths."""
    added = [f"added {p}" for p in sorted(set(after) - set(before))]
    removed = [f"removed {p}" for p in sorted(set(before) - set(after))]
    modified = [f"modified {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return added + removed + modified


@contextlib.contextmanager
def untouched(*roots: str | os.PathLike) -> Iterator[None]:
    """Assert that nothing under ``roots`` is added, removed or changed inside the block (even when it raises)."""
    before = snapshot(*roots)
    try:
        yield
    finally:
        diff = changes(before, snapshot(*roots))
        assert not diff, "a hostile input changed files it must not touch:\n" + "\n".join(diff)


def names_the_source(err: Exception, source: str | os.PathLike, field: str, words: tuple[str, ...] = ()) -> Exception:
    """Check that an import's error names its *source* file and field (never the output) and says ``words``."""
    assert str(source) in err.path and field in err.field, str(err)
    assert "recording.h5" not in str(err), "the error must name the source, not the output"
    for word in words:
        assert word in str(err), (word, str(err))
    return err


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail instead of hanging forever (a FIFO opened for reading blocks until a writer comes)."""
    def alarm(*_):
        raise AssertionError(f"the reader blocked for {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
