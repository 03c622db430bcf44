"""The import wizard's first step: which raw recording, and how its files are read.

Each ``*_spec`` draws the choices for one format and returns a hashable spec (what
``import_wizard`` reads the source from and caches it by) with the paths whose stamps key
the caches, or None while the choice is incomplete.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from . import sources
from .chrome import guard

SourceSpec = tuple  # ('suite2p' | 'nwb', paths..., options...): hashable, keys the wizard's caches
AUTO = "(default)"  # a column left to the importer's defaults


def _choose(label: str, options: list[Path], root: Path, key: str, default: int | None = None) -> Path | None:
    return st.selectbox(label, options, index=default, key=key, format_func=lambda p: str(p.relative_to(root)))


def suite2p_spec(root: Path) -> tuple[SourceSpec, list[Path]] | None:
    found = sources.scan(root)
    folders = found.suite2p
    if not folders:
        st.info(f"No suite2p folder (`plane0/F.npy`, ...) under `{root}` yet: upload one above or copy it there.")
        return None
    folder = _choose("suite2p folder", folders, root, "import.s2p.folder", 0)
    tables, stacks = found.tables, found.images
    c1, c2 = st.columns(2)
    table = c1.selectbox("Stimulus table (CSV: onset frame or time, image id, optional tier)", tables,
                         index=sources.nearest(tables, folder), key="import.s2p.table",
                         format_func=lambda p: str(p.relative_to(root)))
    images = c2.selectbox("Images (.npy / .h5 stack or a folder of PNG/TIFF)", stacks,
                          index=sources.nearest(stacks, folder), key="import.s2p.images",
                          format_func=lambda p: str(p.relative_to(root)))
    c1, c2, c3 = st.columns(3)
    curated = c1.toggle("Use suite2p's curated labels", key="import.s2p.curated",
                        help="iscell column 0 (edited in the suite2p GUI) instead of the classifier probability")
    threshold = None if curated else c2.slider(
        "iscell probability ≥", 0.0, 1.0, 0.5, 0.05, key="import.s2p.threshold",
        help="ROIs whose classifier probability (iscell column 1) reaches this are kept as neurons")
    um = c3.number_input("µm per pixel", 0.01, 100.0, 1.0, key="import.s2p.um",
                         help="Pixel size of the imaging plane, for neuron positions")
    if table is None or images is None:
        st.info("Choose the stimulus table and the images of this session.")
        return None
    columns = _table_columns(table)
    return ("suite2p", str(folder), str(table), str(images), threshold, float(um), *columns), [folder, table, images]


def _table_columns(table: Path) -> tuple[str | None, ...]:
    """(onset column, onset unit, image column, tier column) chosen from the table's header; None: default."""
    header = sources.csv_header(table)
    with st.expander("Stimulus table columns (when they are not named as DINA expects)"):
        c1, c2, c3, c4 = st.columns(4)
        picks = (
            c1.selectbox("Onset", [AUTO, *header], key=f"import.s2p.onset.{table}",
                         help="default: the first of onset_frame, frame, start_frame, onset_time, onset_s, "
                              "start_time, time"),
            c2.selectbox("Onset unit", [AUTO, "frames", "seconds"], key=f"import.s2p.unit.{table}",
                         help="default: frames when the column's name contains 'frame', else seconds"),
            c3.selectbox("Image id", [AUTO, *header], key=f"import.s2p.image.{table}",
                         help="default: the first of image_id, image_index, image"),
            c4.selectbox("Tier", [AUTO, *header], key=f"import.s2p.tier.{table}",
                         help="default: 'tier' when present; without one, repeated images become the test tier"))
    return tuple(None if pick == AUTO else pick for pick in picks)


def nwb_spec(root: Path, signal: str) -> tuple[SourceSpec, list[Path]] | None:
    files = sources.scan(root).nwb
    if not files:
        st.info(f"No `.nwb` file under `{root}` yet: upload one above or copy it there.")
        return None
    path = _choose("NWB file", files, root, "import.nwb.file", 0)
    c1, c2, c3, c4 = st.columns(4)
    table = c1.text_input("Presentations table", "", key="import.nwb.table", placeholder="stimulus_presentations",
                          help="TimeIntervals table of the stimulus presentations; empty: the default search")
    column = c2.text_input("Image index column", "", key="import.nwb.column", placeholder="image_index",
                           help="Its column holding the row of the image shown; empty: the default search")
    images = c3.text_input("Images", "", key="import.nwb.images", placeholder="(search)",
                           help="Name of the Images container or ImageSeries of the stimuli; empty: the default "
                                "search (what an IndexSeries indexes, then the stimulus templates)")
    um = c4.number_input("µm per pixel", 0.0, 100.0, 0.0, key="import.nwb.um",
                         help="0: the imaging plane's grid spacing (1 µm when the file has none)")
    return ("nwb", str(path), signal, table.strip(), column.strip(), images.strip(), float(um) or None), [path]


def upload(kind: str, root: Path) -> None:
    types = ["zip"] if kind == "suite2p" else ["nwb"]
    what = ("a .zip of the session folder (suite2p/, the stimulus table and the images)" if kind == "suite2p"
            else "an .nwb file")
    upload = st.file_uploader(f"…or upload {what}", type=types, key=f"import.{kind}.upload")
    if upload is not None and st.button("Add the upload to the data folder", key=f"import.{kind}.add"):
        with guard(), st.spinner("Saving the upload…"):
            saved = sources.save_upload(upload, upload.name, root)
            if kind == "suite2p":
                saved = sources.extract_zip(saved, root)
            st.success(f"Added `{saved.relative_to(root)}`.")
