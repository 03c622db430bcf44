"""Helpers of the issue-21 tests (test_trust_*.py): a small Sensorium folder to damage, and what a refusal must be.

A refusal is a DatasetError naming the *source* file and field (``hostile.names_the_source``) that changed
nothing (``hostile.untouched``): an earlier output stays byte-identical and no file appears.
"""

from __future__ import annotations

import shutil
import warnings

import pytest

from dina_core.errors import DatasetError, DinaWarning
from dina_core.importers.sensorium import import_sensorium
from dina_core.simulate.sensorium_folder import NAME, write_sensorium_folder
from hostile import names_the_source, no_hang, untouched


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A small Sensorium folder (60 trials, 12 neurons) and a good import of it (shared, never modified)."""
    folder = write_sensorium_folder(tmp_path_factory.mktemp("pristine"))
    return folder, quiet(import_sensorium, folder, folder.parent / "good.h5")


@pytest.fixture()
def sens(pristine, tmp_path):
    """(a copy of the Sensorium folder to damage, an output holding a copy of the good import)."""
    src = shutil.copytree(pristine[0], tmp_path / "src" / NAME)
    out = tmp_path / "out" / "recording.h5"
    out.parent.mkdir()
    shutil.copy2(pristine[1], out)
    return src, out


def quiet(run, *args, **kwargs):
    """``run(*args, **kwargs)`` with DinaWarnings (the tiny recordings' small test tiers) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        return run(*args, **kwargs)


def refused(run, root, source, field: str, *words: str) -> DatasetError:
    """``run()`` raises a DatasetError naming ``source`` and ``field`` and changes nothing under ``root``."""
    with untouched(root), no_hang(), pytest.raises(DatasetError) as info:
        run()
    return names_the_source(info.value, source, field, words)
