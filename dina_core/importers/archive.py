"""Zip archives from others, read or unpacked without letting a member escape or exhaust the machine.

The one home of the rules for every zip DINA opens (a Sensorium ``.zip`` read in memory, a suite2p
session uploaded to the app and unpacked). Before any member is read, :func:`check_archive` refuses:

* a member that is a symbolic link, or whose name is absolute or holds ``..`` (it would be read
  or written outside the archive's folder);
* a member that declares (``ZipInfo.file_size``) more than :data:`MAX_RATIO` times its compressed
  size, and an archive whose members together do, once past :data:`RATIO_GRACE` bytes (a blank
  image may deflate a thousandfold and costs nothing; recorded traces and images deflate far
  less than a hundredfold, a zip bomb a thousandfold or more);
* members that together declare more than the free disk less :data:`DISK_RESERVE`, when they
  are unpacked (a member read in memory is checked against the free memory by its reader).

While reading, the bytes actually inflated are counted: a member whose header lies about its
size is stopped at the size it declared (and refused), never inflated to its end.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path

from dina_core.atomic import disk_full_reason
from dina_core.data.guards import human_bytes
from dina_core.errors import DatasetError, DinaError, DiskFullError

MAX_RATIO = 100  # declared bytes per compressed byte, per member and overall, above RATIO_GRACE
RATIO_GRACE = 32 << 20  # bytes a member (or the whole archive) may declare whatever its ratio
DISK_RESERVE = 1 << 30  # bytes an unpack leaves free on the disk (the data and runs folders share it)
_BLOCK = 1 << 20  # bytes inflated per read


def _refuse(src, member: str, found: str, expected: str) -> DinaError:
    """The one-line error about ``member`` of the zip ``src``: what it is and what was expected."""
    return DinaError(f"{src}: member {member!r} {found}; expected {expected}")


def _climbs(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


def check_archive(zf: zipfile.ZipFile, src, *, room: int | None = None, room_label: str = "") -> None:
    """Refuse links, names that climb out and declared sizes over the limits (module docstring).

    Args:
        zf: the open archive.
        src: its path, named in messages.
        room: bytes the members will be unpacked into together (free disk less the reserve), or
            None when they are read one at a time in memory (the reader checks each against the
            free memory before reading it).
        room_label: where that room is, for the message (e.g. 'on the disk holding DATA/uploads').

    Raises:
        DinaError: naming the archive, the member, what it is and what was expected.
    """
    infos = [info for info in zf.infolist() if not info.is_dir()]
    for info in zf.infolist():
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(src, info.filename, "is a symbolic link",
                         "plain files and folders (a link may lead anywhere)")
        if _climbs(info.filename):
            raise _refuse(src, info.filename, "points outside the archive",
                         "a relative name inside it (no leading '/', no '..')")
    for info in infos:
        if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(src, info.filename, f"declares {human_bytes(info.file_size)} unpacked from "
                         f"{human_bytes(info.compress_size)} ({info.file_size / max(info.compress_size, 1):,.0f}x)",
                         f"at most {MAX_RATIO}x its compressed size (a zip bomb unpacks far more)")
    declared = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if declared > RATIO_GRACE and declared > MAX_RATIO * max(packed, 1):
        raise _refuse(src, f"<{len(infos)} members>", f"declare {human_bytes(declared)} unpacked from "
                     f"{human_bytes(packed)} ({declared / max(packed, 1):,.0f}x)",
                     f"at most {MAX_RATIO}x the compressed size (a zip bomb unpacks far more)")
    if room is not None and declared > room:
        raise _refuse(src, f"<{len(infos)} members>", f"declare {human_bytes(declared)} unpacked",
                     f"members that fit {room_label or 'the room left'}: {human_bytes(room)}")


def _blocks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, src):
    """The inflated bytes of ``info`` in blocks, stopped (and refused) past its declared size.

    Raises DatasetError naming ``src`` and the member when it is damaged or its size is not the declared one.
    """
    done, expected = 0, f"a readable member of the {info.file_size:,} bytes its header declares"
    try:
        with zf.open(info) as member:
            while block := member.read(_BLOCK):
                done += len(block)
                if done > info.file_size:
                    raise DatasetError(src, info.filename, expected, "more bytes than that (a header that lies)")
                yield block
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
        raise DatasetError(src, info.filename, expected,
                           f"damaged data, or a false size in its header ({err})") from None
    if done != info.file_size:
        raise DatasetError(src, info.filename, expected, f"{done:,} bytes")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, src) -> bytes:
    """The bytes of one member, inflated at most to its declared size (DatasetError past it, or if damaged)."""
    return b"".join(_blocks(zf, info, src))


def extract_archive(zip_path: str | os.PathLike, dest: str | os.PathLike, *, free: int | None = None) -> None:
    """Unpack ``zip_path`` into the existing folder ``dest``, after :func:`check_archive` accepts it.

    Args:
        zip_path: the archive.
        dest: an empty folder; what was unpacked stays there when this raises (the caller removes it).
        free: bytes free on ``dest``'s disk (default: measured); the members must leave
            :data:`DISK_RESERVE` of it.

    Raises:
        DinaError: not a zip, or a member :func:`check_archive` refuses; DatasetError: a member
            that is damaged or inflates past its declared size; DiskFullError: the disk filled up while
            unpacking (``dest`` then holds part of the archive: the caller removes it).
    """
    zip_path, dest = Path(zip_path), Path(dest)
    free = shutil.disk_usage(dest).free if free is None else free
    try:
        with zipfile.ZipFile(zip_path) as zf:
            check_archive(zf, zip_path, room=max(free - DISK_RESERVE, 0),
                          room_label=f"on the disk holding {dest.parent} ({human_bytes(free)} free, "
                                     f"{human_bytes(DISK_RESERVE)} kept free)")
            for info in zf.infolist():
                target = dest.joinpath(*info.filename.replace("\\", "/").split("/"))
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    out = open(target, "xb")  # never through a file or link that is already there
                except FileExistsError:
                    raise _refuse(zip_path, info.filename, "appears twice in the archive",
                                 "one member per name") from None
                with out:
                    for block in _blocks(zf, info, zip_path):
                        out.write(block)
    except zipfile.BadZipFile:
        raise DinaError(f"{zip_path}: not a readable .zip file; expected a zip archive") from None
    except OSError as exc:  # the disk filled up meanwhile (another writer), or a file size limit
        reason = disk_full_reason(exc)
        if reason is None:
            raise
        raise DiskFullError(dest, reason, earlier=False) from exc
