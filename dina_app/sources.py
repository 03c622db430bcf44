"""Where recordings come from: the data folder, uploads, raw sources, Sensorium imports (no Streamlit).

The app opens files only under the data folder (``state.data_dir()``): uploads are
saved into ``DATA/uploads``, imports are written to ``DATA/imported``; a path from a
browser is never opened directly.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dina_core.errors import DinaError

UPLOADS, IMPORTED = "uploads", "imported"


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies under ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def dataset_files(root: Path) -> list[Path]:
    """DINA ``.h5`` files under ``root`` (any depth), sorted by relative path."""
    return sorted(p for p in root.rglob("*.h5") if p.is_file() and inside(p, root)) if root.is_dir() else []


def sensorium_sources(root: Path) -> list[Path]:
    """Sensorium static folders (holding ``data/`` and ``meta/``) and ``.zip`` files under ``root``."""
    if not root.is_dir():
        return []
    folders = {p.parent.parent for p in root.rglob("meta/trials") if (p.parent.parent / "data").is_dir()}
    zips = {p for p in root.rglob("*.zip") if p.is_file()}
    return sorted(p for p in folders | zips if inside(p, root))


def suite2p_folders(root: Path) -> list[Path]:
    """suite2p output folders under ``root``: the parent of ``plane0``, ``plane1``... (or a lone plane folder)."""
    if not root.is_dir():
        return []
    found = set()
    for f in root.rglob("F.npy"):
        plane = f.parent
        found.add(plane.parent if re.fullmatch(r"plane\d+", plane.name) else plane)
    return sorted(p for p in found if inside(p, root))


def stimulus_tables(root: Path) -> list[Path]:
    """CSV files under ``root`` (candidate stimulus tables)."""
    return sorted(p for p in root.rglob("*.csv") if p.is_file() and inside(p, root)) if root.is_dir() else []


def image_sources(root: Path) -> list[Path]:
    """Image stacks (``.npy``, ``.h5`` outside the imported datasets) and folders of PNG/TIFF under ``root``.

    suite2p's own arrays and DINA's own outputs are left out.
    """
    if not root.is_dir():
        return []
    planes = {f.parent for f in root.rglob("F.npy")}
    stacks = {p for p in root.rglob("*.npy") if p.parent not in planes}
    stacks |= {p for p in root.rglob("*.h5") if (root / IMPORTED) not in p.parents and (root / UPLOADS) not in p.parents}
    folders = {p.parent for ext in ("png", "tif", "tiff", "PNG", "TIF", "TIFF") for p in root.rglob(f"*.{ext}")}
    return sorted(p for p in stacks | folders if inside(p, root))


def nwb_files(root: Path) -> list[Path]:
    """``.nwb`` files under ``root``."""
    return sorted(p for p in root.rglob("*.nwb") if p.is_file() and inside(p, root)) if root.is_dir() else []


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


def import_sensorium_source(src: Path, root: Path, progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Convert a Sensorium folder or zip under ``root`` into ``root/imported/<name>.h5`` (kept if present)."""
    from dina_core.data.sensorium import import_sensorium

    if not inside(src, root):
        raise DinaError(f"{src}: only sources inside the data folder {root} can be imported")
    out = imported_path(src.stem if src.suffix == ".zip" else src.name, root)
    if not out.exists():
        import_sensorium(src, out, progress=progress)
    return out


def imported_path(name: str, root: Path) -> Path:
    """Where an import named ``name`` is written: ``root/imported/<safe name>.h5``."""
    return root / IMPORTED / f"{_safe_name(Path(name).stem if name.endswith('.h5') else name)}.h5"
