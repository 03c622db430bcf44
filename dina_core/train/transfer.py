"""A new recording's model started from a trained one: the image side copied, frozen or fine-tuned.

``dina train NEW.h5 --from RUN``: the source is a single run, a seed ensemble (its first member) or a joint run
(its shared image side); the new model takes the source's architecture (its level weights are chosen afresh on the
new recording), its image side (``model.image_side``) is copied in, and only the new recording's neural side starts
from scratch. With the image tower 'frozen' it never changes (fewest weights to learn: what a few hundred trials can
afford); 'fine-tune' trains it too; 'auto' trains both and keeps the one with the higher validation top-1 (a tie keeps
the frozen one), recording both scores in the run's ``metadata['transfer']``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..data.format import DinaData
from ..errors import DinaError
from ..model.dina import DinaModel
from ..model.image_side import copy_image_side, image_side
from ..runs.config import TrainConfig
from ..runs.ensemble import EnsembleModel
from ..runs.folder import check_target
from ..runs.joint import is_joint_run, load_joint_run
from ..runs.lock import run_lock
from ..runs.run import Run, load_run, save_run
from .loop import FitResult, StepInfo
from .run import train_run

IMAGE_TOWER_CHOICES = ("auto", "frozen", "fine-tune")
_RESET = {"retrieval_weights": []}  # chosen on the source's recording: the new one chooses its own


@dataclass(frozen=True)
class Transfer:
    """Where a new model's image side comes from, and whether it trains."""

    source: DinaModel
    origin: str  # the source run's folder, for the record
    freeze: bool

    def apply(self, model: DinaModel) -> None:
        """Copy the source's image side into ``model`` (``image_side.copy_image_side``); DinaError if they differ."""
        try:
            copy_image_side(self.source, model, self.freeze)
        except ValueError as exc:
            raise DinaError(f"--from {self.origin}: {exc}") from None

    def describe(self) -> dict:
        """The run's record of it (also what a resume must match): source, its image side's digest, the mode."""
        digest = hashlib.sha256()
        for module in image_side(self.source).values():
            for key, value in module.state_dict().items():
                digest.update(key.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        return {"from": self.origin, "image_side_sha256": digest.hexdigest(),
                "image_tower": "frozen" if self.freeze else "fine-tuned"}


def source_model(path: str | os.PathLike, device: str = "cpu") -> tuple[DinaModel, dict]:
    """(the DINA model whose image side a new recording starts from, its model config) of run ``path``.

    Raises:
        CheckpointError: the run does not load; DinaError: it is not a DINA run.
    """
    if is_joint_run(path):
        run = next(iter(load_joint_run(path, device=device).runs.values()))
    else:
        run = load_run(path, device=device)
    model = run.model.members[0] if isinstance(run.model, EnsembleModel) else run.model
    if not isinstance(model, DinaModel):
        raise DinaError(f"--from {path}: a {run.kind} run has no image tower to start from; give a DINA run")
    return model, {**run.model_config, **_RESET}


def train_from(data: DinaData, out_dir: str | os.PathLike | None, source: str | os.PathLike, *,
               image_tower: str = "auto", model_config: dict | None = None, train_config: TrainConfig | None = None,
               resume: bool = False, overwrite: bool = False, metadata: dict | None = None,
               on_step: Callable[[StepInfo], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> tuple[Run, FitResult]:
    """Train a DINA model of ``data`` whose image side starts as run ``source``'s (module docstring).

    Args:
        image_tower: 'frozen', 'fine-tune' or 'auto' (both trained in memory, the better on validation saved;
            not resumable).
        model_config: fields that override the source's config (the image side's must stay as the source's).
        The rest as ``train_run``.
    """
    if image_tower not in IMAGE_TOWER_CHOICES:
        raise DinaError(f"image tower {image_tower!r}: expected one of {', '.join(IMAGE_TOWER_CHOICES)}")
    if image_tower == "auto" and resume:
        raise DinaError("resume: an 'auto' transfer trains two models in memory; pass --freeze-image-tower or "
                        "--fine-tune-image-tower to train (and resume) one")
    train_config = train_config or TrainConfig()
    model, config = source_model(source, device="cpu")
    config = {**config, **(model_config or {})}
    options = dict(kind="dina", model_config=config, train_config=train_config, should_stop=should_stop)
    if image_tower != "auto":
        transfer = Transfer(model, str(Path(source).resolve()), image_tower == "frozen")
        return train_run(data, out_dir, **options, resume=resume, overwrite=overwrite, metadata=metadata,
                         on_step=on_step, transfer=transfer)
    if out_dir is not None:
        check_target(out_dir, overwrite=overwrite)
    tried = {}
    for mode in ("frozen", "fine-tune"):
        tried[mode] = train_run(data, None, **options, metadata=metadata, on_step=on_step,
                                transfer=Transfer(model, str(Path(source).resolve()), mode == "frozen"))
        if tried[mode][1].interrupted:
            break
    scores = {mode: run.metadata["best_val_top1"] for mode, (run, _) in tried.items()}
    best = max(scores, key=lambda m: (scores[m], m == "frozen"))
    run, result = tried[best]
    run.metadata["transfer"] = {**run.metadata["transfer"], "chosen_by": "validation",
                                "validation_top1": {("fine-tuned" if m == "fine-tune" else m): v
                                                    for m, v in scores.items()}}
    if out_dir is not None:
        with run_lock(out_dir):
            check_target(out_dir, overwrite=overwrite, locked=True)
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            save_run(run, out_dir)
    return run, result

