"""The DINA dataset: one HDF5 file per recording, and what every layer above needs from it.

Modules (import the one you need; this package imports nothing on its own):

* ``format``: :class:`DinaData` and the file layout; ``write_dataset`` (atomic).
* ``io``: ``read_dataset`` / ``dataset_summary`` / lazy image reads, validated, no handle kept open.
* ``validate``: the full check of a file behind ``io``: ``structure`` (attributes, ranks, dtypes,
  lengths), ``trials`` (indices, tiers, no test-image leakage), ``values`` and ``degenerate``.
* ``text``: UTF-8 decoding of text read from files, refusing bad bytes by file, field and row.
* ``hdf5_safety``: ``open_hdf5`` / ``check_self_contained``: every HDF5 read refuses external
  links and storage, virtual datasets and plugin filters.
* ``safe_pickle``: ``load_npy``: pickled ``.npy`` files (suite2p's ops/stat) read with only
  numpy and builtin types allowed, so a crafted pickle cannot run code.
* ``fingerprint``: a content hash stored in every run, so a model is scored on its own data.
* ``preprocess``: response and image normalisers fitted on the train tier.
* ``reliability``: oracle correlations and strong-responder statistics from test repeats.

Layer: the lowest package (only ``errors``, ``atomic`` and ``config`` sit below it).
"""
