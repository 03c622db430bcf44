"""Atomic file writes: a temporary file beside the target, renamed over it only when complete.

Temporary files are named ``.<target name>.tmp-<pid>-<random>`` (hidden, recognisable, and naming
the process that writes them), so one left behind by a killed process can be found and removed
(see ``temp_files``; the run folder's writer does it under its lock, ``dina_core.runs.folder``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

_TEMP_NAME = re.compile(r"\..+\.tmp-\d+-[^/]+")  # what atomic_path names its temporary files


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    A crash mid-write leaves any previous file at ``path`` untouched and no partial file at ``path``
    (a killed process leaves its temporary file, named as ``temp_files`` finds it).
    The file gets the usual permissions (0666 minus the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
