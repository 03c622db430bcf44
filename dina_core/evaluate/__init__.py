"""Evaluation: N-way retrieval tasks and their scores, for any dot-product model.

Modules (import the one you need; this package imports nothing on its own):

* ``retrieval``: chunked target ranks with pessimistic ties, top-k scores, bootstrap intervals.
* ``repeats``: a tier's distinct images as candidate columns, repeat averages and repeat sets.
* ``tasks``: the one home of every N-way task built from a tier (its trials, the distinct
  images as candidates, targets, averaged responses, repeat sets; both directions,
  single-trial and averaged), of its ranks, and ``evaluate_retrieval`` for any dot-product model.
* ``model_eval``: a run's test-tier embeddings and retrieval, combined and per aligned level.
* ``encoding_data``, ``encoding_predict``, ``encoding``, ``encoding_scores``: the encoding-model baseline's
  data (scaled for the Poisson loss), predictions, fitting (early-stopped) and identification scores.
* ``ridge``: the ridge-regression identification baseline.
* ``chance``: does a run's validation top-1 beat chance by a clear margin (3x chance and binomial p < 0.001)?

Layer: above ``runs``; ``train`` (early stopping) and ``interpret`` use it.
"""
