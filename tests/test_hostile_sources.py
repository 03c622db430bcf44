"""Hostile raw recordings (suite2p folders, stimulus tables, image stacks, NWB files) and DINA-file readers.

Every bad input gets a clear DatasetError naming the *source* file and field (never the output), a
good earlier output stays byte-identical, and nothing else in the test's folder changes
(:func:`hostile.untouched`); the documented repair (``nan_frames='interpolate'``) is checked to do what
it says. Sources are a tiny simulated recording in suite2p's and NWB's real layouts
(``dina_core.simulate.trace_writers``), written once and copied for each case.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.data.io import read_dataset, validate_dataset
from dina_core.data.preprocess import fit_normalizers
from dina_core.errors import DatasetError, DinaError, DinaWarning
from dina_core.importers.suite2p import import_suite2p
from dina_core.importers.traces import TraceConfig
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.simulate.trace_writers import write_trace_recording
from hostile import names_the_source, untouched
from test_hostile_sensorium import no_hang

HAS_NWB = importlib.util.find_spec("pynwb") is not None
TINY = SimConfig.small(n_neurons=30, n_train_images=40, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)
DFF = "/processing/ophys/DfOverF/DfOverF/data"
STARTS = "/intervals/stimulus_presentations/start_time"


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """The tiny recording's files and a good import of each format (shared, never modified)."""
    data = simulate_recording(TINY)
    files = write_trace_recording(data, tmp_path_factory.mktemp("rec") / "session", nwb=HAS_NWB)
    good = tmp_path_factory.mktemp("good")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DinaWarning)
        import_suite2p(files.suite2p, good / "s2p.h5", stimuli=files.stimulus_table, images=files.images)
        if HAS_NWB:
            from dina_core.importers.nwb import import_nwb
            import_nwb(files.nwb, good / "nwb.h5")
    return files, good, data


class Case:
    """A fresh copy of the recording (``root/session``) and of a good output (``root/out/recording.h5``)."""

    def __init__(self, recording, root: Path, kind: str):
        files, good, self.data = recording
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


@pytest.fixture()
def s2p(recording, tmp_path):
    return Case(recording, tmp_path, "s2p")


@pytest.fixture()
def nwb(recording, tmp_path):
    if not HAS_NWB:
        pytest.skip("pynwb is not installed")
    return Case(recording, tmp_path, "nwb")


def _cell(case: Case, k: int = 2) -> int:
    """The ROI row of the k-th cell (iscell column 1 >= 0.5, the default threshold)."""
    return int(np.flatnonzero(np.load(case.plane / "iscell.npy")[:, 1] >= 0.5)[k])


def _edit(path: Path, change) -> None:
    array = np.load(path)
    change(array)
    np.save(path, array)


# --- suite2p: traces -------------------------------------------------------------------------------


def test_nan_frame_range_is_refused_naming_file_roi_and_frames(s2p):
    roi = _cell(s2p)
    _edit(s2p.plane / "F.npy", lambda F: F.__setitem__((roi, slice(100, 131)), np.nan))
    s2p.refused(s2p.import_suite2p, s2p.plane / "F.npy", f"ROI {roi} (neuron 2 of the import)",
                "frames 100-130", "31 of 3390 frames", "nan_frames='interpolate'")


def test_nan_frames_are_filled_when_asked_and_counted(s2p):
    roi = _cell(s2p)
    _edit(s2p.plane / "F.npy", lambda F: F.__setitem__((roi, slice(100, 131)), np.nan))
    data = read_dataset(s2p.import_suite2p(config=TraceConfig(nan_frames="interpolate")))  # handled, on request
    assert np.isfinite(data.responses).all()
    assert data.attrs["preprocessing"]["nan_frames_filled"] == {"traces": 1, "values": 31}
    assert data.attrs["preprocessing"]["trace_config"]["nan_frames"] == "interpolate"


def test_a_trace_without_any_finite_frame_is_refused_even_when_filling(s2p):
    roi = _cell(s2p, 0)
    _edit(s2p.plane / "F.npy", lambda F: F.__setitem__(roi, np.nan))
    s2p.refused(lambda: s2p.import_suite2p(config=TraceConfig(nan_frames="interpolate")),
                s2p.plane / "F.npy", f"ROI {roi}", "every frame")


def test_inf_in_neuropil_names_fneu(s2p):
    roi = _cell(s2p, 4)
    _edit(s2p.plane / "Fneu.npy", lambda F: F.__setitem__((roi, 7), np.inf))
    s2p.refused(s2p.import_suite2p, s2p.plane / "Fneu.npy", f"ROI {roi}", "frames 7 ")


def test_frame_counts_that_disagree_are_refused(s2p):
    np.save(s2p.plane / "Fneu.npy", np.load(s2p.plane / "Fneu.npy")[:, :-5])
    s2p.refused(s2p.import_suite2p, s2p.plane, "Fneu.npy", "like F.npy", "(50, 3385)")


def test_zero_cells_after_iscell_are_refused(s2p):
    _edit(s2p.plane / "iscell.npy", lambda a: a.__setitem__((slice(None), 1), 0.1))
    s2p.refused(s2p.import_suite2p, s2p.suite2p, "iscell.npy", "at least one cell", "none of 50 ROIs")


def test_nan_roi_centre_is_refused(s2p):
    from dina_core.data.safe_pickle import load_npy
    roi = _cell(s2p, 1)
    stat = load_npy(s2p.plane / "stat.npy")
    stat[roi]["med"] = [float("nan"), 3.0]
    np.save(s2p.plane / "stat.npy", stat, allow_pickle=True)
    s2p.refused(s2p.import_suite2p, s2p.plane / "stat.npy", f"ROI {roi} ['med']", "finite (y, x)")


def test_missing_neuropil_file_is_refused(s2p):
    (s2p.plane / "Fneu.npy").unlink()
    s2p.refused(s2p.import_suite2p, s2p.plane, "Fneu.npy", "missing")


def test_truncated_traces_are_refused(s2p):
    path = s2p.plane / "F.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    s2p.refused(s2p.import_suite2p, s2p.plane, "F.npy", "cannot load")


def test_fifo_in_place_of_traces_is_refused_without_blocking(s2p):
    (s2p.plane / "F.npy").unlink()
    os.mkfifo(s2p.plane / "F.npy")
    s2p.refused(s2p.import_suite2p, s2p.plane / "F.npy", "<file>", "named pipe")


# --- suite2p: stimulus table and images ------------------------------------------------------------


def test_unknown_image_id_names_the_table_row(s2p):
    rows = s2p.table_rows()
    rows[5][2] = "9999"
    s2p.write_table(rows)
    s2p.refused(s2p.import_suite2p, s2p.table, "row 5 (image_id)", "'9999'")


@pytest.mark.parametrize("onset", ["-40", "999999"])
def test_onsets_outside_the_recording_name_the_row(s2p, onset):
    rows = s2p.table_rows()
    rows[3][0] = onset
    s2p.write_table(rows)
    s2p.refused(s2p.import_suite2p, s2p.table, "row 3", f"onset frame {onset}")


def test_identical_onsets_are_refused(s2p):
    rows = s2p.table_rows()
    s2p.write_table([rows[0]] + [[rows[1][0], *r[1:]] for r in rows[1:]])
    s2p.refused(s2p.import_suite2p, s2p.table, "onset_frame", "same onset", f"all {len(rows) - 1} presentations")


def test_inf_pixel_names_the_image(s2p):
    _edit(s2p.images, lambda a: a.__setitem__((4, 2, 3), -np.inf))
    s2p.refused(s2p.import_suite2p, s2p.images, "<array> image 4", "pixel (row 2, column 3)")


def test_huge_declared_image_stack_is_refused_before_allocation(s2p, tmp_path):
    stack = tmp_path / "session" / "images.h5"
    with h5py.File(stack, "w") as f:  # 40 TB declared, nothing written: a few KB on disk
        f.create_dataset("images", shape=(10 ** 7, 1000, 1000), dtype="f4", chunks=(1, 100, 100),
                         maxshape=(None, 1000, 1000))
    s2p.refused(lambda: s2p.import_suite2p(images=stack), stack, "/images", "fit in memory",
                "10,000,000 x 1,000 x 1,000 float32 (40 TB)")


def test_fifo_as_stimulus_table_is_refused_without_blocking(s2p):
    s2p.table.unlink()
    os.mkfifo(s2p.table)
    s2p.refused(s2p.import_suite2p, s2p.table, "<file>", "named pipe")


def test_empty_stimulus_table_and_folder_in_its_place_are_refused(s2p):
    s2p.table.write_bytes(b"")
    s2p.refused(s2p.import_suite2p, s2p.table, "<file>", "empty file")
    s2p.table.unlink()
    s2p.table.mkdir()
    s2p.refused(s2p.import_suite2p, s2p.table, "<file>", "a folder")


def test_cli_import_failure_names_the_source_and_keeps_the_output(s2p, capsys):
    roi = _cell(s2p)
    _edit(s2p.plane / "F.npy", lambda F: F.__setitem__((roi, slice(10, 13)), np.nan))
    with untouched(s2p.root):
        code = main(["import", "suite2p", str(s2p.suite2p), str(s2p.out), "--stimuli", str(s2p.table),
                     "--images", str(s2p.images)])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {s2p.plane / 'F.npy'}: field 'ROI {roi}" in err and "frames 10-12" in err


# --- NWB --------------------------------------------------------------------------------------------


def _nwb_edit(case: Case, name: str, change) -> None:
    with h5py.File(case.nwb, "r+") as f:
        values = f[name][()]
        change(values)
        f[name][...] = values


def test_nwb_nan_frames_name_the_series_and_roi(nwb):
    _nwb_edit(nwb, DFF, lambda d: d.__setitem__((slice(200, 205), 3), np.nan))
    nwb.refused(nwb.import_nwb, f"{nwb.nwb} {DFF}", "ROI 3 (neuron 3", "frames 200-204")


def test_nwb_identical_start_times_are_refused(nwb):
    _nwb_edit(nwb, STARTS, lambda t: t.__setitem__(slice(None), t[0]))
    nwb.refused(nwb.import_nwb, nwb.nwb, "start_time", "same onset")


def test_nwb_nan_start_time_names_the_row(nwb):
    _nwb_edit(nwb, STARTS, lambda t: t.__setitem__(6, np.nan))
    nwb.refused(nwb.import_nwb, nwb.nwb, "/intervals/stimulus_presentations/start_time row 6", "finite onset")


def test_nwb_inf_pixel_names_the_image_container(nwb):
    _nwb_edit(nwb, "/stimulus/templates/stimulus_images/image_00005",
              lambda im: im.__setitem__((1, 1), np.inf))
    nwb.refused(nwb.import_nwb, nwb.nwb, "stimulus_images/image_00005", "NaN or Inf", "pixel (row 1, column 1)")


def test_nwb_huge_declared_traces_are_refused_before_allocation(nwb):
    with h5py.File(nwb.nwb, "r+") as f:  # the series "holds" 10^7 frames x 10^6 ROIs, none written
        attrs = dict(f[DFF].attrs)
        del f[DFF]
        ds = f.create_dataset(DFF, shape=(10 ** 7, 10 ** 6), dtype="f4", chunks=(1024, 64), maxshape=(None, None))
        for key, value in attrs.items():
            ds.attrs[key] = value
    nwb.refused(nwb.import_nwb, nwb.nwb, "DfOverF/data", "fit in memory", "1,000,000 x 10,000,000 float32 (40 TB)")


@pytest.mark.parametrize("damage", ["truncated", "empty", "fifo"])
def test_nwb_truncated_empty_or_fifo_is_refused(nwb, damage):
    if damage == "truncated":
        nwb.nwb.write_bytes(nwb.nwb.read_bytes()[: nwb.nwb.stat().st_size // 2])
    else:
        nwb.nwb.unlink()
        nwb.nwb.write_bytes(b"") if damage == "empty" else os.mkfifo(nwb.nwb)
    found = {"truncated": "HDF5 cannot open", "empty": "empty file", "fifo": "named pipe"}[damage]
    nwb.refused(nwb.import_nwb, nwb.nwb, "<file>", found)


# --- DINA files and neuron subsets -----------------------------------------------------------------


def test_dina_file_with_huge_declared_responses_is_refused_before_allocation(recording, tmp_path):
    files, good, data = recording
    path = tmp_path / "huge.h5"
    shutil.copy2(good / "s2p.h5", path)
    with h5py.File(path, "r+") as f:
        n_trials = f["/trials/responses"].shape[0]
        del f["/trials/responses"]
        f.create_dataset("/trials/responses", shape=(n_trials, 10 ** 12), dtype="f4", chunks=(1, 4096),
                         maxshape=(None, None))
        del f["/neurons"]
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), pytest.raises(DatasetError, match="fit in memory") as info:
            reader(path)
        assert info.value.field == "/trials/responses" and f"{n_trials:,} x 1,000,000,000,000 float32" in str(info.value)


@pytest.mark.parametrize("kind", ["fifo", "folder", "empty"])
def test_dina_file_that_is_a_fifo_folder_or_empty_is_refused(tmp_path, kind):
    path = tmp_path / "data.h5"
    {"fifo": os.mkfifo, "folder": os.mkdir, "empty": lambda p: Path(p).write_bytes(b"")}[kind](path)
    found = {"fifo": "named pipe", "folder": "a folder", "empty": "HDF5 cannot open"}[kind]
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), no_hang(), pytest.raises(DatasetError, match=found) as info:
            reader(path)
        assert info.value.path == str(path)


def test_dina_file_with_repeated_neuron_ids_is_refused(recording, tmp_path):
    path = tmp_path / "dup.h5"
    data = read_dataset(recording[1] / "s2p.h5")
    data.neurons["ids"] = np.zeros(data.n_neurons, np.int64)
    write_dataset(path, data)  # the raw writer (no checks): what a careless script could produce
    for reader in (read_dataset, validate_dataset):
        with untouched(tmp_path), pytest.raises(DatasetError, match="one distinct id per neuron"):
            reader(path)


def test_neuron_subset_that_repeats_one_neuron_is_refused(recording):
    data = read_dataset(recording[1] / "s2p.h5")
    with pytest.raises(DinaError, match="distinct neurons.*neuron 3 5 times"):
        fit_normalizers(data, np.array([3, 3, 3, 3, 3, 1]))
    with pytest.raises(DinaError, match=r"indices in \[0, "):
        fit_normalizers(data, np.array([0, data.n_neurons]))


def test_the_wizard_preview_names_the_same_file_and_roi_as_the_import(s2p):
    from dina_core.importers.suite2p import read_suite2p_source
    from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_source

    n_cells = int((np.load(s2p.plane / "iscell.npy")[:, 1] >= 0.5).sum())
    roi = _cell(s2p, n_cells - 1)  # the last neuron: always sampled, at a shifted place in the sample
    _edit(s2p.plane / "F.npy", lambda F: F.__setitem__((roi, slice(50, 52)), np.nan))
    source = read_suite2p_source(s2p.suite2p, stimuli=s2p.table, images=s2p.images)
    config = TraceConfig()
    sample, neurons = sample_source(source, n_cells // 2, preview_kinds(source, config))
    assert neurons[-1] == n_cells - 1 and neurons.size < n_cells
    s2p.refused(lambda: preview_source(sample, neurons, config, n_total=n_cells),
                s2p.plane / "F.npy", f"ROI {roi} (neuron {n_cells - 1} of the import)", "frames 50-51")
    filled = TraceConfig(nan_frames="interpolate")
    result = preview_source(sample, neurons, filled, n_total=n_cells)  # handled on request
    assert np.isfinite(result.trials.values).all() and result.trials.filled_values == 2


def test_device_file_as_image_stack_is_refused_without_reading_it(s2p):
    device = Path("/dev/zero")  # an endless stream: reading it would never finish
    if not device.exists():
        pytest.skip("no /dev/zero here")
    s2p.refused(lambda: s2p.import_suite2p(images=device), device, "<file>", "character device")
