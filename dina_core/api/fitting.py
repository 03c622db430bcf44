"""What ``DINA.fit`` trains: one recording (a run or a seed ensemble), a new recording started from a trained run
(``fit(rec, start_from=RUN)``: ``train.transfer``), or several recordings in CEBRA's multi-session shape
(``fit([rec_a, rec_b])``: one joint model, ``train.joint``; ``model.recording("a")`` is then one recording's fitted
estimator, and ``model.score(rec_b)`` scores the recording it is given)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..data.fingerprint import recording_identity, recording_matches
from ..errors import DinaError
from ..runs.run import Run
from .arrays import as_recording

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")


def _name(data, path: str | None, index: int) -> str:
    """A recording's folder name: its file's stem, else its ``name`` attribute, else 'recordingN'."""
    text = Path(path).stem if path else str(data.attrs.get("name", "") or "")
    return _NOT_ALLOWED.sub("_", text).strip("._-")[:48] or f"recording{index + 1}"


def joint_recordings(recordings, what: str) -> tuple[dict, dict]:
    """({name: DinaData}, {name: metadata}) of a list of recordings or paths, or of a {name: recording} dict; names
    made distinct by their position where two would clash."""
    items = list(recordings.items()) if isinstance(recordings, dict) else [(None, r) for r in recordings]
    found, metadata = {}, {}
    for i, (name, recording) in enumerate(items):
        data, path = as_recording(recording, what)
        name = str(name) if name is not None else _name(data, path, i)
        if name.casefold() in {n.casefold() for n in found}:
            name = f"{name}-{i + 1}"
        found[name] = data
        metadata[name] = {"data_path": str(Path(path).resolve())} if path else {}
    return found, metadata


def train_one(kind: str, ensemble: int, model_config: dict, train_config, recording, out, *, resume: bool,
              overwrite: bool, on_step, start_from=None, image_tower: str = "auto") -> Run:
    """Train one recording's run as ``dina train`` does (``--ensemble``, ``--from``)."""
    from ..train.ensemble import train_ensemble
    from ..train.run import train_run
    data, path = as_recording(recording, "DINA.fit")
    options = dict(model_config=model_config, train_config=train_config, resume=resume, overwrite=overwrite,
                   metadata={"data_path": str(Path(path).resolve())} if path else None)
    if start_from is not None:
        from ..train.transfer import train_from
        if kind != "dina" or ensemble > 1:
            raise DinaError("DINA.fit: start_from starts one DINA model (kind='dina', ensemble=1)")
        return train_from(data, out, start_from, image_tower=image_tower, **options, on_step=on_step)[0]
    if ensemble > 1:
        return train_ensemble(data, out, ensemble, kind=kind, **options,
                              on_step=(lambda _, info: on_step(info)) if on_step is not None else None)[0]
    return train_run(data, out, kind=kind, **options, on_step=on_step)[0]


def fit_joint(kind: str, ensemble: int, model_config: dict, train_config, recordings, out, *, resume: bool,
              overwrite: bool, on_step):
    """Train the joint model of ``recordings`` (``train.joint.train_joint``); its ``JointRun``."""
    from ..train.joint import train_joint
    if kind != "dina" or ensemble > 1:
        raise DinaError("DINA.fit: several recordings train one joint DINA model: kind='dina' and ensemble=1")
    data, metadata = joint_recordings(recordings, "DINA.fit")
    joint, _ = train_joint(data, out, model_config=model_config, train_config=train_config, resume=resume,
                           overwrite=overwrite, metadata=metadata, on_step=on_step)
    return joint


def member_for(runs: dict[str, Run], data) -> Run:
    """The joint model's run of the recording ``data`` (by fingerprint); DinaError naming the recordings if none."""
    identity = recording_identity(data)
    for run in runs.values():
        if recording_matches(run.metadata, identity):
            return run
    raise DinaError(f"DINA.score: this recording is none of the joint model's ({', '.join(runs)}); score another "
                    "recording through one of them: model.recording(NAME).score(rec, allow_other_data=True)")


def save_folder(trained, folder: str | os.PathLike, overwrite: bool) -> Path:
    """Write a ``Run`` (``runs.run.save_run``) or a ``JointRun`` (``runs.joint.save_joint_run``) to ``folder`` under
    the folder rules of ``dina train``."""
    from ..runs.folder import check_target
    from ..runs.joint import JointRun, save_joint_run
    from ..runs.lock import run_lock
    from ..runs.run import save_run
    check_target(folder, overwrite=overwrite)
    with run_lock(folder):
        check_target(folder, overwrite=overwrite, locked=True)
        (save_joint_run if isinstance(trained, JointRun) else save_run)(trained, folder)
    return Path(folder)
