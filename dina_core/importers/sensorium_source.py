"""Read a Sensorium static folder or its .zip file by file, refusing what a reader must not open.

Helpers of :mod:`dina_core.importers.sensorium`. Zips are read member by member in memory,
never extracted. Every file is checked before it is read: a FIFO, device or folder in its
place is refused (opening a FIFO would block), so is a file larger than the free memory,
and a ``.npy`` file shorter than its header declares is refused as truncated before numpy
allocates the declared shape.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dina_core.data.guards import check_fits, file_problem, regular_file
from dina_core.data.safe_pickle import npy_header
from dina_core.errors import DatasetError


class SensoriumSource:
    """Relative-path access to a static folder on disk or inside an open zip."""

    def __init__(self, src: Path, name: str, root: Path | None = None,
                 zf: zipfile.ZipFile | None = None, prefix: str = ""):
        self.src, self.name, self.root, self.zf, self.prefix = src, name, root, zf, prefix
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
        if self.zf is None:
            return [e.name for e in os.scandir(self.root / rel) if not e.is_dir()]  # a FIFO is listed, then refused
        return self._dirs.get(rel, [])

    def read(self, rel: str) -> bytes:
        """The bytes of file ``rel``; a FIFO, device or folder in its place is refused before it is opened
        (a FIFO would block), and so is a file larger than the free memory (a sparse file costs no disk)."""
        try:
            if self.zf is None:
                info = (self.root / rel).stat()
                problem = file_problem(info)
                if problem:
                    raise DatasetError(self.src, rel, "a .npy file", problem)
                size = info.st_size
            else:
                size = self.zf.getinfo(self.prefix + rel).file_size
            check_fits(self.src, [(rel, (size,), np.uint8)])
            if self.zf is None:
                return (self.root / rel).read_bytes()
            return self.zf.read(self.prefix + rel)
        except (FileNotFoundError, KeyError):
            raise DatasetError(self.src, rel, "a file", "nothing (it is missing)") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:  # a damaged member or disk
            raise DatasetError(self.src, rel, "a readable file", f"damaged data ({err})") from None

    def load(self, rel: str) -> np.ndarray:
        """Load one ``.npy`` file (never unpickling: object arrays raise ValueError).

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
            prefix = _find_prefix(zf.namelist(), src)
            yield SensoriumSource(src, prefix.rstrip("/").rpartition("/")[2] or src.stem, zf=zf,
                          prefix=prefix)
        return
    root = src
    if not (src / "meta").is_dir():
        inner = [d for d in src.iterdir() if (d / "meta").is_dir()]
        root = inner[0] if len(inner) == 1 else src
    yield SensoriumSource(root, root.name, root=root)  # messages name the folder actually read
