"""Raw sources of the hostile-source tests (test_hostile_suite2p_*.py, test_hostile_nwb.py): a fresh copy to damage.

The tiny recording's suite2p folder, stimulus table, images and NWB file, and a good import of each, are
written once (``tiny_sources`` in conftest.py); a :class:`Case` copies them for one test.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from dina_core.errors import DatasetError, DinaWarning
from dina_core.importers.suite2p import import_suite2p
from dina_core.simulate import SimConfig
from hostile import names_the_source, no_hang, untouched

HAS_NWB = importlib.util.find_spec("pynwb") is not None
TINY = SimConfig.small(n_neurons=30, n_train_images=40, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)


class Case:
    """A fresh copy of the recording (``root/session``) and of a good output (``root/out/recording.h5``)."""

    def __init__(self, tiny_sources, root: Path, kind: str):
        files, good, self.data = tiny_sources
        self.root = root
        session = Path(shutil.copytree(files.suite2p.parent, root / "session"))
        self.suite2p, self.table, self.images = session / "suite2p", session / "stimulus_table.csv", session / "images.npy"
        self.plane = self.suite2p / "plane0"
        self.nwb = session / "recording.nwb"
        self.out = root / "out" / "recording.h5"
        self.out.parent.mkdir()
        shutil.copy2(good / f"{kind}.h5", self.out)

    def import_suite2p(self, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DinaWarning)
            return import_suite2p(kw.pop("folder", self.suite2p), self.out, stimuli=kw.pop("stimuli", self.table),
                                  images=kw.pop("images", self.images), **kw)

    def import_nwb(self, **kw):
        from dina_core.importers.nwb import import_nwb
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DinaWarning)
            return import_nwb(kw.pop("path", self.nwb), self.out, **kw)

    def refused(self, run, file, field: str, *words: str) -> DatasetError:
        """``run()`` raises a DatasetError naming ``file`` and ``field``; nothing under the case changes."""
        with untouched(self.root), no_hang(), pytest.raises(DatasetError) as info:
            run()
        return names_the_source(info.value, file, field, words)

    def table_rows(self) -> list[list[str]]:
        with open(self.table, newline="") as f:
            return list(csv.reader(f))

    def write_table(self, rows) -> None:
        with open(self.table, "w", newline="") as f:
            csv.writer(f).writerows(rows)


def cell(case: Case, k: int = 2) -> int:
    """The ROI row of the k-th cell (iscell column 1 >= 0.5, the default threshold)."""
    return int(np.flatnonzero(np.load(case.plane / "iscell.npy")[:, 1] >= 0.5)[k])


def edit(path: Path, change) -> None:
    array = np.load(path)
    change(array)
    np.save(path, array)
