"""Atomic file writes: a temporary file beside the target, renamed over it only when complete.

Temporary files are named ``.<target name>.tmp-<pid>-<random>`` (hidden, recognisable, and naming
the process that writes them), so one left behind by a killed process can be found and removed
(see ``temp_files``; the run folder's writer does it under its lock, ``dina_core.runs.folder``).
Each write also removes the temporary files a dead process left for the *same* target: the PID
in the name is checked with ``os.kill(pid, 0)``, so a write in progress in a live process, this
one included, is never touched (on a folder shared between machines a PID names a process of
the machine that wrote it: a live writer elsewhere may then lose its temporary file, and its
write fails; nothing is ever replaced by a partial file).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DiskFullError

_TEMP_NAME = re.compile(r"\..+\.tmp-\d+-[^/]+")  # what atomic_path names its temporary files
_RANDOM = "[a-z0-9_]+"  # mkstemp's random part: no dot, so another target's temporary file never matches


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_files(folder: str | os.PathLike) -> list[Path]:
    """The temporary files of ``atomic_path`` directly in ``folder`` (finished, failed or orphaned)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _TEMP_NAME.fullmatch(p.name) and not p.is_dir())


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one we may not signal runs too)."""
    if os.name == "nt":  # os.kill there terminates the process: never probe, never clean
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:  # larger than any process id
        return False
    return True


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that dead processes left for ``path``; returns those removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp-(\d+)-{_RANDOM}")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and not entry.is_dir(follow_symlinks=False) and not _alive(int(match.group(1))):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


_REASONS = {errno.ENOSPC: "no space left on device", errno.EFBIG: "file too large: a file size limit was reached",
            errno.EDQUOT: "disk quota exceeded"}
_LIBRARY_WORDS = re.compile(r"file write failed|no space left on device|file too large|disk quota exceeded", re.I)
_LIBRARY_ERRNO = re.compile(r"errno = (\d+)")  # how h5py's messages carry the OS error


def disk_full_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is a full disk, in words ('no space left on device'), or None when it is another error."""
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if isinstance(exc, (OSError, RuntimeError)) and _LIBRARY_WORDS.search(str(exc)):
        found = _LIBRARY_ERRNO.search(str(exc))
        return _REASONS.get(int(found.group(1)) if found else -1, "the file write failed")
    return None


def write_buffer(path: str | os.PathLike, buffer: io.BytesIO) -> None:
    """Write the bytes of ``buffer`` to ``path`` (a temporary path of :func:`atomic_path`), without a copy."""
    with open(path, "wb") as f, buffer.getbuffer() as view:
        f.write(view)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    A crash mid-write leaves any previous file at ``path`` untouched and no partial file at ``path``
    (a killed process leaves its temporary file, named as ``temp_files`` finds it; the next write to
    ``path`` removes it, :func:`remove_stale`).
    The file gets the usual permissions (0666 minus the umask), not mkstemp's private 0600.

    Raises:
        DiskFullError: the disk filled up (or a size limit was reached) while writing: nothing was kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    except OSError as exc:
        _raise_if_full(exc, path)
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _raise_if_full(exc, path)
        raise


def _raise_if_full(exc: BaseException, path: Path) -> None:
    reason = None if isinstance(exc, DiskFullError) else disk_full_reason(exc)
    if reason is not None:
        raise DiskFullError(path, reason, earlier=path.exists()) from exc
