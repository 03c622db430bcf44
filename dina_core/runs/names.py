"""Run names chosen in DINA Studio: one folder name under the runs folder, readable and portable.

The CLI takes any ``--out`` path the user types (their shell, their folders); the app's users only
name a folder under the server's runs folder, so a name there must not reach elsewhere or hide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import DinaError

MAX_NAME_LENGTH = 64  # a name stays readable in a table, a path and a file system (255-byte names)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ALLOWED = "characters: letters A-Z and a-z, digits, '.', '_' and '-', starting with a letter or digit"


def check_run_name(name: str, taken: Iterable[str] = ()) -> str:
    """``name`` if it is a new run's folder name; DinaError saying what is wrong otherwise.

    Args:
        name: the name typed by the user.
        taken: names already in the runs folder; a name equal to one of them ignoring case is
            refused too (on macOS and Windows file systems it would be the same folder).
    """
    if not name:
        raise DinaError("run name: empty; type a name for the new run's folder")
    if len(name) > MAX_NAME_LENGTH:
        raise DinaError(f"run name: {len(name)} characters; at most {MAX_NAME_LENGTH}")
    if not _NAME.fullmatch(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = (f"characters {', '.join(repr(c) for c in bad)} not allowed" if bad
                else f"starts with {name[0]!r}")
        raise DinaError(f"run name {name!r}: {what}; use {ALLOWED}")
    clash = next((t for t in taken if t.casefold() == name.casefold()), None)
    if clash is not None:
        raise DinaError(f"run name {name!r}: a run folder {clash!r} exists already; choose another name")
    return name


def is_folder_name(name: object) -> bool:
    """Whether ``name`` is a portable folder name (``ALLOWED``; no separators, never '.' or '..')."""
    return isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None
