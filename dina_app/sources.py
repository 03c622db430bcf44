"""Where recordings come from: the data folder, uploads, raw sources, Sensorium imports (no Streamlit).

The app opens files only under the data folder (``state.data_dir()``): uploads are
saved into ``DATA/uploads``, imports are written to ``DATA/imported``; a path from a
browser is never opened directly.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dina_core.importers.stimuli import IMAGE_SUFFIXES
from dina_core.errors import DinaError
from dina_core.progress import Progress

UPLOADS, IMPORTED = "uploads", "imported"
PLANE = re.compile(r"plane\d+")
IMAGE_FILES = set(IMAGE_SUFFIXES)  # a folder holding any of these is an image folder


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies under ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


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
    for folder, subdirs, files in os.walk(root):
        here = Path(folder)
        if "data" in subdirs and (here / "meta" / "trials").is_dir():
            out.sensorium.append(here)
            subdirs.clear()
            continue
        if "F.npy" in files:
            out.suite2p.append(here.parent if PLANE.fullmatch(here.name) else here)
            subdirs.clear()
            continue
        subdirs.sort()
        names = [n for n in sorted(files) if inside(here / n, root)]
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

    Raises:
        DinaError: not a zip file, or a member that would land outside the folder.
    """
    out = zip_path.with_suffix("")
    if out.is_dir():
        return out
    if not inside(zip_path, root):
        raise DinaError(f"{zip_path}: only uploads inside the data folder {root} can be unpacked")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                if not inside(out / member, out):
                    raise DinaError(f"{zip_path.name}: member {member!r} points outside the archive")
            tmp = out.with_name(out.name + ".part")
            shutil.rmtree(tmp, ignore_errors=True)
            archive.extractall(tmp)
    except zipfile.BadZipFile:
        raise DinaError(f"{zip_path.name}: not a readable .zip file") from None
    tmp.replace(out)
    return out


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    return stem[:80]


def save_upload(fileobj: BinaryIO, name: str, root: Path) -> Path:
    """Copy an uploaded file into ``root/uploads`` under ``<name>-<content hash>``; reused if already there."""
    digest = hashlib.sha256()
    fileobj.seek(0)
    for block in iter(lambda: fileobj.read(1 << 22), b""):
        digest.update(block)
    safe = _safe_name(name)
    stem, suffix = (safe.rsplit(".", 1) + [""])[:2]
    out = root / UPLOADS / f"{stem}-{digest.hexdigest()[:10]}.{suffix or 'bin'}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".part")
        fileobj.seek(0)
        with open(tmp, "wb") as f:
            shutil.copyfileobj(fileobj, f, 1 << 22)
        tmp.replace(out)
    return out


def import_sensorium_source(src: Path, root: Path, progress: Progress | None = None) -> Path:
    """Convert a Sensorium folder or zip under ``root`` into ``root/imported/<name>.h5`` (kept if present)."""
    from dina_core.importers.sensorium import import_sensorium

    if not inside(src, root):
        raise DinaError(f"{src}: only sources inside the data folder {root} can be imported")
    out = imported_path(src.stem if src.suffix == ".zip" else src.name, root)
    if not out.exists():
        import_sensorium(src, out, progress=progress)
    return out


def imported_path(name: str, root: Path) -> Path:
    """Where an import named ``name`` is written: ``root/imported/<safe name>.h5``."""
    return root / IMPORTED / f"{_safe_name(Path(name).stem if name.endswith('.h5') else name)}.h5"
