"""Where recordings come from: the data folder, uploads, raw sources, Sensorium imports (no Streamlit).

The app opens files only under the data folder (``state.data_dir()``): uploads are
saved into ``DATA/uploads``, imports are written to ``DATA/imported``; a path from a
browser is never opened directly, and every path is resolved (``dina_core.paths.inside``)
before it is read or written, so a link never leads out of the data folder.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dina_core.atomic import atomic_path
from dina_core.errors import DinaError, DiskFullError
from dina_core.importers.archive import extract_archive
from dina_core.importers.stimuli import IMAGE_SUFFIXES
from dina_core.paths import files_under, inside, is_inside
from dina_core.progress import Progress

from . import import_outputs as outputs

UPLOADS, IMPORTED = "uploads", "imported"
PARTIAL = ".part"  # suffix of zips still being unpacked: never listed
PLANE = re.compile(r"plane\d+")
IMAGE_FILES = set(IMAGE_SUFFIXES)  # a folder holding any of these is an image folder


def _stays(root: Path, path: Path) -> bool:
    """False for a link that leads out of ``root`` (``path``'s folder is known to be inside)."""
    return not os.path.islink(path) or is_inside(root, path)


@dataclass
class Inventory:
    """What the data folder holds, by kind; every list sorted by path."""

    datasets: list[Path] = field(default_factory=list)  # .h5 files (DINA datasets, or image stacks)
    sensorium: list[Path] = field(default_factory=list)  # static folders (data/ + meta/trials) and .zip files
    suite2p: list[Path] = field(default_factory=list)  # suite2p folders (parents of plane0, ...) or lone planes
    tables: list[Path] = field(default_factory=list)  # .csv files: candidate stimulus tables
    images: list[Path] = field(default_factory=list)  # .npy/.h5 stacks and folders of PNG/TIFF
    nwb: list[Path] = field(default_factory=list)  # .nwb files


def scan(root: Path) -> Inventory:
    """One walk of ``root`` sorting what it finds into an :class:`Inventory`.

    Sensorium folders (thousands of per-trial ``.npy`` files each) and suite2p plane folders are
    recognised and not descended into, so a data folder of real recordings scans in milliseconds
    and their per-trial arrays never pose as image stacks. Files reached through links that
    leave ``root`` are ignored.
    """
    out = Inventory()
    if not root.is_dir():
        return out
    imported = root / IMPORTED
    for folder, subdirs, files in os.walk(root):  # links to folders are listed, never descended
        here = Path(folder)
        subdirs[:] = sorted(d for d in subdirs if not d.endswith(PARTIAL) and _stays(root, here / d))
        files = [n for n in files if not n.endswith(PARTIAL) and _stays(root, here / n)]
        if "data" in subdirs and "meta" in subdirs and (here / "meta" / "trials").is_dir():
            out.sensorium.append(here)
            subdirs.clear()
            continue
        if "F.npy" in files:
            out.suite2p.append(here.parent if PLANE.fullmatch(here.name) else here)
            subdirs.clear()
            continue
        names = sorted(files)
        if any(Path(n).suffix.lower() in IMAGE_FILES for n in names):
            out.images.append(here)
        for name in names:
            path, suffix = here / name, Path(name).suffix.lower()
            if suffix == ".h5":
                out.datasets.append(path)
                if imported not in path.parents and here != root / UPLOADS:
                    out.images.append(path)
            elif suffix == ".npy":
                out.images.append(path)
            elif suffix == ".csv":
                out.tables.append(path)
            elif suffix == ".nwb":
                out.nwb.append(path)
            elif suffix == ".zip":
                out.sensorium.append(path)
    for name in vars(out):
        setattr(out, name, sorted(set(getattr(out, name))))
    return out


def csv_header(path: Path) -> list[str]:
    """The column names on a CSV file's first line ([] when it cannot be read)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [name.strip() for name in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def nearest(candidates: list[Path], anchor: Path) -> int | None:
    """Index of the candidate sharing the longest folder prefix with ``anchor`` (a session's companions
    usually sit beside its suite2p folder), or None when there are none."""
    if not candidates:
        return None
    anchor_parts = Path(anchor).resolve().parts

    def shared(p: Path) -> int:
        return next((i for i, (a, b) in enumerate(zip(anchor_parts, p.resolve().parent.parts)) if a != b),
                    min(len(anchor_parts), len(p.resolve().parent.parts)))
    return max(range(len(candidates)), key=lambda i: shared(candidates[i]))


def extract_zip(zip_path: Path, root: Path) -> Path:
    """Unpack an uploaded ``.zip`` (saved by :func:`save_upload`) into a folder beside it; reused if done.

    The archive's rules are the core's (``dina_core.importers.archive``): no link member, no name that
    climbs out, no zip bomb, nothing past the free disk. Each call unpacks into its own temporary
    folder and renames it into place, so two sessions unpacking the same upload at once never write
    into each other's files: the first rename wins and the other's copy is removed.

    Raises:
        DinaError: not a zip file, a member the core refuses, or a zip (or its folder) reached
            through a link that leaves the data folder.
    """
    if not is_inside(root, zip_path):
        raise DinaError(f"{zip_path}: only uploads inside the data folder {root} can be unpacked")
    zip_path = inside(root, zip_path)
    out = inside(root, zip_path.with_suffix(""))
    if out.is_dir():
        return out
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=PARTIAL, dir=out.parent))
    try:
        try:
            extract_archive(zip_path, tmp)
        except DiskFullError as exc:  # named as the folder the user will look for; the partial one goes below
            raise DiskFullError(out, exc.reason, earlier=False) from None
        try:
            tmp.rename(out)
        except OSError:
            if not out.is_dir():  # not merely another session's unpack that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    return stem[:80]


def save_upload(fileobj: BinaryIO, name: str, root: Path) -> Path:
    """Copy an uploaded file into ``root/uploads`` under ``<name>-<content hash>``; reused if already there.

    Written atomically (a temporary file of its own, renamed into place), so concurrent saves
    of the same upload never mix. DinaError when ``root/uploads`` leads out of ``root``.
    """
    digest = hashlib.sha256()
    fileobj.seek(0)
    for block in iter(lambda: fileobj.read(1 << 22), b""):
        digest.update(block)
    safe = _safe_name(name)
    stem, suffix = (safe.rsplit(".", 1) + [""])[:2]
    out = inside(root, Path(UPLOADS) / f"{stem}-{digest.hexdigest()[:10]}.{suffix or 'bin'}")
    if not out.exists():
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            fileobj.seek(0)
            shutil.copyfileobj(fileobj, f, 1 << 22)
    return out


def import_sensorium_source(src: Path, root: Path, progress: Progress | None = None) -> Path:
    """Convert a Sensorium folder or zip under ``root`` into ``root/imported/<name>.h5``.

    An earlier output is reused only when it is this very import (``import_outputs.reusable``);
    a file of that name holding another source gets a distinct name beside it instead.

    Raises:
        DinaError: ``src``, or a link inside it, leads out of ``root``; DatasetError from the importer,
            which itself refuses a link that leads out of ``src`` (``dina_core.importers.confine``), as on
            the command line (the earlier output, if any, is then left as it was and not returned).
    """
    from dina_core.importers.sensorium import import_sensorium

    if not is_inside(root, src):
        raise DinaError(f"{src}: only sources inside the data folder {root} can be imported")
    files = files_under(root, src)  # raises on any link inside the folder that leads out of the data folder
    request = {"importer": "sensorium", "source": str(Path(src).resolve()), "options": {"final_test": "drop"}}
    name = outputs.output_name(src.stem if src.suffix == ".zip" else src.name, request,
                               lambda n: imported_path(n, root))
    out = imported_path(name, root)
    if not outputs.reusable(out, request, files):
        import_sensorium(src, out, progress=progress)
    return out


def imported_path(name: str, root: Path) -> Path:
    """Where an import named ``name`` is written: ``root/imported/<safe name>.h5`` (links resolved;
    DinaError when ``root/imported`` leads out of ``root``)."""
    return inside(root, Path(IMPORTED) / f"{_safe_name(Path(name).stem if name.endswith('.h5') else name)}.h5")
