"""Where recordings come from: the data folder, uploads, Sensorium imports (no Streamlit).

The app opens files only under the data folder (``state.data_dir()``): uploads are
saved into ``DATA/uploads``, imports are written to ``DATA/imported``; a path from a
browser is never opened directly.
"""

from __future__ import annotations

import hashlib
import re
import shutil
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
    out = root / IMPORTED / f"{_safe_name(src.stem if src.suffix == '.zip' else src.name)}.h5"
    if not out.exists():
        import_sensorium(src, out, progress=progress)
    return out
