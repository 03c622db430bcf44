"""Interpretability of trained DINA models: what aligns, where, and with which neurons.

Modules (import the one you need; this package imports nothing heavy on its own):

* ``alignment``: per-location alignment maps and alignability (each channel's and location's share of the true pair's similarity,
  contrasted against mismatched pairs).
* ``attribution``: Captum attributions of a pair's similarity (or retrieval margin) to
  image pixels and to neurons, with the model in eval mode and no hooks left behind.
* ``forwards``: the similarity and margin functions those attributions explain, and
  ``hooks_removed``, the guard that deletes any hook a call leaves.
* ``regions``: connected regions of a 2-D map above a documented threshold.
* ``ground_truth``: on simulated data, do attribution peaks fall inside the receptive
  fields of the neurons that the image drives most?
* ``analyses``: the named analyses (neuron rankings, pruning curves, interactions, stage
  maps, ground-truth checks) with one key vocabulary, shared by the CLI and the app.
* ``analyze``: ``dina analyze``'s JSON summary, a composition of those analyses.

Every function takes tensors as produced by ``Run.prepare`` and returns numpy arrays
with the shapes stated in its docstring.
"""
