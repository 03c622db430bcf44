"""Validate a recording in memory, then write it: what every importer calls instead of ``write_dataset``.

An import must never replace a good file with a bad one, nor leave half a file behind. So the
recording is checked *before* anything is written, with the same rules the file validator
applies on reading (``validate``), plus the degenerate recordings that would read fine but
give meaningless numbers (``degenerate``); then it is written to a temporary file, read back through
the full validator, and only then renamed over the output (``format.write_dataset``).

:func:`validate_data` is the one check of a recording in memory: importers (``write_checked``),
``io.read_dataset`` and training and scoring (``check_recording``) all go through it.

Refused (DatasetError naming the source): anything the file validator refuses, zero neurons,
neuron ids that repeat, positions that are not finite, and the degenerate recordings of
``degenerate`` (all-identical images, every neuron constant, copied test repeats, validation
trials copied from train trials). Flagged (a :class:`DinaWarning` naming the source, the file is
still written): a test tier of fewer than ``degenerate.SMALL_TEST_TIER`` images (evaluation itself
refuses N < 2), neurons whose response never varies, and a few copied trials.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from dina_core.data.degenerate import digest, judge
from dina_core.data.format import DinaData, write_dataset
from dina_core.data.trials import check_trials
from dina_core.data.validate import validate_dataset
from dina_core.data.values import check_finite, check_neurons
from dina_core.errors import DatasetError, DinaWarning


def _check_arrays(data: DinaData, source) -> None:
    images, responses = np.asarray(data.images), np.asarray(data.responses)
    if images.ndim != 3 or images.dtype.kind not in "fiu" or min(images.shape) == 0:
        raise DatasetError(source, "/stimuli/images", "a non-empty numeric stack (n_images, H, W)",
                           f"shape {images.shape}, type {images.dtype}")
    if responses.ndim != 2 or responses.dtype.kind not in "fiu":
        raise DatasetError(source, "/trials/responses", "a numeric array (n_trials, n_neurons)",
                           f"shape {responses.shape}, type {responses.dtype}")
    if responses.shape[1] == 0:
        raise DatasetError(source, "/trials/responses", "at least one neuron", "none (0 columns)")
    per_trial = {"/trials/image_index": data.image_index, "/trials/tier": data.tiers,
                 "/trials/behavior": data.behavior, **{f"/trials/extra/{k}": v for k, v in data.extra.items()}}
    lengths = [(name, data.n_trials, "trial", v) for name, v in per_trial.items()]
    lengths += [(f"/neurons/{k}", data.n_neurons, "neuron", v) for k, v in data.neurons.items()]
    lengths.append(("/stimuli/source", data.n_images, "image", data.image_source))
    for name, n, per, values in lengths:
        if values is not None and (np.ndim(values) == 0 or len(values) != n):
            raise DatasetError(source, name, f"{n} rows, one per {per}", f"shape {np.shape(values)}")


def validate_data(data: DinaData, source: str | os.PathLike) -> list[str]:
    """Check a recording before it is written (rules in the module docstring).

    Args:
        data: the recording in memory.
        source: the file or folder it was read from, named in every message.

    Returns:
        Flags: one sentence per degenerate but writable property (small test tier, neurons
        that never vary, a few copied trials); empty for an ordinary recording.

    Raises:
        DatasetError: naming ``source`` and the DINA field at fault.
    """
    _check_arrays(data, source)
    check_trials(source, np.asarray(data.image_index), np.asarray(data.tiers), data.n_images)
    check_finite(source, "/stimuli/images", data.images)
    check_finite(source, "/trials/responses", data.responses)
    check_neurons(source, data.neurons)
    return judge(source, digest(np.asarray(data.images), np.asarray(data.responses)), data.image_index, data.tiers)


def check_recording(data: DinaData, source: str | os.PathLike | None = None) -> None:
    """Refuse a recording given in memory that a DINA file could not hold, and warn of its flags (:func:`validate_data`).

    Training and scoring call it, so a ``DinaData`` built in a notebook meets the rules a file read from disk
    meets (``io.read_dataset``): test images shown on train trials, identical images, NaN/Inf, unknown tiers,
    copied trials.

    Args:
        data: the recording.
        source: how to name it (default: its ``name`` attribute, else "the recording in memory").
    """
    source = source or data.attrs.get("name") or "the recording in memory"
    for flag in validate_data(data, source):
        warnings.warn(f"{source}: {flag}", DinaWarning, stacklevel=3)


def write_checked(path: str | os.PathLike, data: DinaData, source: str | os.PathLike) -> Path:
    """Validate ``data`` in memory, write it atomically, read it back, then replace ``path``.

    Flags from :func:`validate_data` are issued as :class:`DinaWarning`, naming ``source``.

    Returns:
        ``path`` as a Path.

    Raises:
        DatasetError: naming ``source``; ``path`` is then left exactly as it was (or absent).
    """
    flags = validate_data(data, source)
    path = write_dataset(path, data, verify=validate_dataset)
    for flag in flags:
        warnings.warn(f"{source}: {flag}", DinaWarning, stacklevel=2)
    return path
