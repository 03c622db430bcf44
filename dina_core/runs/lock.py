"""One writer per run folder: an exclusive ``flock`` on ``RUN/.dina-writer.lock``, held for the whole training.

Why ``flock`` rather than an ``O_CREAT | O_EXCL`` lock file: the kernel releases a flock when its
holder dies, however it dies (kill -9, out of memory, a power cut of a remote client), so a killed
training never leaves a lock that blocks the next one and no one has to judge whether a pid is
still alive, on which host. Why not ``fcntl``/``lockf`` record locks: those belong to the process,
so two threads of one process (two DINA Studio sessions) would both get one; a flock belongs to
the open file, so a second open in the same process is refused like another process.

The file holds who took the lock (pid, host, time) so a refusal can name the holder. The holder
removes the file before releasing; a taker therefore checks, once it holds the lock, that the file
it locked is still the one at the path (else it retries), so two writers never hold two files.
POSIX only (Linux, macOS); on network file systems flock is as reliable as the server's locking.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import DinaError

LOCK_FILE = ".dina-writer.lock"


class RunBusyError(DinaError):
    """Another process or session is writing this run folder."""


def _holder(fd: int) -> str:
    """Who holds the lock, as written by the holder; 'an unknown process' while it is still writing it."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {int(info['pid'])} on host {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown process"


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DinaError(f"{path}: the run folder's lock file is a symbolic link; remove it") from None
        raise DinaError(f"{path}: cannot create the run folder's lock file ({exc.strerror})") from None


def _busy(folder: Path, fd: int) -> RunBusyError:
    return RunBusyError(f"{folder}: another training is writing this run folder ({_holder(fd)}); "
                        "wait for it to finish, or choose another run folder")


def check_free(folder: str | os.PathLike) -> None:
    """Raise RunBusyError when a training holds ``folder``'s lock now; changes nothing on disk."""
    folder = Path(folder)
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # no lock file (or not ours to open): no training holds it
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(folder, fd) from None
    finally:
        os.close(fd)  # also releases the shared lock, if it was granted


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the writer's lock of ``folder`` for the block; yield the lock file's path.

    A folder the lock had to create is removed again when the block leaves it empty (a refused or
    stopped training leaves no trace).

    Raises:
        RunBusyError: another training holds it; the message names the folder and the holder.
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = _busy(folder, fd)
            os.close(fd)
            raise error from None
        try:
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed the file between our open and our flock: take the new one
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        path.unlink(missing_ok=True)  # while still locked: see the module docstring
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):  # not empty: something was written, keep it
                folder.rmdir()
