"""Runs: a trained model with everything needed to apply it, and its folder on disk.

Modules (import the one you need; this package imports nothing on its own):

* ``run``: :class:`Run` (model, configs, preprocessing, history, metadata), ``save_run`` /
  ``load_run`` (weights-only), ``check_compatible`` (can this recording be fed to this run?).
* ``data_check``: ``check_same_data`` (was the run trained on this recording? every score asks).
* ``checkpoint``: atomic ``torch.save`` and the weights-only, format-checked load.
* ``prepare``: :class:`Preprocessing` (train-fitted normalisation and neuron subset) and
  :class:`PreparedData` (a recording normalised and resident on the model's device).
* ``config``: :class:`TrainConfig`; it lives here because every run carries the one it was trained with.

Layer: above ``model`` and ``data``; ``evaluate``, ``train`` and ``interpret`` consume runs.
"""
