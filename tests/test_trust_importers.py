"""Trust, round two (issue 21), importers: ambiguous or impossible recordings, unclear messages and temporary
files left by a killed import (links out of a source and zips: test_trust_zip.py).

Each bad input gets one clear line naming the *source* file and field, what was expected and what was found
(``dina import`` prints it and exits 2), and changes nothing (:func:`hostile.untouched`): an earlier output
stays byte-identical and no file appears. Sources are the tiny suite2p/NWB session of ``tiny_sources``
(``s2p_case``, ``nwb_case`` in conftest.py) and a small Sensorium folder (``dina_core.simulate.sensorium_folder``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from dina_core.atomic import atomic_path
from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.data.io import read_dataset, validate_dataset
from dina_core.errors import DatasetError
from dina_core.importers.sensorium import import_sensorium
from hostile import untouched
from trust_sources import pristine, quiet, refused, sens  # noqa: F401  (fixtures)

PRESENTATIONS = "/intervals/stimulus_presentations"


# --- Recordings that cannot be what they say -----------------------------------------------------------------

def test_one_frame_id_with_two_images_names_both_trials(sens, tmp_path):
    src, out = sens
    ids = np.load(src / "meta/trials/frame_image_id.npy")
    values, counts = np.unique(ids, return_counts=True)
    first, second = np.flatnonzero(ids == values[counts > 1][0])[:2]
    image = np.load(src / f"data/images/{second}.npy")
    np.save(src / f"data/images/{second}.npy", image[:, ::-1])  # another picture under the same id
    refused(lambda: import_sensorium(src, out, final_test="test"), tmp_path, src, "frame_image_id.npy",
            f"trials {first} and {second}", f"frame_image_id {ids[first]}", "different images")


def _rows(case, edit):
    rows = case.table_rows()
    edit(rows)
    case.write_table(rows)


def test_a_duplicated_stimulus_row_is_refused_naming_both_rows(s2p_case):
    _rows(s2p_case, lambda rows: rows.insert(6, list(rows[5])))  # data rows 5 and 6: one presentation twice
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "rows 5 and 6", "one row per presentation",
                     "both at onset")


def test_a_duplicated_nwb_presentation_is_refused(nwb_case):
    with h5py.File(nwb_case.nwb, "r+") as f:
        f[f"{PRESENTATIONS}/start_time"][5] = f[f"{PRESENTATIONS}/start_time"][4]
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "rows 4 and 5", "both at onset")


def _second_plane(case, fs) -> None:
    plane1 = shutil.copytree(case.plane, case.suite2p / "plane1")
    ops = np.load(plane1 / "ops.npy", allow_pickle=True).item()
    np.save(plane1 / "ops.npy", np.array({**ops, "fs": fs}, dtype=object), allow_pickle=True)


def test_planes_at_two_frame_rates_are_refused_naming_both(s2p_case):
    fs = np.load(s2p_case.plane / "ops.npy", allow_pickle=True).item()["fs"]
    _second_plane(s2p_case, 2 * fs)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.suite2p / "plane1", "ops.npy['fs']",
                     f"plane0: {fs:g} Hz", f"plane1: {2 * fs:g} Hz")


@pytest.mark.parametrize("fs", [np.inf, 0.0, np.nan, -30.0, True, "30"])
def test_a_frame_rate_that_is_not_a_positive_number_is_refused(s2p_case, fs):
    ops = np.load(s2p_case.plane / "ops.npy", allow_pickle=True).item()
    np.save(s2p_case.plane / "ops.npy", np.array({**ops, "fs": fs}, dtype=object), allow_pickle=True)
    s2p_case.refused(s2p_case.import_suite2p, s2p_case.plane, "ops.npy['fs']", "positive frame rate", repr(fs))


@pytest.mark.parametrize("unit", ["frames", "seconds"])
def test_an_onset_of_1e300_is_a_clear_error(s2p_case, unit, capsys):
    def edit(rows):
        rows[3][0] = "1e300"
        rows[0][0] = "onset_frame" if unit == "frames" else "onset_time"
    _rows(s2p_case, edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        s2p_case.refused(s2p_case.import_suite2p, s2p_case.table, "row 3", "1e300" if unit == "frames" else "1e+300")
        code = main(["import", "suite2p", str(s2p_case.suite2p), str(s2p_case.out), "--overwrite",
                     "--stimuli", str(s2p_case.table), "--images", str(s2p_case.images)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "row 3" in err and "\n" not in err, err


def test_an_nwb_onset_of_1e300_is_a_clear_error(nwb_case):
    with h5py.File(nwb_case.nwb, "r+") as f:
        f[f"{PRESENTATIONS}/start_time"][3] = 1e300
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "row 3", "1e+300 s", "beyond any recording")


@pytest.mark.filterwarnings("ignore:.*Length of data does not match length of timestamps")
def test_nwb_timestamps_shorter_than_the_data_name_the_series(nwb_case):
    with h5py.File(nwb_case.nwb, "r+") as f:
        series = f["/processing/ophys/DfOverF/DfOverF"]
        n, rate = series["data"].shape[0], series["starting_time"].attrs["rate"]
        del series["starting_time"]
        times = series.create_dataset("timestamps", data=np.arange(n - 10) / rate)
        times.attrs.update(interval=1, unit="seconds")
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, "DfOverF/timestamps", f"{n} frame times", f"{n - 10} times")


# --- Messages that name the file and field -------------------------------------------------------------------

def _bytes_tiers(src):
    tiers = np.load(src / "meta/trials/tiers.npy")
    raw = np.char.encode(tiers, "utf-8")
    raw[7] = b"tr\xffin"
    np.save(src / "meta/trials/tiers.npy", raw)


@pytest.mark.parametrize("damage,field,words", [
    (_bytes_tiers, "meta/trials/tiers.npy row 7", ("not UTF-8", "0xff")),
    (lambda src: (src / "config.json").write_text("{normalize: true"), "config.json", ("not JSON", "line 1")),
    (lambda src: (src / "config.json").write_text("[1, 2]"), "config.json", ("a JSON object", "a JSON array")),
    (lambda src: (src / "config.json").write_text('"normalize"'), "config.json", ("a JSON string",)),
    (lambda src: (src / "config.json").write_bytes(b'{"a": "\xe9"}'), "config.json", ("UTF-8", "0xe9")),
    (lambda src: (src / "config.json").write_text("[" * 100_000), "config.json", ("nested too deeply",)),
])
def test_sensorium_text_that_cannot_be_read_names_the_file(sens, tmp_path, capsys, damage, field, words):
    src, out = sens
    damage(src)
    refused(lambda: import_sensorium(src, out), tmp_path, src, field, *words)
    with untouched(tmp_path):
        assert main(["import", "sensorium", str(src), str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {src}: field '{field}'") and "\n" not in err, err


@pytest.mark.parametrize("where", ["tier", "attribute"])
def test_dina_file_text_that_is_not_utf8_names_file_and_field(small_data, tmp_path, where):
    path = write_dataset(tmp_path / "d.h5", small_data)
    with h5py.File(path, "r+") as f:
        if where == "attribute":
            f.attrs["name"] = np.bytes_(b"mouse \xff")
        else:
            tiers = np.array([t.encode() for t in small_data.tiers.tolist()], dtype=object)
            tiers[3] = b"te\xffst"
            del f["/trials/tier"]
            f.create_dataset("/trials/tier", data=tiers, dtype=h5py.string_dtype("utf-8"))
    field = "/@name" if where == "attribute" else "/trials/tier row 3"
    for read in (read_dataset, validate_dataset):
        with pytest.raises(DatasetError) as info:
            read(path)
        assert info.value.path == str(path) and info.value.field == field and "not UTF-8" in str(info.value)


def test_nwb_tier_that_is_not_utf8_names_the_column(nwb_case):
    with h5py.File(nwb_case.nwb, "r+") as f:
        column = f[f"{PRESENTATIONS}/tier"]
        attrs, values = dict(column.attrs), column[()].astype(object)
        values[2] = b"tr\xffin"
        del f[f"{PRESENTATIONS}/tier"]
        f.create_dataset(f"{PRESENTATIONS}/tier", data=values, dtype=h5py.string_dtype("utf-8")).attrs.update(attrs)
    nwb_case.refused(nwb_case.import_nwb, nwb_case.nwb, f"{PRESENTATIONS}/tier", "UTF-8")


# --- Temporary files a killed import leaves ------------------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_temporary_files_of_dead_processes(sens):
    src, out = sens
    dead, alive = _dead_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = out.parent / f".{out.name}.tmp-{dead}-k1ll3d_9"  # what kill -9 during an import leaves
        live = out.parent / f".{out.name}.tmp-{alive.pid}-wr1t1ng0"  # another import, still writing
        other = out.parent / f".other.h5.tmp-{dead}-k1ll3d_9"  # another target's: its own next write cleans it
        for path in (stale, live, other):
            path.write_bytes(b"half a file")
        quiet(import_sensorium, src, out)
        assert not stale.exists() and live.exists() and other.exists()
        with atomic_path(out.parent / "other.h5") as tmp:
            tmp.write_bytes(json.dumps({"fine": True}).encode())
        assert not other.exists() and live.exists()
        assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, "other.h5", live.name])
    finally:
        alive.kill()
        alive.wait()
