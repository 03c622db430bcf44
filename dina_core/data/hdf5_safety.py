"""Refuse HDF5 files that are not self-contained before any of their data is read.

An HDF5 file can make a read reach outside itself: an external link opens another file, a
dataset with external storage reads its bytes from any file named in it (a 10 KB file can
"hold" a server file's contents), a virtual dataset maps other files' datasets, and a
filter that HDF5 does not build in is loaded as a plugin library from ``HDF5_PLUGIN_PATH``.
DINA reads files from collaborators, so every read path (DINA files, uploads, NWB, image
stacks) opens HDF5 through :func:`open_hdf5`, which calls :func:`check_self_contained` first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py

from dina_core.data.guards import regular_file
from dina_core.errors import DatasetError

# Filters compiled into HDF5 itself, plus LZF, which h5py ships and registers: no plugin is loaded.
BUILTIN_FILTERS = {h5py.h5z.FILTER_DEFLATE: "gzip", h5py.h5z.FILTER_SHUFFLE: "shuffle",
                   h5py.h5z.FILTER_FLETCHER32: "fletcher32", h5py.h5z.FILTER_SZIP: "szip",
                   h5py.h5z.FILTER_NBIT: "nbit", h5py.h5z.FILTER_SCALEOFFSET: "scaleoffset",
                   h5py.h5z.FILTER_LZF: "lzf"}
_EXPECTED = "a self-contained HDF5 file (no external links, external storage, virtual datasets or plugin filters)"
_LINK_KINDS = {h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT}  # soft links name objects inside the same file


def _check_links(group: h5py.Group, path: Path) -> None:
    for name in group:
        where = f"{group.name.rstrip('/')}/{name}"
        kind = group.id.links.get_info(name.encode()).type
        if kind == h5py.h5l.TYPE_EXTERNAL:
            target = group.get(name, getlink=True)
            raise DatasetError(path, where, _EXPECTED,
                               f"an external link to {target.filename}:{target.path} (refused)")
        if kind not in _LINK_KINDS:
            raise DatasetError(path, where, _EXPECTED, f"a user-defined link of type {kind} (refused)")


def _check_dataset(ds: h5py.Dataset, path: Path) -> None:
    if ds.is_virtual:
        sources = sorted({source.file_name for source in ds.virtual_sources()})
        raise DatasetError(path, ds.name, _EXPECTED,
                           f"a virtual dataset mapping {', '.join(sources)} (refused)")
    plist = ds.id.get_create_plist()
    if plist.get_external_count():
        files = [plist.get_external(i)[0].decode(errors="replace") for i in range(plist.get_external_count())]
        raise DatasetError(path, ds.name, _EXPECTED,
                           f"a dataset stored in external file(s) {', '.join(files)} (refused)")
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if code not in BUILTIN_FILTERS:
            label = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
            raise DatasetError(path, ds.name, _EXPECTED,
                               f"filter {code}{f' ({label})' if label else ''}, which is not built in "
                               f"({', '.join(sorted(BUILTIN_FILTERS.values()))}): HDF5 would load it "
                               "as a plugin library (refused)")


def check_self_contained(f: h5py.File, path: str | os.PathLike | None = None) -> None:
    """Raise unless every object in the open file ``f`` lives in the file itself.

    Walks every group's links and every dataset (each object once, however often linked):
    nothing is read from the datasets, so it costs a few milliseconds even on large files.

    Args:
        f: the file, open for reading.
        path: the file's path for messages (default: ``f.filename``).

    Raises:
        DatasetError: naming the file and the object path: an external or user-defined link,
            a virtual dataset, a dataset with external raw storage, or a filter that is not
            built into HDF5 (allowed: gzip, shuffle, fletcher32, szip, nbit, scaleoffset, lzf).
    """
    path = Path(path if path is not None else f.filename)
    _check_links(f, path)

    def visit(_name: str, obj) -> None:
        if isinstance(obj, h5py.Group):
            _check_links(obj, path)
        elif isinstance(obj, h5py.Dataset):
            _check_dataset(obj, path)

    f.visititems(visit)


@contextmanager
def open_hdf5(path: str | os.PathLike, expected: str = "an HDF5 file") -> Iterator[h5py.File]:
    """Open ``path`` read-only after checking it is self-contained; always closed on exit.

    Args:
        path: the file.
        expected: what the caller wants it to be, for the message when HDF5 cannot open it.

    Raises:
        DatasetError: ``path`` is not a regular file (a FIFO is refused before it is opened, which
            would block), HDF5 cannot open it (not HDF5, empty, truncated, damaged superblock), or
            :func:`check_self_contained` refuses it.
    """
    regular_file(path, expected, allow_empty=True)  # HDF5 itself says why an empty file is not one
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(path, "<file>", expected, f"a file HDF5 cannot open ({err})") from None
    try:
        check_self_contained(f, path)
        yield f
    finally:
        f.close()
