"""Data: which recording am I looking at?"""

from pathlib import Path

import numpy as np
import streamlit as st

from dina_app import analysis, import_wizard, keys, links, sources, state
from dina_app import figures as F
from dina_app import map_figures as M
from dina_app.chrome import figure_columns, guard, page_header, show

page_header("Data", "Which recording am I looking at?")
big = state.presenting()
root = state.data_dir()


def open_recording(path) -> None:
    """Check the whole file before making it active (a broken file, NaN/Inf values or undecodable text included,
    never sticks to the session: every page reads all of it), then redraw every part of the app for it."""
    with guard():
        key = state.file_key(path)
        state.summary(key)
        state.load_data(key)  # cached: the page reads it next
        state.set_active_data(path)
        st.session_state[keys.DATA_FLASH] = f"Opened {Path(path).name}"
        st.rerun()


if flash := st.session_state.pop(keys.DATA_FLASH, None):  # what the last run did, outside the collapsing chooser
    st.success(flash, icon=":material/check_circle:")


with st.expander("Choose a recording", expanded=not big and keys.DATA not in st.session_state):
    source = st.segmented_control("Source", ["Built-in demo", "Data folder", "Upload a DINA file", "Import Sensorium",
                                             "Import suite2p", "Import NWB"], default="Built-in demo", key="data.source")
    if source == "Built-in demo":
        st.caption("A simulated V1 recording with known receptive fields (ground truth), made in a few seconds.")
        if st.button("Open the demo", icon=":material/science:", key="data.open_demo"):
            open_recording(state.demo_path())
    elif source == "Data folder":
        files = sources.scan(root).datasets
        st.caption(f"DINA files (`.h5`) under the data folder `{root}` (set `DINA_DATA_DIR` to change it).")
        chosen = st.selectbox("File", files, format_func=lambda p: str(p.relative_to(root)), index=None,
                              key="data.file")
        if chosen is not None and st.button("Open", icon=":material/folder_open:", key="data.open_file"):
            open_recording(chosen)
    elif source == "Upload a DINA file":
        upload = st.file_uploader("DINA file (.h5)", type=["h5", "hdf5"], key="data.upload")
        if upload is not None and st.button("Open the upload", icon=":material/upload:", key="data.open_upload"):
            with st.spinner("Saving the upload…"):
                open_recording(sources.save_upload(upload, upload.name, root))
    elif source in ("Import suite2p", "Import NWB"):
        st.caption(f"A raw recording under the data folder `{root}`: set the preprocessing while watching its "
                   f"effect, then import it into `{root / sources.IMPORTED}`.")
        import_wizard.wizard("suite2p" if source == "Import suite2p" else "nwb", root, open_recording)
    else:
        candidates = sources.scan(root).sensorium
        st.caption(f"A Sensorium static folder or its `.zip`, under `{root}` or uploaded; written to "
                   f"`{root / sources.IMPORTED}`.")
        chosen = st.selectbox("Folder or zip in the data folder", candidates, index=None, key="data.sensorium",
                              format_func=lambda p: str(p.relative_to(root)))
        upload = st.file_uploader("…or upload the .zip", type=["zip"], key="data.upload_zip")
        if (chosen or upload) and st.button("Import", icon=":material/move_to_inbox:", key="data.import"):
            bar = st.progress(0.0, text="Importing…")
            src = chosen or sources.save_upload(upload, upload.name, root)
            with guard():
                out = sources.import_sensorium_source(
                    Path(src), root, progress=lambda d, t, s: bar.progress(d / max(t, 1), text=f"Reading {s}: {d}/{t}"))
                open_recording(out)

data_key = state.active_data_key()
summary = state.summary(data_key)
data = state.load_data(data_key)

st.subheader(summary.get("name") or Path(data_key[0]).name)
repeats = summary["test_repeats"]
cols = st.columns(4)
height, width = summary["image_shape"]
cols[0].metric("Images", f"{summary['n_images']:,}", help=f"{height} × {width} px")
cols[1].metric("Neurons", f"{summary['n_neurons']:,}")
cols[2].metric("Trials", f"{summary['n_trials']:,}")
cols[3].metric("Test repeats", f"{repeats['median']:g}" if repeats else "–",
               help="median presentations per test image")
if not big:
    st.dataframe({"tier": list(summary["trials_per_tier"]), "trials": list(summary["trials_per_tier"].values()),
                  "images": list(summary["images_per_tier"].values())}, hide_index=True, width=420)
    st.caption(f"**Source:** {summary.get('source') or '–'}  \n**Cite:** {summary.get('citation') or '–'}  \n"
               f"**Licence:** {summary.get('license') or '–'} · responses in {summary.get('response_unit') or '?'}")

st.subheader("Stimuli")
tiers = ["train", "validation", "test"]
tier = st.segmented_control("Tier", tiers, default="test", key=links.key("data.tier", options=tiers)) or "test"
shown = np.unique(data.image_index[data.tiers == tier])
n_show = 12 if big else 18
if st.button("Show other images", icon=":material/shuffle:"):
    st.session_state[keys.DATA_SEED] = st.session_state.get(keys.DATA_SEED, 0) + 1
rows = np.random.default_rng(st.session_state.get(keys.DATA_SEED, 0)).permutation(shown)[:n_show] if shown.size else []
if len(rows):
    show(F.image_grid(data.images[rows], [f"image {r}" for r in rows], cols=4 if big else 6, big=big),
         f"What did the animal see? {len(rows)} of the {shown.size} {tier} images.")

reliability = state.reliability(data_key)
order = None if reliability is None else np.argsort(-np.nan_to_num(reliability, nan=-1))
left, right = figure_columns(2)
with left:
    st.subheader("Responses")
    raster = analysis.raster(data, order)
    fig = M.raster(raster["values"], raster["images"], raster["n_trials"], raster["n_neurons"], big=big,
                   neurons_title="neurons, most reliable first" if order is not None else "neurons")
    show(fig, f"Do neurons answer the same image the same way? A subset: the first {len(raster['values'])} test "
              f"trials and {raster['values'].shape[1]} of the {raster['n_neurons']:,} neurons. Repeats of one image "
              "sit between two black lines: reliable neurons show stripes that hold within an image and change "
              "between images.")
with right:
    st.subheader("Reliability")
    if reliability is None:
        st.info("No image repeats on test trials, so reliability cannot be measured here.")
    else:
        show(F.histogram(reliability, "oracle correlation (test repeats)", big=big, marker=0.0),
             "How many neurons respond reliably? Leave-one-out correlation of each neuron's response with "
             "its mean over the other repeats (descriptive only: never used to choose neurons).")
positions = data.neurons.get("positions_um")
if positions is not None:
    show(F.positions(np.asarray(positions)[:, :2], reliability, "reliability (oracle r)", big=big),
         "Where are the reliable neurons? Cell positions in the imaging plane, coloured by reliability.")
