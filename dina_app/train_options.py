"""The New run form's two DINA options, their checks before a job starts, and the jobs they start.

"Start from a trained model": the new model's image tower starts as a saved DINA run's (a single or ensemble run, or
a joint run's folder), frozen, fine-tuned or chosen on validation (``dina_core.train.transfer.train_from``).
"Train jointly with other recordings": one DINA model over the active recording and other DINA files of the data
folder (``dina_core.train.joint.train_joint``), saved as RUN/recordings/NAME, each NAME a file's stem. Both offer
only what has the active recording's image size; the core refuses the rest (the same recording twice, say) in the
job, whose error the job panel shows.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError
from dina_core.runs.folder import RECORDINGS_DIR, SUMMARY_FILE
from dina_core.runs.names import MAX_NAME_LENGTH

from . import jobs, joint_runs, saved_runs, sources, state
from .state import FileKey

# train_from's image_tower choices as the form names them (spelt out: importing train.transfer loads torch)
IMAGE_TOWERS = {"auto": "chosen on validation", "frozen": "frozen", "fine-tune": "fine-tuned"}
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")  # what a folder name cannot hold (``runs.names.ALLOWED``)


@dataclass(frozen=True)
class Options:
    """What the New run form asks beyond the configs: where the image tower starts, whom to train with."""

    source: str | None = None  # run folder whose image tower the new model starts from; None: from scratch
    image_tower: str = "auto"  # ``train_from``'s image_tower: 'auto', 'frozen' or 'fine-tune'
    others: tuple[str, ...] = ()  # other recordings' files (resolved paths) to train one joint model with


def draw(data_key: FileKey, disabled: bool) -> Options:
    """The two options' widgets (outside the form, so the image-tower choice appears once a run is chosen)."""
    shape = tuple(state.summary(data_key)["image_shape"])
    runs = start_from_choices(shape)
    source = st.selectbox("Start from a trained model", [None, *runs], key="train.from", disabled=disabled,
                          format_func=lambda p: "none" if p is None else runs[p],
                          help="Its image tower starts the new model's (its architecture too: the Model settings "
                               f"below are not used); only DINA runs of {shape[0]} x {shape[1]} images")
    tower = "auto"
    if source is not None:
        tower = st.radio("Image tower", list(IMAGE_TOWERS), format_func=IMAGE_TOWERS.get, horizontal=True,
                         key="train.image_tower", disabled=disabled,
                         help="Frozen: only this recording's neural side learns (few trials); fine-tuned: the "
                              "image tower trains too; chosen on validation: both are trained, the better kept")
    others = joint_candidates(data_key, shape)
    chosen = st.multiselect("Train jointly with other recordings", list(others), key="train.joint",
                            format_func=others.get, disabled=disabled or not others,
                            placeholder="none" if others else f"no other DINA file of {shape[0]} x {shape[1]} "
                                                              "images in the data folder",
                            help="One model over this recording and these (one image tower, a neural side each), "
                                 f"DINA files under {state.data_dir()} of the same image size")
    return Options(source, tower, tuple(chosen))


def start_from_choices(image_shape: tuple[int, int]) -> dict[str, str]:
    """{run folder: label} of the usable DINA runs taking ``image_shape`` (H, W) images, newest first: single and
    ensemble runs (the shipped demo run too) and joint runs' folders, which stand for their recordings' runs."""
    listed = saved_runs.list_runs()
    usable = {r["path"] for r in listed if r["problem"] is None}
    joints = [j for j in joint_runs.list_joint_runs() if all(p in usable for p in j["runs"])]
    members = {p for j in joints for p in j["runs"]}
    found = [(r["modified"], r["path"], r["name"]) for r in listed
             if r["problem"] is None and r["kind"] == "dina" and r["path"] not in members]
    found += [(j["modified"], j["path"], f"{j['name']} (joint: {', '.join(j['recordings'])})") for j in joints]
    return {path: name for _, path, name in sorted(found, reverse=True)
            if _run_image_shape(state.file_key(Path(path) / SUMMARY_FILE)) == tuple(image_shape)}


@st.cache_data(max_entries=256, show_spinner=False)
def _run_image_shape(key: FileKey) -> tuple[int, ...] | None:
    """(H, W) of the images the run of ``run.json`` ``key`` takes (a joint run's: its first recording's), None when
    its run.json does not say; only to offer runs, so the editable run.json is enough (the core checks the model)."""
    try:
        info = json.loads(Path(key[0]).read_text())
        shape = info["image_shape"] if "image_shape" in info else info["recordings"][0]["image_shape"]
        return tuple(int(v) for v in shape)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def joint_candidates(data_key: FileKey, image_shape: tuple[int, int]) -> dict[str, str]:
    """{resolved path: path in the data folder} of the DINA files there, but the active one, of ``image_shape``."""
    root, found = state.data_dir(), {}
    for path in sources.scan(root).datasets:
        resolved = str(path.resolve())
        with contextlib.suppress(DinaError):  # a file deleted since the scan is simply not offered
            if resolved != data_key[0] and _recording_shape(state.file_key(resolved)) == tuple(image_shape):
                found[resolved] = str(path.relative_to(root))
    return found


@st.cache_data(max_entries=256, show_spinner=False)
def _recording_shape(key: FileKey) -> tuple[int, ...] | None:
    """(H, W) of the DINA file ``key``'s images, None when it is no DINA file (an image stack, a broken file)."""
    from dina_core.data.io import dataset_summary
    try:
        return tuple(dataset_summary(key[0])["image_shape"])
    except DinaError:
        return None


def recording_name(path: str | Path) -> str:
    """A recording's folder name in a joint run: its file's stem, characters a folder name cannot hold made '_'."""
    return _NOT_ALLOWED.sub("_", Path(path).stem).lstrip("._-")[:MAX_NAME_LENGTH] or "recording"


def check(options: Options, data_key: FileKey) -> dict[str, str] | None:
    """The joint run's {recording name: file}, the active recording first, or None for a run of it alone.

    Raises:
        DinaError: a start and a joint run together, a chosen file gone, no DINA file any more or of another image
            size than the active recording, or two files that make one recording name.
    """
    if not options.others:
        return None
    if options.source is not None:
        raise DinaError("starting from a trained model and training jointly together is not supported; choose one")
    shape = tuple(state.summary(data_key)["image_shape"])
    for path in options.others:
        other = _recording_shape(state.file_key(path))  # DatasetError when the file has gone
        if other is None:
            raise DinaError(f"{path}: no longer a DINA file this app can read")
        if other != shape:
            raise DinaError(f"{path}: {other[0]} x {other[1]} images; one image tower needs this recording's "
                            f"{shape[0]} x {shape[1]}")
    names: dict[str, str] = {}
    for path in (data_key[0], *options.others):
        name = recording_name(path)
        clash = next((n for n in names if n.casefold() == name.casefold()), None)
        if clash is not None:
            raise DinaError(f"{names[clash]} and {path}: both would be recording {name!r} of the joint run (a "
                            "file's stem names it); rename one of the files")
        names[name] = path
    return names


def start(job_key: str, out_dir: Path, kind: str, options: Options, names: dict[str, str] | None,
          data_key: FileKey, train_config, model_config: dict) -> jobs.Job:
    """Start the training the form asks for into ``out_dir``: a ``kind`` run of the active recording, or the DINA
    start or joint run of ``options`` (``names``: ``check``'s joint recordings).

    Raises:
        DinaError: as ``jobs.start_fit``.
    """
    data, label = state.load_data(data_key), f"Training {out_dir.name}"
    if names:
        def fit(job: jobs.Job) -> tuple:
            from dina_core.data.io import read_dataset  # in the job: the page never waits for the other files
            from dina_core.train.joint import train_joint
            recordings = {n: data if p == data_key[0] else read_dataset(p) for n, p in names.items()}
            return train_joint(recordings, out_dir, model_config=model_config, train_config=train_config,
                               metadata={n: {"data_path": p} for n, p in names.items()}, on_step=job.on_step,
                               should_stop=job.should_stop)
    elif options.source is not None:
        def fit(job: jobs.Job) -> tuple:
            from dina_core.train.transfer import train_from
            # no model config: the new model takes the source's architecture, so its image tower fits
            return train_from(data, out_dir, options.source, image_tower=options.image_tower,
                              train_config=train_config, metadata={"data_path": data_key[0]}, on_step=job.on_step,
                              should_stop=job.should_stop)
    else:
        return jobs.start_training(job_key, label, data, out_dir, train_config, kind, model_config,
                                   {"data_path": data_key[0]})
    return jobs.start_fit(job_key, label, out_dir, train_config, fit)


def joint_folders(out_dir: Path) -> dict[str, Path] | None:
    """{recording name: its run folder} of the finished joint run in ``out_dir``, None when it holds none."""
    try:
        names = saved_runs.joint_recordings(out_dir) if (out_dir / RECORDINGS_DIR).is_dir() else None
    except DinaError:  # a broken run.json: the Checkpoints table names it
        return None
    return {n: out_dir / RECORDINGS_DIR / n for n in names} if names else None
