"""Paths resolved before they are trusted: nothing reached through a link may leave its root.

The app reads, writes and deletes only under its data and runs folders. A name checked as
text (``runs/old``) can still lead elsewhere when a part of it is a symbolic link, so every
such path goes through :func:`inside`, which resolves links first and refuses the result
when it lies outside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from dina_core.errors import DinaError


def inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path`` (absolute, or relative to ``root``) with every symlink resolved, if it stays under ``root``.

    The path need not exist (a file about to be written is checked the same way).

    Raises:
        DinaError: the resolved path lies outside ``root`` (also resolved), naming both.
    """
    base = Path(root).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise DinaError(f"{path}: leads to {target}, outside the folder {base}; refused")
    return target


def is_inside(root: str | os.PathLike, path: str | os.PathLike) -> bool:
    """True when :func:`inside` accepts ``path``."""
    try:
        inside(root, path)
    except DinaError:
        return False
    return True


def files_under(root: str | os.PathLike, path: str | os.PathLike) -> list[Path]:
    """Every file a reader of ``path`` (a file or a folder) could reach, all checked to stay under ``root``.

    Links are followed, as a reader would follow them, but only while they resolve under
    ``root``; a folder reached twice (two links to it, a link loop) is walked once.

    Returns:
        The files, links resolved, in a stable order (folders walked in name order).

    Raises:
        DinaError: some entry (``path`` itself, a file, a folder or a link below it) resolves
            outside ``root``, naming it.
    """
    start = inside(root, path)
    if not start.is_dir():
        return [start] if start.exists() else []
    files: list[Path] = []
    seen: set[Path] = set()
    pending = [start]
    while pending:
        folder = pending.pop()
        if folder in seen:
            continue
        seen.add(folder)
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        below = []
        for entry in entries:
            # ``folder`` is resolved, so only a link can lead elsewhere: resolving just the
            # links keeps a folder of thousands of files (Sensorium) fast
            target = inside(root, entry.path) if entry.is_symlink() else Path(entry.path)
            if target.is_dir():
                below.append(target)
            elif target.exists():
                files.append(target)
        pending.extend(reversed(below))
    return files
