"""The import wizard's parts below the Data page: the data folder scan, zip extraction, stopping an import,
and the trace figure of the preview.

The scan sorts what a data folder offers by kind and skips Sensorium's per-trial arrays; a zip member
that would land outside its archive is refused; a stopped import job writes nothing, not even a
temporary file; the trace figure marks every response and baseline window on every subplot. The
page itself: test_app_import.py.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from dina_core.data.io import read_dataset
from dina_core.errors import DinaError
from dina_core.importers.traces import TraceConfig
from dina_app import sources
from simulated_sessions import expected_preview


def test_the_data_folder_scan_sorts_sources_and_skips_per_trial_arrays(tmp_path):
    from dina_core.simulate.sensorium_folder import write_sensorium_folder

    root = tmp_path / "data"
    static = write_sensorium_folder(root / "mouse1", n_trials=40)  # 160 per-trial .npy files
    (root / "zips").mkdir()
    (root / "zips" / "mouse2.zip").write_bytes(b"PK")
    for plane in ("plane0", "plane1"):
        (root / "s1" / "suite2p" / plane).mkdir(parents=True)
        np.save(root / "s1" / "suite2p" / plane / "F.npy", np.zeros((2, 3)))
    np.save(root / "s1" / "images.npy", np.zeros((2, 4, 4)))
    (root / "s1" / "stimulus_table.csv").write_text("onset_frame,image_id\n")
    (root / "s1" / "pngs").mkdir()
    (root / "s1" / "pngs" / "0.png").write_bytes(b"")
    (root / "rec.nwb").write_bytes(b"")
    for name in ("imported/a.h5", "uploads/b.h5", "stacks/c.h5"):
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(b"")
    (tmp_path / "outside.nwb").write_bytes(b"")
    (root / "link.nwb").symlink_to(tmp_path / "outside.nwb")

    found = sources.scan(root)
    rel = {k: [str(p.relative_to(root)) for p in v] for k, v in vars(found).items()}
    assert rel["sensorium"] == [str(static.relative_to(root)), "zips/mouse2.zip"]
    assert rel["suite2p"] == ["s1/suite2p"]
    assert rel["tables"] == ["s1/stimulus_table.csv"]
    assert rel["images"] == ["s1/images.npy", "s1/pngs", "stacks/c.h5"]
    assert rel["nwb"] == ["rec.nwb"]
    assert rel["datasets"] == ["imported/a.h5", "stacks/c.h5", "uploads/b.h5"]
    assert sources.scan(tmp_path / "missing") == sources.Inventory()


def test_zip_members_outside_the_archive_are_refused(tmp_path):
    evil = tmp_path / "uploads" / "evil.zip"
    evil.parent.mkdir()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../outside.txt", "x")
    with pytest.raises(DinaError, match="outside the archive"):
        sources.extract_zip(evil, tmp_path)
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "uploads" / "evil").exists()


def test_stopping_an_import_writes_nothing(suite2p_source, tmp_path):
    from dina_app import jobs

    out = tmp_path / "stopped.h5"
    work = jobs.import_work(suite2p_source, out, TraceConfig(chunk_neurons=16))

    def stop_during_work(job):
        job.stop()  # as the Stop button does while the first block of neurons is processed
        return work(job)

    job = jobs.start("import:test-stop", "Importing stopped.h5", tmp_path, stop_during_work)
    assert job.wait(timeout=120)
    assert job.status == "stopped" and job.result is None
    assert list(tmp_path.iterdir()) == []  # not even a temporary file

    done = jobs.start("import:test-stop", "Importing done.h5", tmp_path,
                      jobs.import_work(suite2p_source, tmp_path / "done.h5", TraceConfig()))
    assert done.wait(timeout=120)
    assert done.status == "finished"
    assert read_dataset(done.result["path"]).n_neurons == suite2p_source.recording.n_neurons


def test_trace_figure_marks_every_window_on_every_subplot(suite2p_source):
    from dina_app.trace_figures import trace_examples

    ex = expected_preview(suite2p_source, TraceConfig(), max_neurons=20).examples
    fig = trace_examples(ex, "dF/F")
    n_rows, n_trials = 2 * len(ex.neurons), len(ex.trials)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(rects) == n_rows * 2 * n_trials and len(lines) == n_rows * n_trials
    assert {s.xref for s in lines} == {"x"} | {f"x{r}" for r in range(2, n_rows + 1)}
    response = np.array([[s.x0, s.x1] for s in rects if s.xref == "x"][:n_trials])
    np.testing.assert_allclose(response, ex.response_windows_s)
    np.testing.assert_allclose(sorted(s.x0 for s in lines if s.xref == "x"), ex.onsets_s)
