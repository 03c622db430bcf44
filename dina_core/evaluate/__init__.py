"""Evaluation: N-way retrieval tasks and their scores, for any dot-product model.

Modules (import the one you need; this package imports nothing on its own):

* ``retrieval``: chunked target ranks with pessimistic ties, top-k scores, bootstrap intervals.
* ``queries``: N-way tasks built honestly from a test tier (distinct images, repeat sets,
  averaged responses) and ``evaluate_retrieval`` (both directions, single-trial and averaged).
* ``model_eval``: a run's test-tier retrieval, combined and per aligned level.
* ``ridge``: the ridge-regression identification baseline.

Layer: above ``runs``; ``train`` (early stopping) and ``interpret`` use it.
"""
