"""Helpers of the hostile Sensorium tests: import a damaged copy and check the refusal, edit one array.

The pristine folder and its good import, and the per-case copy, are the ``sensorium_pristine`` and
``sensorium_case`` fixtures of conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from dina_core.errors import DatasetError
from dina_core.importers.sensorium import import_sensorium
from hostile import names_the_source, no_hang, untouched


def refused(src, out, field: str, *words: str, pristine=None, roots=None) -> DatasetError:
    """Import ``src`` over ``out``: a DatasetError naming the source and ``field``; nothing under ``roots``
    (default: the test's whole folder, and the pristine source when given) changes."""
    roots = roots or [out.parent.parent] + ([pristine[0].parent] if pristine else [])
    with untouched(*roots), no_hang(), pytest.raises(DatasetError) as info:
        import_sensorium(src, out)
    return names_the_source(info.value, src, field, words)


def edit(src, rel: str, change) -> None:
    """Replace the array in ``src/rel`` by ``change(array)``."""
    path = src / rel
    np.save(path, change(np.load(path)))
