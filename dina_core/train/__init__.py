"""Training: InfoNCE over feature maps, the loop, and a run folder out.

Modules (import the one you need; this package imports nothing on its own):

* ``loss``: InfoNCE with a learnable temperature, per aligned level.
* ``loop``: ``fit`` (AdamW, warm-up + cosine, early stopping, resumable state), reporting
  through ``on_step`` so the CLI and the app drive their own progress displays.
* ``validation``: the early-stopping score (single-trial neural -> image top-1 on validation).
* ``distributed``: data-parallel training under ``torchrun``.
* ``augment``: shift augmentation of the training images.
* ``linear_level``: DINA's linear level, fitted first as the linear two-tower and frozen.
* ``level_weights``: the retrieval weight of each level, chosen on validation after training.
* ``ensemble``: seed ensembles saved as one run.
* ``run``: ``train_run``: fit preprocessing, build, train and save a :class:`~dina_core.runs.run.Run`.

Layer: above ``evaluate`` and ``runs``; only ``interpret``, ``benchmark`` and the entry points sit above.
"""
