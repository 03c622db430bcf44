"""The DINA dataset: one HDF5 file per recording, and what every layer above needs from it.

Modules (import the one you need; this package imports nothing on its own):

* ``format``: :class:`DinaData` and the file layout; ``write_dataset`` (atomic).
* ``io``: ``read_dataset`` / ``dataset_summary`` / lazy image reads, validated, no handle kept open.
* ``validate``: the structural and trial-table checks behind ``io``.
* ``fingerprint``: a content hash stored in every run, so a model is scored on its own data.
* ``preprocess``: response and image normalisers fitted on the train tier.
* ``reliability``: oracle correlations and strong-responder statistics from test repeats.

Layer: the lowest package (only ``errors``, ``atomic`` and ``config`` sit below it).
"""
