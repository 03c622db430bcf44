"""``DINA``: the dual-tower model as a scikit-learn style estimator, thin over what the CLI and app call."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import DinaError
from ..model.inference import encode_images, encode_responses, eval_mode
from ..runs.run import Run, load_run
from .fitting import member_for
from .arrays import as_recording, images_tensor, interpreted_model, positive_int, responses_tensor
from .scores import Retrieval, Scores, score_run
from .settings import check_names, defaults, same_setting, settings_doc, split

NOT_FITTED = "DINA: not fitted yet; call fit(recording) first, or DINA.load(run_folder)"


class DINA:
    __doc__ = """Dual-Tower Image-Neural Alignment of a V1 recording, in scikit-learn's shape.

    Example::

        import dina_core
        recording = dina_core.simulate_recording(size="small")            # or dina_core.load("mouse1.h5")
        model = dina_core.DINA(epochs=5).fit(recording)          # train tier; early stops on validation
        print(model.score(recording))                            # test tier, as `dina evaluate` prints it
        hits = model.retrieve(responses, candidate_images, k=5)  # raw responses, raw grey-level images

    Parameters:
        kind: 'dina' (feature-map alignment, the method) or 'linear' (the linear two-tower baseline).
        ensemble: number of seeds trained and scored as one model (1: a single run).
        **settings: any field of the kind's model config (``ModelConfig``, ``LinearConfig``) or of
            ``TrainConfig``, by name; unknown names are refused, values are checked by ``fit``.

    Attributes (after ``fit`` or ``load``):
        run_: the trained :class:`~dina_core.runs.run.Run` (model, configs, preprocessing, metadata).
        model_: the torch model (``run_.model``), in eval mode.
        history_: one dict per epoch (train loss, validation top-1, learning rate, seconds).
    """ + settings_doc("dina")

    def __init__(self, kind: str = "dina", *, ensemble: int = 1, **settings):
        check_names(kind, settings)
        self.kind, self.ensemble = kind, ensemble
        self._settings = dict(settings)  # kept as given: scikit-learn's clone checks get_params returns the same objects

    # --- parameters (scikit-learn's clone and parameter grids) ------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """Every parameter: kind, ensemble and each setting (defaults filled in)."""
        return {"kind": self.kind, "ensemble": self.ensemble, **defaults(self.kind), **self._settings}

    def set_params(self, **params) -> "DINA":
        """Change parameters by name (values are checked by ``fit``); returns the estimator.

        A new ``kind`` drops the old kind's settings that are at their defaults and refuses the others.
        """
        kind = params.pop("kind", self.kind)
        ensemble = params.pop("ensemble", self.ensemble)
        merged = {**self._settings, **params}
        if kind != self.kind:
            old, new = defaults(self.kind), defaults(kind)
            merged = {k: v for k, v in merged.items() if k in new or k in params or not same_setting(v, old.get(k))}
        check_names(kind, merged)
        self.kind, self.ensemble, self._settings = kind, ensemble, merged
        return self

    def __repr__(self) -> str:
        base = defaults(self.kind)
        changed = {k: v for k, v in self._settings.items() if not same_setting(v, base[k])}
        shown = {"kind": self.kind, **({"ensemble": self.ensemble} if self.ensemble != 1 else {}), **changed}
        return f"DINA({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    # --- training --------------------------------------------------------------------------------------
    def fit(self, recording, *, out: str | os.PathLike | None = None, resume: bool = False,
            overwrite: bool = False, on_step: Callable | None = None, start_from: str | os.PathLike | None = None,
            image_tower: str = "auto") -> "DINA":
        """Train on the recording's train tier, early-stopped and level-weighted on its validation tier.

        Args:
            recording: a ``DinaData`` or a DINA file's path; several (a list, or {name: recording}): one joint model
                (``dina train A.h5 B.h5``; ``recording(name)``: one recording's estimator, ``joint_``: the JointRun).
            out: run folder to write as it trains (resumable, what ``dina train --out`` writes); None: in memory.
            resume, overwrite: the folder rules of ``dina train`` (``runs.folder.check_target``).
            on_step: called with a ``StepInfo`` after optimiser steps (epoch, loss, validation top-1, ETA).
            start_from: a trained DINA run folder (single, ensemble or joint) whose image tower this recording's
                model starts from (``dina train --from``); ``image_tower`` 'auto', 'frozen' or 'fine-tune'.

        Returns self, fitted (``run_``, ``model_``, ``history_``); DinaError: a bad setting, recording or folder.
        """
        from .fitting import fit_joint, train_one
        model_config, train_config = split(self.kind, self._settings)
        k = positive_int(self.ensemble, "DINA setting 'ensemble'")
        options = dict(resume=resume, overwrite=overwrite, on_step=on_step)
        if isinstance(recording, dict) or (isinstance(recording, (list, tuple)) and len(recording) > 1):
            self._set_joint(fit_joint(self.kind, k, model_config, train_config, recording, out, **options))
        else:
            one = recording[0] if isinstance(recording, (list, tuple)) else recording
            self._set_run(train_one(self.kind, k, model_config, train_config, one, out, **options,
                                    start_from=start_from, image_tower=image_tower))
        return self

    def _set_joint(self, joint) -> None:  # a joint estimator applies its towers through ``recording(name)``
        self.joint_, self.history_ = joint, list(joint.history)
        self.__dict__.pop("run_", None), self.__dict__.pop("model_", None)

    def recording(self, name: str) -> "DINA":
        """One recording's fitted estimator of a joint model (its run shares the joint image tower)."""
        runs = getattr(self, "joint_", None)
        if runs is None or name not in runs.runs:
            raise DinaError(f"DINA.recording({name!r}): " + ("not a joint model" if runs is None else
                                                             f"expected one of {', '.join(runs.runs)}"))
        member = type(self)("dina", **self._settings)
        member._set_run(runs.runs[name])
        return member

    def _set_run(self, run: Run) -> None:
        self.run_, self.model_, self.history_ = run, run.model, list(run.history)
        self.__dict__.pop("joint_", None)

    def _run(self) -> Run:
        if hasattr(self, "joint_"):
            raise DinaError(f"a joint model of {', '.join(self.joint_.runs)}: choose one with model.recording(NAME)")
        if not hasattr(self, "run_"):
            raise DinaError(NOT_FITTED)
        return self.run_

    # --- scoring ---------------------------------------------------------------------------------------
    def score(self, recording, tier: str = "test", *, allow_other_data: bool = False) -> Scores:
        """Retrieval of ``tier`` as ``dina evaluate`` reports it: both directions, averaged and single-trial,
        combined and per level, beside the tier's noise ceiling.

        Args:
            recording: the recording the model was trained on (``DinaData`` or path).
            tier: 'test' (the model's score) or 'validation' (to choose settings without touching test).
            allow_other_data: score a recording other than the training one (the result then says so).

        Returns:
            :class:`Scores`: ``.top1(direction, responses)``, ``.rows``, ``.ceiling``, ``.to_dict()``
            (the JSON of ``dina evaluate --json``); printing it gives the CLI's table.
        """
        if tier not in ("test", "validation"):
            raise DinaError(f"DINA.score: tier {tier!r}: expected 'test' or 'validation'")
        data, path = as_recording(recording, "DINA.score")
        # a joint model scores the recording given through that recording's own run
        run = member_for(self.joint_.runs, data) if hasattr(self, "joint_") else self._run()
        return score_run(run, data, tier, source=path or "DINA.score: recording",
                         allow_other_data=allow_other_data)

    # --- applying the towers to the user's own arrays --------------------------------------------------
    def transform(self, responses, behavior=None, *, level: str | None = None, maps: bool = False):
        """Neural-tower output for raw responses, preprocessed as in training (neurons, z-scoring, behaviour).

        Args:
            responses: (n, n_neurons) raw responses, in the recording's units (e.g. ``recording.responses``).
            behavior: (n, k) behaviour columns when the run corrects for behaviour (``recording.behavior``).
            level: a retrieval level (``model_.levels``), or None for the combined retrieval embedding.
            maps: return the predicted feature maps instead (DINA only).

        Returns:
            (n, D) float32 unit-norm embeddings; with ``maps=True``, {stage: (n, C_stage, h, w) float32}
            predicted image-tower maps.
        """
        z = responses_tensor(self._run(), responses, behavior, "DINA.transform")
        if not maps:
            self._check_level(level)
            return encode_responses(self._run().model, z, level).cpu().numpy()
        model = interpreted_model(self._run(), "DINA.transform(maps=True)")
        with eval_mode(model), torch.no_grad():
            _, predicted, _ = model.response_latent_maps(z)
        return {stage: m.float().cpu().numpy() for stage, m in predicted.items()}

    def embed_images(self, images, *, level: str | None = None) -> np.ndarray:
        """(n, H, W) raw grey-level images -> (n, D) float32 unit-norm image-tower embeddings at ``level``."""
        self._check_level(level)
        x = images_tensor(self._run(), images, "DINA.embed_images")
        return encode_images(self._run().model, x, level).cpu().numpy()

    def retrieve(self, responses, candidate_images, k: int = 5, *, behavior=None,
                 level: str | None = None) -> Retrieval:
        """The ``k`` candidate images each response matches best (neural -> image retrieval).

        Args:
            responses: (n, n_neurons) raw responses; behavior: (n, k) when the run corrects for it.
            candidate_images: (N, H, W) raw grey-level images to rank.
            k: how many to return per response (at most N).

        Returns:
            :class:`Retrieval` with ``indices`` (n, k) int64 rows of ``candidate_images``, best first, and
            ``similarity`` (n, k) float32 retrieval scores.
        """
        z_r = torch.as_tensor(self.transform(responses, behavior, level=level))
        z_i = torch.as_tensor(self.embed_images(candidate_images, level=level))
        k = positive_int(k, "DINA.retrieve: k")
        if k > len(z_i):
            raise DinaError(f"DINA.retrieve: k: expected at most the {len(z_i)} candidate images, found {k}")
        similarity, indices = (z_r @ z_i.T).topk(k, dim=1)
        return Retrieval(indices.numpy().astype(np.int64), similarity.numpy())

    def attribute(self, images, responses, *, behavior=None, method: str = "integrated_gradients",
                  level: str | None = None, **options) -> np.ndarray:
        """Which pixels drive each pair's match: Captum attribution of the image -> similarity function.

        Args:
            images: (n, H, W) raw grey-level images; responses: (n, n_neurons) raw responses, paired row by row
                (behavior: (n, k) when the run corrects for it).
            method: 'integrated_gradients', 'saliency', 'gradient_shap', 'occlusion' or 'grad_cam'.
            level: the level whose similarity is explained (None: the combined retrieval score).
            **options: the other options of :func:`dina_core.interpret.attribution.spatial_attribution`
                (``baseline``, ``n_steps``, ``target``, ...).

        Returns:
            (n, H, W) float32 attributions in similarity units per pixel (an ensemble: its first member's).
        """
        from ..interpret.attribution import spatial_attribution
        z = responses_tensor(self._run(), responses, behavior, "DINA.attribute")
        x = images_tensor(self._run(), images, "DINA.attribute")
        if len(x) != len(z):
            raise DinaError(f"DINA.attribute: expected one response per image, found {len(x)} images and "
                            f"{len(z)} responses")
        self._check_level(level)
        return spatial_attribution(interpreted_model(self._run(), "DINA.attribute", dina_only=False), x, z, method,
                                   stage=level, **options)

    def _check_level(self, level: str | None) -> None:
        levels = self._run().model.levels
        if level is not None and level not in levels:
            raise DinaError(f"level {level!r}: expected one of {', '.join(levels)} (or None: combined)")

    # --- persistence -----------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the run folder (``model.pt``, ``run.json``; a joint model's ``runs.joint`` folder) that ``dina
        evaluate`` and DINA Studio read. Refuses a folder holding another run or other files unless ``overwrite``
        (a finished run only)."""
        from .fitting import save_folder
        return save_folder(self.joint_ if hasattr(self, "joint_") else self._run(), folder, overwrite)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, device: str = "cpu") -> "DINA":
        """A fitted estimator from a run folder (or its ``model.pt``; a joint run's folder), loaded weights-only."""
        from ..runs.joint import is_joint_run, load_joint_run
        joint = load_joint_run(folder, device=device) if is_joint_run(folder) else None
        run = next(iter(joint.runs.values())) if joint else load_run(folder, device=device)
        estimator = cls(run.kind, ensemble=len(getattr(run.model, "members", ())) or 1,
                        **run.model_config, **run.train_config.to_dict())
        estimator._set_joint(joint) if joint else estimator._set_run(run)
        return estimator
