"""Checks every reader makes before it opens a path or allocates what a file declares.

* :func:`regular_file`: the path is an ordinary, non-empty file. Opening a named pipe (FIFO)
  blocks until some other process writes to it, so a FIFO given as input would hang DINA;
  a device file can stream forever; a folder or an empty file is simply not the input.
  ``os.stat`` tells them apart without opening anything.
* :func:`check_fits`: the arrays a file *declares* fit in the memory this machine has free.
  An HDF5 dataset can declare 10^7 x 10^6 values while holding none (chunked, never
  written, read back as its fill value), a ``.npy`` header can claim any shape, a sparse
  file can be terabytes long on a nearly empty disk. Readers check the declared sizes
  first and refuse with the numbers instead of allocating, swapping or being killed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from dina_core.errors import DatasetError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO): reading it would wait for a writer"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
STRING_BYTES = 64  # memory budgeted per variable-length string value (pointer, object, short text)


def file_problem(info: os.stat_result) -> str | None:
    """What a stat result is when it is not a regular file ('a folder', 'a named pipe ...'), else None."""
    for test, found in _KINDS:
        if test(info.st_mode):
            return found
    return None if stat.S_ISREG(info.st_mode) else "something that is not a regular file"


def regular_file(path: str | os.PathLike, expected: str, *, field: str = "<file>",
                 allow_empty: bool = False) -> Path:
    """``path`` as a Path, if it is an existing regular file (links followed); else DatasetError.

    Args:
        path: the file to read.
        expected: what the caller wants it to be, for the message (e.g. 'an NWB file (.nwb)').
        field: the field named in the message.
        allow_empty: accept a 0-byte file.

    Raises:
        DatasetError: naming ``path`` and what it is instead: missing, a folder, a FIFO, a device,
            a socket, or an empty file.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetError(path, field, expected, "no such file") from None
    except OSError as err:  # a link loop, a name too long, no permission on a folder
        raise DatasetError(path, field, expected, f"a path that cannot be read ({err.strerror})") from None
    problem = file_problem(info)
    if problem:
        raise DatasetError(path, field, expected, problem)
    if info.st_size == 0 and not allow_empty:
        raise DatasetError(path, field, expected, "an empty file (0 bytes)")
    return path


def available_memory() -> int:
    """Bytes this process can still allocate without swapping: the system's available memory,
    lowered to the cgroup (container) limit when one is set."""
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not POSIX: no check is better than a wrong one
            return 1 << 62
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(int(free), 0)


def human_bytes(n: float) -> str:
    """'40 TB', '1.5 GB', '512 B' (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 10 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.0f} PB"


def nbytes(shape: tuple[int, ...], dtype) -> int:
    """Bytes of an array of ``shape`` and ``dtype`` once in memory (text: :data:`STRING_BYTES` per value)."""
    dtype = np.dtype(dtype)
    item = STRING_BYTES if dtype.kind in "OSUV" and dtype.itemsize < STRING_BYTES else dtype.itemsize
    return int(np.prod([int(s) for s in shape], dtype=object)) * item


def check_fits(path: str | os.PathLike, arrays: list[tuple[str, tuple[int, ...], object]], *,
               available: int | None = None) -> None:
    """Refuse before allocation when the declared ``arrays`` together exceed the free memory.

    Args:
        path: the file (or source folder) declaring them, named in the message.
        arrays: (field, shape, dtype) of every array the caller is about to hold at once, with
            the dtype it will have in memory (e.g. float32 after conversion).
        available: bytes free (default :func:`available_memory`).

    Raises:
        DatasetError: naming the largest array, its declared shape, dtype and size, the total,
            and the memory this machine has free, e.g. ``FILE: field '/trials/responses':
            expected arrays that fit in memory (24 GB free on this machine), found a declared
            10,000,000 x 1,000,000 float32 (40 TB)``.
    """
    sizes = [(nbytes(shape, dtype), field, shape, np.dtype(dtype)) for field, shape, dtype in arrays]
    total = sum(size for size, *_ in sizes)
    if not sizes:
        return
    free = available_memory() if available is None else available
    if total <= free:
        return
    size, field, shape, dtype = max(sizes, key=lambda s: s[0])
    shown = " x ".join(f"{int(s):,}" for s in shape) or "scalar"
    found = f"a declared {shown} {dtype.name if dtype.kind not in 'OSUV' else 'text'} ({human_bytes(size)})"
    if len(sizes) > 1 and total > size:
        found += f", {human_bytes(total)} with the other arrays read with it"
    raise DatasetError(path, field, f"arrays that fit in memory ({human_bytes(free)} free on this machine)", found)
