"""Read a Sensorium static folder or its .zip file by file, refusing what a reader must not open.

Helpers of :mod:`dina_core.importers.sensorium`. Zips are read member by member in memory,
never extracted, once :func:`~dina_core.importers.archive.check_archive` has accepted them (no
link member, no name that climbs out, no zip bomb). Every file is checked before it is read: a
file or folder of a static folder that a link leads out of it is refused
(:mod:`~dina_core.importers.confine`), so is a FIFO, device or folder in a file's place (opening a
FIFO would block) and a file larger than the free memory, and a ``.npy`` file shorter than its
header declares is refused as truncated before numpy allocates the declared shape.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dina_core.data.guards import check_fits, file_problem, regular_file
from dina_core.data.safe_pickle import npy_header
from dina_core.data.text import decode_text
from dina_core.errors import DatasetError
from dina_core.importers.archive import check_archive, read_member
from dina_core.importers.confine import Confined


class SensoriumSource:
    """Relative-path access to a static folder on disk or inside an open zip."""

    def __init__(self, src: Path, name: str, root: Path | None = None,
                 zf: zipfile.ZipFile | None = None, prefix: str = "", confined: Confined | None = None):
        self.src, self.name, self.root, self.zf, self.prefix = src, name, root, zf, prefix
        self.confined = confined or (Confined(root) if root is not None else None)
        self._dirs: dict[str, list[str]] = {}
        for member in zf.namelist() if zf else []:
            if member.startswith(prefix) and not member.endswith("/"):
                folder, _, base = member[len(prefix):].rpartition("/")
                self._dirs.setdefault(folder, []).append(base)

    def exists(self, rel: str) -> bool:
        if self.zf is None:
            return (self.root / rel).exists()
        return rel in self._dirs or self.prefix + rel in self.zf.NameToInfo

    def files(self, rel: str) -> list[str]:
        """Names of the files directly inside folder ``rel``."""
        if not self.exists(rel):
            raise DatasetError(self.src, rel, "a folder", "nothing (it is missing)")
        if self.zf is None:  # a FIFO is listed, then refused; a folder linked out is refused here
            return [e.name for e in os.scandir(self.confined.folder(self.root / rel)) if not e.is_dir()]
        return self._dirs.get(rel, [])

    def read(self, rel: str) -> bytes:
        """The bytes of file ``rel``; a FIFO, device or folder in its place is refused before it is opened
        (a FIFO would block), and so is a file larger than the free memory (a sparse file costs no disk)."""
        try:
            if self.zf is None:
                path = self.confined.file(self.root / rel)
                info = path.stat()
                problem = file_problem(info)
                if problem:
                    raise DatasetError(self.src, rel, "a .npy file", problem)
                size = info.st_size
            else:
                member = self.zf.getinfo(self.prefix + rel)
                size = member.file_size
            check_fits(self.src, [(rel, (size,), np.uint8)])
            if self.zf is None:
                return path.read_bytes()
            return read_member(self.zf, member, self.src)  # stops at the declared size: a lying header costs nothing
        except (FileNotFoundError, KeyError):
            raise DatasetError(self.src, rel, "a file", "nothing (it is missing)") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:  # a damaged member or disk
            raise DatasetError(self.src, rel, "a readable file", f"damaged data ({err})") from None

    def load(self, rel: str, *, skip_pickled: bool = False) -> np.ndarray | None:
        """Load one ``.npy`` file, never unpickling: an object array is refused (None with ``skip_pickled``).

        The header is read first: a file shorter than its header declares is refused as
        truncated, before numpy allocates the declared shape.
        """
        data = self.read(rel)
        stream = io.BytesIO(data)
        try:
            shape, _, dtype = npy_header(stream, self.src, rel)
        except DatasetError as err:
            raise DatasetError(self.src, rel, "a .npy array of numbers or text",
                               f"a file numpy cannot load ({err.expected}: {err.found})") from None
        if dtype.hasobject and skip_pickled:
            return None
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if not dtype.hasobject and len(data) - stream.tell() < declared:
            raise DatasetError(self.src, rel, f"a complete .npy file: its header declares shape {tuple(shape)} "
                               f"{dtype} ({declared:,} bytes)", f"{len(data) - stream.tell():,} bytes of data "
                               "(the file is truncated)")
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as err:  # not .npy, or pickled: numpy raises various types
            raise DatasetError(self.src, rel, "a .npy array of numbers or text",
                               f"a file numpy cannot load without unpickling ({err})") from None


    def read_json(self, rel: str) -> dict:
        """File ``rel`` as a JSON object; DatasetError naming it when it is not UTF-8 text holding one."""
        text = decode_text(self.read(rel), self.src, rel)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise DatasetError(self.src, rel, "a JSON object", f"text that is not JSON ({err.msg} at line "
                               f"{err.lineno}, column {err.colno})") from None
        except RecursionError:
            raise DatasetError(self.src, rel, "a JSON object", "JSON nested too deeply to read") from None
        if not isinstance(value, dict):
            raise DatasetError(self.src, rel, "a JSON object ({...})", f"a JSON {_JSON_TYPES[type(value)]}")
        return value


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "true or false",
               type(None): "null"}


def _find_prefix(members: list[str], src: Path) -> str:
    """The folder inside the zip that holds data/ and meta/ (top level or up to 2 deep)."""
    for depth in range(3):
        prefixes = {"/".join(parts[:depth]) for parts in (m.split("/") for m in members)
                    if len(parts) > depth + 1 and parts[depth] in ("data", "meta")
                    and parts[0] != "__MACOSX"}
        if len(prefixes) == 1:
            prefix = prefixes.pop()
            return prefix + "/" if prefix else ""
        if len(prefixes) > 1:
            raise DatasetError(src, "<zip>", "a single static dataset folder",
                               f"several: {sorted(prefixes)}")
    raise DatasetError(src, "meta/trials/tiers.npy", "a Sensorium static folder (data/ and "
                       "meta/) at the top of the zip or one level down", "no such folder")


@contextmanager
def open_source(src: Path) -> Iterator[SensoriumSource]:
    if not src.exists():
        raise DatasetError(src, "<source>", "a Sensorium static folder or .zip",
                           "nothing (no such file or folder)")
    if not src.is_dir():
        regular_file(src, "a Sensorium static folder or .zip", field="<source>")  # a FIFO would block
        if not zipfile.is_zipfile(src):
            raise DatasetError(src, "<source>", "a folder or a .zip archive", "another file")
        with zipfile.ZipFile(src) as zf:
            check_archive(zf, src)  # links, names that climb out, zip bombs: before any member is read
            prefix = _find_prefix(zf.namelist(), src)
            yield SensoriumSource(src, prefix.rstrip("/").rpartition("/")[2] or src.stem, zf=zf,
                          prefix=prefix)
        return
    root = src
    if not (src / "meta").is_dir():
        inner = [d for d in src.iterdir() if (d / "meta").is_dir()]
        root = inner[0] if len(inner) == 1 else src
    confined = Confined(src, root)  # nothing outside the folder given is read, links included
    confined.folder(root)
    yield SensoriumSource(root, root.name, root=root, confined=confined)  # messages name the folder actually read
