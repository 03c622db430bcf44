"""Which recording is this? Stored in every run, so a model is only scored on the data it was trained on.

Two identities:

* :func:`data_fingerprint`, a hash of the content (images, responses, image indices, tiers): strict,
  for every recording a lab brings.
* :func:`provenance_fingerprint`, for simulator output only: a hash of the simulator version and
  config plus the integer content (image indices, tiers, shapes). The simulator's float arrays go
  through BLAS and SIMD maths whose last bits depend on the CPU (the same config gives another
  content hash under another OpenBLAS kernel), so the demo recording simulated on a fresh machine
  is recognised by how it was made. Relabelled tiers or another schedule still change it.

:func:`recording_matches` is the one rule that decides whether a run belongs to a recording.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .format import DinaData

SIMULATOR_SOURCE_PREFIX = "DINA simulator v"  # attrs['source'] of simulated recordings


def _hash_arrays(h, arrays) -> None:
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(str((array.shape, array.dtype.str)).encode())
        h.update(array.tobytes())


def data_fingerprint(data: DinaData) -> str:
    """SHA-256 (first 16 hex digits) over images, responses, image indices and tiers."""
    h = hashlib.sha256()
    _hash_arrays(h, (data.images, data.responses, data.image_index))
    h.update("\n".join(map(str, data.tiers)).encode())
    return h.hexdigest()[:16]


def provenance_fingerprint(data: DinaData) -> str | None:
    """For a simulated recording, a hash of how it was made; None for any other recording.

    Covers ``attrs['source']`` (simulator version and seed), ``attrs['simulator_config']``, the
    image and response array shapes, the image indices and the tiers.
    """
    source = str(data.attrs.get("source", ""))
    config = data.attrs.get("simulator_config")
    if not source.startswith(SIMULATOR_SOURCE_PREFIX) or not isinstance(config, dict):
        return None
    h = hashlib.sha256()
    h.update(json.dumps({"source": source, "config": config}, sort_keys=True).encode())
    h.update(str((np.shape(data.images), np.shape(data.responses))).encode())
    _hash_arrays(h, (np.asarray(data.image_index, dtype=np.int64),))
    h.update("\n".join(map(str, data.tiers)).encode())
    return "sim-" + h.hexdigest()[:16]


def recording_identity(data: DinaData) -> dict[str, str]:
    """The metadata entries a run stores about its recording (``data_fingerprint``, maybe ``data_provenance``)."""
    identity = {"data_fingerprint": data_fingerprint(data)}
    provenance = provenance_fingerprint(data)
    if provenance is not None:
        identity["data_provenance"] = provenance
    return identity


def recording_matches(run_metadata: dict, identity: dict[str, str]) -> bool:
    """True when a run (its metadata) was trained on the recording with ``identity`` (:func:`recording_identity`).

    The content fingerprints agree, or both are simulator output made the same way.
    """
    if run_metadata.get("data_fingerprint") == identity.get("data_fingerprint"):
        return True
    provenance = identity.get("data_provenance")
    return provenance is not None and run_metadata.get("data_provenance") == provenance
