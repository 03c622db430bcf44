"""The Data page's import wizard for raw recordings (suite2p + stimulus table + images, or NWB).

Three steps on one screen: pick the source (data folder or upload; ``import_picker``), set the preprocessing
with a live preview (traces with onsets and windows, reliability, responsive fraction)
computed on a sample of neurons, then import every neuron into ``DATA/imported`` in a background
job (``jobs``: a rerun or a page change never interrupts it). The raw
source and the sample are cached per file (``st.cache_resource``, shared and never
mutated); previews per parameter set (``st.cache_data``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from dina_core.importers.nwb import read_nwb_source
from dina_core.importers.suite2p import read_suite2p_source
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.config import BASELINE_METHODS, DENOISERS
from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_source
from dina_core.importers.traces.source import describe_source
from dina_core.paths import files_under

from . import import_outputs as outputs
from . import import_picker as picker
from . import jobs, keys, sources, state
from . import figures as F
from .trace_figures import response_windows, trace_examples
from .chrome import guard, show

DEFAULTS = TraceConfig()


def _stamp(paths: list[Path], root: Path) -> tuple:
    """(path, mtime_ns, size) of every file under ``paths``: a changed recording is read afresh.

    Raises DinaError when any of them, or a link among them, leads out of the data folder ``root``, before
    the source is read (the importer itself refuses a link that leads out of the source folder, as on the
    command line: ``dina_core.importers.confine``).
    """
    files = [f for p in paths for f in files_under(root, p)]
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


@st.cache_resource(max_entries=2, show_spinner="Reading the recording…")
def _source(spec: picker.SourceSpec, stamp: tuple):
    """The RawSource of ``spec`` (traces memory-mapped for suite2p, in memory for NWB)."""
    if spec[0] == "suite2p":
        _, folder, table, images, threshold, um, onset, unit, image, tier = spec
        return read_suite2p_source(folder, stimuli=table, images=images, iscell_threshold=threshold,
                                   um_per_pixel=um, onset_column=onset, onset_unit=unit, image_column=image,
                                   tier_column=tier)
    _, path, signal, table, column, images, um = spec
    return read_nwb_source(path, signal=signal, table=table or None, image_column=column or None,
                           images=images or None, um_per_pixel=um)


@st.cache_resource(max_entries=2, show_spinner="Reading a sample of neurons…")
def _sample(spec: picker.SourceSpec, stamp: tuple, max_neurons: int, kinds: tuple[str, ...]):
    return sample_source(_source(spec, stamp), max_neurons, kinds)


@st.cache_data(max_entries=32, show_spinner="Preprocessing the sample…")
def _preview(spec: picker.SourceSpec, stamp: tuple, max_neurons: int, config: dict, first_trial: int):
    source = _source(spec, stamp)
    trace_config = TraceConfig.from_dict(config)
    sample, neurons = _sample(spec, stamp, max_neurons, preview_kinds(source, trace_config))
    started = time.perf_counter()
    result = preview_source(sample, neurons, trace_config, n_total=source.recording.n_neurons,
                            first_trial=first_trial)
    return result, time.perf_counter() - started


def _signal() -> str:
    """The signal choice, drawn before the source is read: NWB reads a different series per signal,
    and a file without the chosen one must leave this control on screen to switch back."""
    return st.segmented_control("Signal", ["dff", "events"], default="dff", key=keys.IMPORT_SIGNAL,
                                format_func={"dff": "dF/F", "events": "deconvolved events"}.get,
                                help="Events (suite2p spks) have no calcium decay to undo; dF/F is what "
                                     "most labs report") or "dff"


def _config(signal: str, signals: list[str], fs: float) -> dict:
    """Preprocessing widgets below the signal choice; returns the TraceConfig as a dict."""
    if signal == "events" and "events" not in signals:
        st.warning("This recording has no deconvolved events; using dF/F.")
        signal = "dff"
    stored_dff = "dff" in signals and "fluorescence" not in signals  # NWB DfOverF: used as stored
    values: dict = {"signal": signal}
    if signal == "dff" and not stored_dff:
        c1, c2, c3, c4 = st.columns(4)
        values["neuropil_coef"] = c1.slider("Neuropil coefficient r (F − r·Fneu)", 0.0, 1.0, DEFAULTS.neuropil_coef,
                                            0.05, key="import.neuropil", disabled="neuropil" not in signals)
        method = values["baseline_method"] = c2.selectbox(
            "Baseline F0", BASELINE_METHODS, key="import.baseline",
            help="running low percentile; maximin (smooth, min, max) is faster; none keeps F")
        if method != "none":
            values["baseline_window_s"] = c3.number_input("F0 window (s)", 1.0, 600.0, DEFAULTS.baseline_window_s,
                                                          key="import.baseline_window")
        if method == "percentile":
            values["baseline_percentile"] = c4.slider("F0 percentile", 0.0, 50.0, DEFAULTS.baseline_percentile,
                                                      1.0, key="import.percentile")
    c1, c2 = st.columns(2)
    values["denoise"] = c1.selectbox("Denoising", DENOISERS, key="import.denoise",
                                     help="Savitzky-Golay keeps peaks better than a median of the same span")
    if values["denoise"] != "none":
        values["denoise_window_s"] = c2.number_input("Denoising span (s)", 1.5 / fs, 2.0,
                                                     max(DEFAULTS.denoise_window_s, 1.5 / fs), key="import.denoise_s")
    c1, c2 = st.columns(2)
    values["response_window_s"] = c1.slider("Response window after onset (s)", -0.5, 3.0,
                                            DEFAULTS.response_window_s, 0.05, key="import.response")
    if c2.toggle("Subtract a pre-stimulus baseline", True, key="import.use_prestim"):
        values["prestim_window_s"] = c2.slider("Pre-stimulus window (s)", -2.0, 0.0, DEFAULTS.prestim_window_s,
                                               0.05, key="import.prestim")
    else:
        values["prestim_window_s"] = None
    values["nan_frames"] = "interpolate" if st.toggle(
        "Fill NaN frames", False, key="import.nan_frames",
        help="Dropped frames (NaN/Inf) are refused by default, naming the file, ROI and frames; this fills each "
             "gap linearly from its neighbours and records how many values were filled") else "refuse"
    return TraceConfig.from_dict({**DEFAULTS.to_dict(), **values}).to_dict()


def _show_preview(result, seconds: float, n_trials: int, big: bool) -> None:
    report = result.report
    cols = st.columns(4)
    cols[0].metric("Neurons previewed", f"{result.neurons.size:,} of {result.n_neurons:,}")
    cols[1].metric("Responsive", f"{100 * report.fraction_responsive:.0f}%"
                   if np.isfinite(report.fraction_responsive) else "–",
                   help="response window above the pre-stimulus level, paired t-test, Benjamini-Hochberg FDR 5%")
    reliable = report.reliability[np.isfinite(report.reliability)]
    cols[2].metric("Median reliability", f"{np.median(reliable):.2f}" if reliable.size else "–",
                   help="leave-one-out oracle correlation over repeated images")
    cols[3].metric("Trials", f"{n_trials:,}", help=result.tier_rule)
    st.caption("**Steps:** " + " → ".join(result.steps) + f" · **Responses:** {result.response_unit} · "
               f"preview computed in {seconds:.2f} s")
    ex = result.examples
    show(trace_examples(ex, "dF/F" if "dF/F" in result.response_unit else "signal", big=big),
         "Do the windows sit on the responses? The most reliable previewed neurons around "
         + ", ".join(response_windows(ex)) + ": green bands are response windows, grey ones the "
         "pre-stimulus baseline, dashed lines the onsets.", key="import.traces")
    left, right = st.columns(2)
    with left:
        if reliable.size:
            show(F.histogram(reliable, "oracle correlation (repeats)", big=big, marker=0.0),
                 "How reliable are the neurons with these settings? Move a window and watch this shift.",
                 key="import.reliability")
    with right:
        counts = {t: int((result.tiers == t).sum()) for t in ("train", "validation", "test")}
        st.dataframe({"tier": list(counts), "trials": list(counts.values()),
                      "images": [np.unique(result.image_index[result.tiers == t]).size for t in counts]},
                     hide_index=True)
        st.caption(f"Tiers {result.tier_rule}.")


def wizard(kind: str, root: Path, open_recording: Callable[[Path], None]) -> None:
    """The whole wizard for ``kind`` ('suite2p' or 'nwb'); ``open_recording`` makes the result active."""
    big = state.presenting()
    picker.upload(kind, root)
    signal = st.session_state.get(keys.IMPORT_SIGNAL) or "dff"  # the control is drawn below, after the source
    picked = picker.suite2p_spec(root) if kind == "suite2p" else picker.nwb_spec(root, signal)
    if picked is None:
        return
    spec, paths = picked
    st.markdown("**Preprocessing**")
    signal = _signal()
    with guard():
        stamp = _stamp(paths, root)
        source = _source(spec, stamp)
        info = describe_source(source)
        st.caption(f"{info['neurons']:,} neurons · {info['frames']:,} frames at {info['fs_hz']:g} Hz "
                   f"({info['duration_s'] / 60:.1f} min) · {info['trials']:,} presentations of "
                   f"{info['images']:,} images ({info['repeated_images']:,} repeated) · "
                   f"{info['planes']} plane(s) · stored: {', '.join(info['signals'])}")
        config = _config(signal, info["signals"], info["fs_hz"])
        c1, c2 = st.columns(2)
        max_neurons = int(c1.number_input("Neurons in the preview", 10, 5000, 200, 10, key="import.sample",
                                          help="An evenly spaced sample: the preview equals the import on them"))
        first = int(c2.number_input("First trial shown", 0, max(info["trials"] - 1, 0), 0, key="import.first"))
        result, seconds = _preview(spec, stamp, max_neurons, config, first)
        _show_preview(result, seconds, info["trials"], big)
        _save(source, config, root, kind, open_recording, seconds * info["neurons"] / max(result.neurons.size, 1))


def _save(source, config: dict, root: Path, kind: str, open_recording: Callable[[Path], None],
          estimate_s: float) -> None:
    st.markdown("**Import**")
    key = keys.import_job(state.session_id())
    job = jobs.get(key)
    c1, c2 = st.columns([2, 1])
    default = outputs.output_name(source.attrs.get("name") or kind, source.request,
                                  lambda n: sources.imported_path(n, root))  # never another source's file
    name = c1.text_input("Dataset name", default, key=f"import.{kind}.name")
    out = sources.imported_path(name, root)
    other = outputs.holds_other_source(out, source.request)
    if other is not None:
        st.warning(f"`{out.name}` holds another recording (from `{other.get('source')}`): choose another name, "
                   "or tick Replace to overwrite it.", icon=":material/warning:")
    replace = out.exists() and c2.checkbox(f"Replace the existing {out.name}", key=f"import.{kind}.replace")
    st.caption(f"Writes `{out.relative_to(root)}` with all {source.recording.n_neurons:,} neurons "
               f"(about {max(estimate_s, 1):.0f} s, in the background); the file records these settings.")
    if st.button("Import and open", type="primary", icon=":material/move_to_inbox:", key=f"import.{kind}.go",
                 disabled=(job is not None and job.live) or (out.exists() and not replace)):
        jobs.start(key, f"Importing {out.name}", out.parent,
                   jobs.import_work(source, out, TraceConfig.from_dict(config)))
        st.rerun()
    if job is not None:
        _import_status(job, open_recording)


def _import_status(job: jobs.Job, open_recording: Callable[[Path], None]) -> None:
    """The background import's progress, polled every second; its dataset opens once it is written."""
    was_live = job.live
    if was_live and st.button("Stop the import", icon=":material/stop:", key="import.stop",
                              help="Ends at the next block of neurons; nothing is written"):
        job.stop()

    @st.fragment(run_every=1.0 if was_live else None)
    def panel() -> None:
        snap = job.snapshot()
        if snap["status"] == "queued":
            st.progress(0.0, text="Waiting for a training on this machine to finish…")
        elif snap["status"] == "running":
            last = snap["last"] or {"done": 0, "total": 1}
            st.progress(last["done"] / max(last["total"], 1),
                        text=f"{snap['label']}: {snap['stage'] or 'reading'} {last['done']:,}/{last['total']:,} "
                             f"· {snap['elapsed_s']:.0f} s")
        elif snap["status"] == "failed":
            st.error(f"{snap['label']} failed: {snap['error']}", icon=":material/error:")
        elif snap["status"] == "stopped" and snap["result"] is None:
            st.info(f"{snap['label']}: stopped; nothing was written.", icon=":material/stop:")
        if was_live and not job.live:
            st.rerun(scope="app")

    panel()
    if not job.live and job.result is not None:  # written (a stop that came after the last block changes nothing)
        path = Path(job.result["path"])
        this_import = f"{path}@{job.started}"  # a re-import to the same file opens again
        if st.session_state.get(keys.IMPORT_OPENED) != this_import:  # open it once; the user may move on to another
            st.session_state[keys.IMPORT_OPENED] = this_import
            open_recording(path)  # reruns the app
        st.success(f"Imported {path.name} (now in the data folder).", icon=":material/check_circle:")
