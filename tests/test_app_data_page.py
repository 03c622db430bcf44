"""DINA Studio's Data page through AppTest: a file of the data folder and a Sensorium import become the
active recording, uploads are saved once under the data folder, a broken file shows its message.

The app runs on the small simulated demo (DINA_DEMO_SIZE=small) with the suite's shared small run
(``small_run_dir``) as its demo run, in temporary data/runs folders (the ``studio`` fixture, conftest.py).
"""

from __future__ import annotations

import shutil

from streamlit.testing.v1 import AppTest

from dina_app import keys
from studio_pages import APP, TIMEOUT, open_page


def test_data_folder_file_and_sensorium_import_become_active(studio):
    from dina_core.simulate.sensorium_folder import write_sensorium_folder

    shutil.copy(studio / "demo" / "demo_small.h5", studio / "data" / "copy.h5")
    folder = write_sensorium_folder(studio / "data" / "sensorium")
    at = open_page("data")
    at.button_group(key="data.source").set_value("Data folder").run()
    at.selectbox(key="data.file").set_value(studio / "data" / "copy.h5").run()
    at.button(key="data.open_file").click().run()
    assert at.session_state[keys.DATA] == str((studio / "data" / "copy.h5").resolve())
    assert [s.value for s in at.success] == ["Opened copy.h5"]

    at.button_group(key="data.source").set_value("Import Sensorium").run()
    at.selectbox(key="data.sensorium").set_value(folder).run()
    at.button(key="data.import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    imported = studio / "data" / "imported" / f"{folder.name}.h5"
    assert imported.is_file() and at.session_state[keys.DATA] == str(imported.resolve())
    assert [m.value for m in at.metric][1] == "12"  # the fixture folder's neurons


def test_uploads_are_saved_once_under_the_data_folder(studio):
    import io

    from dina_app import sources

    content = (studio / "demo" / "demo_small.h5").read_bytes()
    first = sources.save_upload(io.BytesIO(content), "../../etc/my recording.h5", studio / "data")
    again = sources.save_upload(io.BytesIO(content), "../../etc/my recording.h5", studio / "data")
    assert first == again and first.parent == studio / "data" / sources.UPLOADS
    assert first.name.startswith("my_recording-") and first.read_bytes() == content


def test_a_broken_file_shows_its_message_not_a_traceback(studio):
    bad = studio / "data" / "broken.h5"
    bad.write_text("not HDF5")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[keys.DATA] = str(bad)
    at.run()
    assert not at.exception
    assert any("broken.h5" in e.value for e in at.error)
