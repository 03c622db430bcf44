"""A joint run: one DINA model over several recordings, saved as one folder of ordinary runs.

Folder layout:
    RUN/run.json              format 'dina-joint-run': the recordings (name, fingerprint, neurons, trials per
                              tier), the configs, the joint history (validation per recording) and metadata
    RUN/recordings/NAME/      each recording's model as an ordinary run folder (``model.pt`` + ``run.json``),
                              loadable and scored as any single run; every one holds the same image side
    RUN/state.pt              only while training
``run.json`` is written last, so a folder that has it holds every recording's model. Each recording's run is a
complete model of that recording (its image side a copy of the shared one): every tool that takes a run takes it,
and DINA Studio lists it beside the recording it was trained on. ``load_joint_run`` rebuilds the joint model with
the image side shared again, and refuses recordings whose image sides differ (an edited folder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..errors import CheckpointError
from ..paths import is_inside
from ..model.image_side import image_side, share_image_side
from .config import TrainConfig
from .folder import RECORDINGS_DIR, SUMMARY_FILE
from .names import is_folder_name
from .run import Run, load_run, save_run

JOINT_FORMAT = "dina-joint-run"
MAX_SUMMARY_BYTES = 50_000_000  # a joint run.json holds a few hundred epochs' rows: far below this


@dataclass
class JointRun:
    """One model over several recordings: a Run per recording, their models sharing one image side."""

    runs: dict[str, Run]  # by recording name, in training order
    recordings: list[dict]  # per recording: name, data_fingerprint, data_name, neurons, trials {tier: n}
    train_config: TrainConfig
    history: list[dict] = field(default_factory=list)  # the joint fit's epochs (val_top1: the recordings' mean)
    metadata: dict = field(default_factory=dict)


def recording_folder(run_dir: str | os.PathLike, name: str) -> Path:
    """Where recording ``name``'s run lives in joint run ``run_dir``."""
    return Path(run_dir) / RECORDINGS_DIR / name


def save_joint_run(joint: JointRun, run_dir: str | os.PathLike) -> Path:
    """Write every recording's run, then ``run.json`` (atomic); returns the ``run.json`` path."""
    for name, run in joint.runs.items():
        folder = recording_folder(run_dir, name)
        folder.mkdir(parents=True, exist_ok=True)
        save_run(run, folder)
    summary = {"format": JOINT_FORMAT, "kind": "joint", "recordings": joint.recordings,
               "train_config": joint.train_config.to_dict(), "history": joint.history, "metadata": joint.metadata}
    path = Path(run_dir) / SUMMARY_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=float))
    return path


def is_joint_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a joint run's folder (its ``run.json`` says so), without loading any model."""
    summary = Path(path) / SUMMARY_FILE
    if not Path(path).is_dir() or not summary.is_file() or summary.stat().st_size > MAX_SUMMARY_BYTES:
        return False
    try:
        return json.loads(summary.read_text()).get("format") == JOINT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_joint_summary(run_dir: str | os.PathLike) -> dict:
    """The joint run's ``run.json``, its recording names checked (folder names inside the run, each once).

    Raises:
        CheckpointError: naming the file and the field.
    """
    path = Path(run_dir) / SUMMARY_FILE
    try:
        if path.stat().st_size > MAX_SUMMARY_BYTES:
            raise CheckpointError(f"{path}: {path.stat().st_size} bytes; a joint run's run.json is far smaller")
        summary = json.loads(path.read_text())
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not JSON ({exc})") from None
    if not isinstance(summary, dict) or summary.get("format") != JOINT_FORMAT:
        raise CheckpointError(f"{path}: field 'format': expected {JOINT_FORMAT!r}")
    recordings = summary.get("recordings")
    if not isinstance(recordings, list) or len(recordings) < 2 or not all(isinstance(r, dict) for r in recordings):
        raise CheckpointError(f"{path}: field 'recordings': expected a list of at least two recordings")
    names = [r.get("name") for r in recordings]
    if not all(is_folder_name(n) for n in names) or len(set(names)) != len(names):
        raise CheckpointError(f"{path}: field 'recordings[].name': expected distinct folder names (letters, digits, "
                              f"'.', '_', '-'), found {names!r}")
    return summary


def load_joint_run(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> JointRun:
    """Rebuild a joint run: each recording's run (``runs.run.load_run``), their image sides shared again.

    Raises:
        CheckpointError: naming the file and field: a summary or model that does not load, or a recording whose
            image side is not the first one's (the folder was altered after training).
    """
    summary = read_joint_summary(run_dir)
    names = [r["name"] for r in summary["recordings"]]
    for name in names:  # a recording's folder linked elsewhere would load a model from outside the run
        if not is_inside(run_dir, recording_folder(run_dir, name)):
            raise CheckpointError(f"{recording_folder(run_dir, name)}: leads outside the joint run {run_dir} (a "
                                  "link); a joint run's recordings are folders inside it")
    runs = {name: load_run(recording_folder(run_dir, name), device=device) for name in names}
    models = [run.model for run in runs.values()]
    first = _side_tensors(models[0])
    for name, model in zip(names[1:], models[1:]):
        tensors = _side_tensors(model)
        if tensors.keys() != first.keys() or any(not torch.equal(tensors[k], first[k]) for k in first):
            raise CheckpointError(f"{recording_folder(run_dir, name) / 'model.pt'}: its image side differs from "
                                  f"{names[0]}'s; a joint run's recordings share one (was the folder edited?)")
    share_image_side(models)
    try:
        train_config = TrainConfig.from_dict(summary.get("train_config", {}))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{Path(run_dir) / SUMMARY_FILE}: field 'train_config': {exc}") from None
    return JointRun(runs, list(summary["recordings"]), train_config, list(summary.get("history") or []),
                    dict(summary.get("metadata") or {}))


def _side_tensors(model) -> dict[str, torch.Tensor]:
    if not hasattr(model, "IMAGE_SIDE"):
        raise CheckpointError("a joint run's recordings are DINA models; found another kind")
    return {f"{n}.{k}": v for n, m in image_side(model).items() for k, v in m.state_dict().items()}
