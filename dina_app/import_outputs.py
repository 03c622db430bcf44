"""Which file in ``DATA/imported`` is the import the user asked for (no Streamlit).

Every importer records what it was asked for in the dataset's ``import_request`` attribute
(importer, resolved source paths, options; for raw traces also the preprocessing). The app
uses it so that an earlier output is never handed back as if it were the requested import:

* Two sources with the same folder name (``a/session1`` and ``b/session1``) get distinct files:
  the plain name goes to the first; a file that already holds *another* source is never reused
  or silently replaced, the new one is written under ``<name>-<8 hex of its path>``.
* An existing output is reused only when it records the same request, validates in full, and
  is newer than every file of its source; otherwise it is imported afresh (atomically: a failed
  import leaves the earlier file byte-identical, and it is not opened).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dina_core.data.hdf5_safety import open_hdf5
from dina_core.data.io import validate_dataset
from dina_core.errors import DinaError


def recorded_request(path: Path) -> dict | None:
    """The ``import_request`` recorded in the DINA file at ``path``; None when absent or unreadable."""
    try:
        with open_hdf5(path) as f:
            value = f.attrs.get("import_request")
    except DinaError:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        request = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return request if isinstance(request, dict) else None


def same_source(a: dict | None, b: dict) -> bool:
    """Whether two requests read the same recording (importer and every source path), whatever the options."""
    keys = ("importer", "source", "stimuli", "images")
    return a is not None and all(a.get(k) == b.get(k) for k in keys)


def distinct_name(name: str, request: dict) -> str:
    """``name`` with 8 hex digits of the source's path: stable for one source, distinct for two."""
    return f"{name}-{hashlib.sha256(str(request.get('source')).encode()).hexdigest()[:8]}"


def output_name(name: str, request: dict, existing) -> str:
    """The name to import ``request`` under: ``name`` unless ``existing(name)`` is a file holding another source.

    Args:
        name: the name the user chose or the source's folder name.
        request: what is being imported.
        existing: maps a name to its output path (``sources.imported_path``).
    """
    out = existing(name)
    if out.exists() and not same_source(recorded_request(out), request):
        return distinct_name(name, request)
    return name


def holds_other_source(out: Path, request: dict) -> dict | None:
    """The request recorded in ``out`` when ``out`` exists and came from another source, else None."""
    if not out.exists():
        return None
    recorded = recorded_request(out)
    return None if same_source(recorded, request) else (recorded or {"source": "an unknown source"})


def reusable(out: Path, request: dict, source_files: list[Path]) -> bool:
    """True when ``out`` is the import of ``request``: same request, valid, and newer than its source."""
    if not out.is_file() or recorded_request(out) != json.loads(json.dumps(request)):
        return False
    newest = max((f.stat().st_mtime_ns for f in source_files), default=0)
    if out.stat().st_mtime_ns < newest:
        return False
    try:
        validate_dataset(out)
    except DinaError:
        return False
    return True
