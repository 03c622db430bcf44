"""The Data page's import wizard for raw recordings, through Streamlit's AppTest.

A simulated session (suite2p folder, stimulus table, images and NWB file) sits in a
temporary data folder. What the wizard shows is checked against ``dina_core``'s preview
computed here (``simulated_sessions.expected_preview``), and what it writes against
``write_source`` with the same settings; stimulus tables with a problem or other column
names, NWB files lacking a signal and zipped uploads go through the page too. The wizard's
parts without a page (folder scan, zip extraction, a stopped import, the trace figure):
test_app_import_parts.py.
"""

from __future__ import annotations

import io
import shutil
from contextlib import contextmanager
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_core.data.io import read_dataset
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.source import write_source
from dina_app import keys, sources
from simulated_sessions import expected_preview, simulated_files

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT = 300  # seconds per script run on a loaded 2-core machine


@pytest.fixture(scope="module")
def session(small_data, tmp_path_factory):
    """The app's folders, with one raw session copied into the data folder: ``data/session1/...``."""
    root = tmp_path_factory.mktemp("wizard")
    files = simulated_files(small_data, tmp_path_factory)
    shutil.copytree(files.suite2p.parent, root / "data" / "session1")
    env = {"DINA_DATA_DIR": root / "data", "DINA_RUNS_DIR": root / "runs", "DINA_DEMO_DIR": root / "demo",
           "DINA_DEMO_SIZE": "small"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        yield root / "data"


def open_wizard(choice: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page("pages/data.py").run()
    at.segmented_control(key="data.source").set_value(choice).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def import_and_wait(at: AppTest, kind: str) -> None:
    """Click *Import and open*, wait for the background import, rerun so the page picks it up."""
    from dina_app import jobs

    at.button(key=f"import.{kind}.go").click().run()
    job = jobs.get(keys.import_job(at.session_state[keys.SESSION]))
    assert job is not None
    assert job.wait(timeout=300)
    assert job.status == "finished", job.error
    at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_suite2p_preview_shows_dina_core_numbers_and_follows_the_windows(session, suite2p_source):
    at = open_wizard("Import suite2p")
    assert not at.error, [e.value for e in at.error]
    n = suite2p_source.recording.n_neurons
    assert metric(at, "Neurons previewed") == f"{min(n, 200):,} of {n:,}"
    expected = expected_preview(suite2p_source, TraceConfig())
    assert metric(at, "Median reliability") == f"{np.nanmedian(expected.report.reliability):.2f}"
    assert metric(at, "Responsive") == f"{100 * expected.report.fraction_responsive:.0f}%"
    assert len(at.get("plotly_chart")) >= 2  # traces with windows, reliability histogram

    at.slider(key="import.response").set_value((0.2, 1.0)).run()
    at.number_input(key="import.sample").set_value(50).run()
    moved = expected_preview(suite2p_source, TraceConfig(response_window_s=(0.2, 1.0)), max_neurons=50)
    assert metric(at, "Neurons previewed") == f"50 of {n:,}"
    assert metric(at, "Median reliability") == f"{np.nanmedian(moved.report.reliability):.2f}"
    assert any("mean over 0.2 to 1 s after onset" in c.value for c in at.caption)


def test_suite2p_import_writes_what_the_preview_showed_and_opens_it(session, suite2p_source, tmp_path):
    at = open_wizard("Import suite2p")
    at.slider(key="import.response").set_value((0.2, 1.0)).run()
    at.selectbox(key="import.denoise").set_value("savgol").run()
    at.text_input(key="import.suite2p.name").set_value("wizard-s2p").run()
    import_and_wait(at, "suite2p")
    assert not at.exception and not at.error, [e.value for e in at.error]
    out = session / "imported" / "wizard-s2p.h5"
    assert at.session_state[keys.DATA] == str(out)
    assert "Opened wizard-s2p.h5" in [s.value for s in at.success]
    written = read_dataset(out)
    config = TraceConfig(response_window_s=(0.2, 1.0), denoise="savgol")
    expected = read_dataset(write_source(suite2p_source, tmp_path / "ref.h5", config))
    np.testing.assert_allclose(written.responses, expected.responses, rtol=1e-6)
    assert TraceConfig.from_dict(written.attrs["preprocessing"]["trace_config"]) == config
    assert metric(at, "Neurons") == f"{suite2p_source.recording.n_neurons:,}"  # the page now shows the import

    again = open_wizard("Import suite2p")  # the name is taken: importing again needs an explicit replace
    again.text_input(key="import.suite2p.name").set_value("wizard-s2p").run()
    assert again.button(key="import.suite2p.go").disabled
    again.checkbox(key="import.suite2p.replace").check().run()
    assert not again.button(key="import.suite2p.go").disabled


def test_nwb_wizard_previews_both_signals_and_imports(session):
    at = open_wizard("Import NWB")
    assert not at.error, [e.value for e in at.error]
    assert any("stored:" in c.value and "dff" in c.value for c in at.caption)
    at.segmented_control(key="import.signal").set_value("events").run()
    assert not at.exception and not at.error
    assert any("deconvolved events" in c.value for c in at.caption)
    import_and_wait(at, "nwb")
    assert not at.exception and not at.error, [e.value for e in at.error]
    written = read_dataset(session / "imported" / "recording.h5")
    assert written.attrs["preprocessing"]["trace_config"]["signal"] == "events"


def test_a_signal_the_nwb_file_lacks_is_an_error_the_user_can_undo(session):
    from test_nwb import SHOWN, _tiny_nwb

    path = session / "zz" / "tiny.nwb"  # sorts after session1/recording.nwb: other tests keep their default
    path.parent.mkdir()
    _tiny_nwb(path, table_columns={"frame": SHOWN})
    try:
        at = open_wizard("Import NWB")
        files = at.selectbox(key="import.nwb.file")
        files.select_index(files.options.index("zz/tiny.nwb")).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert metric(at, "Neurons previewed") == "4 of 4"
        at.segmented_control(key="import.signal").set_value("events").run()
        assert not at.exception
        assert any("Deconvolved" in e.value and "tiny.nwb" in e.value for e in at.error)
        at.segmented_control(key="import.signal").set_value("dff").run()  # the control is still there
        assert not at.exception and not at.error
        assert metric(at, "Neurons previewed") == "4 of 4"
    finally:
        shutil.rmtree(path.parent)


@contextmanager
def wizard_on_edited_table(session, name: str, edit):
    """The suite2p wizard with ``session1/<name>`` chosen as the table: the simulated table with its
    header and rows passed through ``edit(header, rows) -> (header, rows)`` (lists of cells)."""
    lines = (session / "session1" / "stimulus_table.csv").read_text().splitlines()
    header, rows = edit(lines[0].split(","), [line.split(",") for line in lines[1:]])
    table = session / "session1" / name
    table.write_text("\n".join(",".join(cells) for cells in [header, *rows]) + "\n")
    try:
        at = open_wizard("Import suite2p")
        box = at.selectbox(key="import.s2p.table")
        box.select_index(box.options.index(f"session1/{name}")).run()
        assert not at.exception
        yield at, table
    finally:
        table.unlink()


def test_a_bad_stimulus_table_is_a_readable_error(session):
    def late_last_onset(header, rows):
        rows[-1][header.index("onset_frame")] = "99999999"
        return header, rows

    with wizard_on_edited_table(session, "late_onsets.csv", late_last_onset) as (at, _):
        assert any("late_onsets.csv" in e.value and "outside" in e.value for e in at.error)


def test_table_columns_named_otherwise_are_picked_from_the_header(session, suite2p_source):
    renamed = {"onset_frame": "frame_on", "image_id": "stim", "tier": "split"}
    rename = lambda header, rows: ([renamed.get(h, h) for h in header], rows)  # noqa: E731
    with wizard_on_edited_table(session, "renamed.csv", rename) as (at, table):
        assert any("renamed.csv" in e.value and "onset column" in e.value for e in at.error)
        for role, column in (("onset", "frame_on"), ("image", "stim"), ("tier", "split")):
            at.selectbox(key=f"import.s2p.{role}.{table}").set_value(column).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert metric(at, "Trials") == f"{suite2p_source.n_trials:,}"
        expected = expected_preview(suite2p_source, TraceConfig())
        assert metric(at, "Median reliability") == f"{np.nanmedian(expected.report.reliability):.2f}"


def test_a_zipped_session_upload_lands_in_the_data_folder(session):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in (session / "session1").rglob("*"):
            if f.is_file() and f.suffix != ".nwb":
                archive.write(f, Path("lab-session") / f.relative_to(session / "session1"))
    at = open_wizard("Import suite2p")
    at.get("file_uploader")[0].upload("lab-session.zip", buffer.getvalue(), "application/zip").run()
    at.button(key="import.suite2p.add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success
    folders = [str(p.relative_to(session)) for p in sources.scan(session).suite2p]
    assert any(f.startswith("uploads/lab-session-") and f.endswith("lab-session/suite2p") for f in folders)
