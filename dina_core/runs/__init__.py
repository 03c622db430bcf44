"""Runs: a trained model with everything needed to apply it, and its folder on disk.

Modules (import the one you need; this package imports nothing on its own):

* ``run``: :class:`Run` (model, configs, preprocessing, history, metadata), ``save_run`` /
  ``load_run`` (weights-only), ``check_compatible`` (can this recording be fed to this run?).
* ``data_check``: ``check_same_data`` (was the run trained on this recording? every score asks).
* ``checkpoint``: atomic ``torch.save`` and the weights-only, format-checked load.
* ``prepare``: :class:`Preprocessing` (train-fitted normalisation and neuron subset) and
  :class:`PreparedData` (a recording normalised and resident on the model's device).
* ``config``: :class:`TrainConfig`; it lives here because every run carries the one it was trained with.
* ``folder``: what a training may write over (``check_target``) and what a resume must match.
* ``lock``: ``run_lock``, one writer per run folder.
* ``summary``: ``run.json`` checked field by field, a quick look at ``model.pt`` (listings; no torch).
* ``names``: ``check_run_name``, a new run's folder name in DINA Studio.

Layer: above ``model`` and ``data``; ``evaluate``, ``train`` and ``interpret`` consume runs.
"""
