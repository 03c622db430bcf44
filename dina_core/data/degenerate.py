"""Recordings that read fine but cannot give the numbers asked of them: the content rules of every path.

A well-formed recording can still make a score meaningless. The rules are judged on a :class:`Digest` of the
two big arrays, computed in blocks of rows from a numpy array or an h5py dataset alike, so the file validator
(``validate.validate_file``, which never holds a whole array) and the in-memory one (``checked.validate_data``:
importers, ``io.read_dataset``, training and scoring) judge exactly the same thing.

Refused (:class:`~dina_core.errors.DatasetError`):

* images that are all identical: every retrieval would be chance by construction;
* responses where every neuron is constant over all trials: nothing to align the images with;
* test repeats that are exact copies of one another, for at least :data:`COPIED_SHARE` of the repeated test
  images: the noise ceiling (how well repeats agree) would read 1.000, measuring the copy;
* validation trials that copy a train trial of the same image exactly, for at least :data:`COPIED_SHARE` of
  the validation trials: validation top-1, which early-stops training and picks DINA Studio's default
  model, would measure memory of the train trials.

Flagged (sentences returned to the caller, which warns): a test tier of fewer than :data:`SMALL_TEST_TIER`
images, some constant neurons, and copies below the share.

Rows are compared exactly (as float32 bits) through a 128-bit BLAKE2 hash of each row. A row counts as a copy
only when it occurs for one image alone: a small population of spike counts gives identical rows by chance
(all zero, one spike), and those occur across images too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from dina_core.data.values import few
from dina_core.errors import DatasetError

SMALL_TEST_TIER = 10  # test images below which an N-way score is flagged as coarse
COPIED_SHARE = 0.05  # copied trials (or repeated test images) from which a tier's score measures the copying
_BLOCK_ELEMENTS = 1 << 22  # rows read (and converted to float32) at a time: ~16 MB


@dataclass(frozen=True)
class Digest:
    """What the rules need of the big arrays.

    Attributes:
        image_rows: (n_images,) V16 hash of each image's pixels (as float32).
        response_rows: (n_trials,) V16 hash of each trial's responses (as float32).
        neuron_range: (n_neurons,) float64 max - min of each neuron over all trials.
    """

    image_rows: np.ndarray
    response_rows: np.ndarray
    neuron_range: np.ndarray


def _blocks(array):
    """(rows, ...) float32 blocks of a numpy array or h5py dataset, first axis first."""
    step = max(1, _BLOCK_ELEMENTS // max(1, int(np.prod(array.shape[1:]))))
    for start in range(0, array.shape[0], step):
        block = np.ascontiguousarray(array[start:start + step], dtype=np.float32)
        yield block.reshape(len(block), -1)


def _hashes(block: np.ndarray) -> np.ndarray:
    return np.frombuffer(b"".join(hashlib.blake2b(row, digest_size=16).digest() for row in block), dtype="V16")


def digest(images, responses) -> Digest:
    """Hash every image and trial and take each neuron's range, one block of rows at a time.

    Args:
        images: (n_images, H, W) numpy array or h5py dataset.
        responses: (n_trials, n_neurons) numpy array or h5py dataset.
    """
    image_rows = [_hashes(block) for block in _blocks(images)]
    response_rows, low, high = [], np.full(responses.shape[1], np.inf), np.full(responses.shape[1], -np.inf)
    for block in _blocks(responses):
        response_rows.append(_hashes(block))
        low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
    return Digest(np.concatenate(image_rows or [np.empty(0, "V16")]),
                  np.concatenate(response_rows or [np.empty(0, "V16")]), np.maximum(high - low, 0.0))


def _same_image_rows(rows: np.ndarray, image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per trial: an id of (its image, its response row), and whether that row occurs for this image alone."""
    row_id = np.unique(rows, return_inverse=True)[1].ravel().astype(np.int64)
    pair = row_id * (int(image_index.max()) + 1) + image_index
    distinct = np.unique(pair)
    images_per_row = np.bincount(distinct // (int(image_index.max()) + 1), minlength=row_id.max() + 1)
    return pair, images_per_row[row_id] == 1


def _copied(source, d: Digest, image_index: np.ndarray, tiers: np.ndarray) -> list[str]:
    """Refuse (or flag) test repeats that copy one another and validation trials that copy train trials."""
    flags = []
    pair, specific = _same_image_rows(d.response_rows, image_index)
    test = tiers == "test"
    images, counts = np.unique(image_index[test], return_counts=True)
    repeated = images[counts > 1]
    _, inverse, n_same = np.unique(pair[test], return_inverse=True, return_counts=True)
    copied = np.unique(image_index[test][(n_same[inverse.ravel()] > 1) & specific[test]])
    if copied.size:
        found = (f"the repeats of {copied.size} of the {repeated.size} repeated test images are exact copies of "
                 f"one another (images {few(copied, 3)})")
        if copied.size >= COPIED_SHARE * repeated.size:
            raise DatasetError(source, "/trials/responses", "test repeats that are separate recordings (each "
                               "presentation's own response)", f"{found}: the noise ceiling would read 1.000, measuring the copy")
        flags.append(f"{found}: their agreement inflates the noise ceiling")
    validation = np.flatnonzero(tiers == "validation")
    copies = validation[np.isin(pair[validation], pair[tiers == "train"]) & specific[validation]]
    if copies.size:
        found = (f"{copies.size} of {validation.size} validation trials are exact copies of a train trial of the "
                 f"same image (trials {few(copies, 3)})")
        if copies.size >= COPIED_SHARE * validation.size:
            raise DatasetError(source, "/trials/responses", "validation trials recorded on their own, not copied "
                               "from train trials",
                               f"{found}: validation top-1 would measure memory of train trials, and it picks the "
                               "default model")
        flags.append(f"{found}: they inflate validation top-1")
    return flags


def judge(source, d: Digest, image_index: np.ndarray, tiers: np.ndarray) -> list[str]:
    """Apply the rules of the module docstring to a recording whose structure and trials are already checked.

    Args:
        source: the file or source, named in messages.
        d: the recording's :func:`digest`.
        image_index: (n_trials,) int image row per trial.
        tiers: (n_trials,) str tier per trial.

    Returns:
        Flags: one sentence per degenerate but usable property; empty for an ordinary recording.

    Raises:
        DatasetError: naming ``source``, the field, what was expected and what was found.
    """
    image_index, tiers = np.asarray(image_index, dtype=np.int64), np.asarray(tiers)
    n_images, n_neurons = d.image_rows.size, d.neuron_range.size
    if n_images > 1 and (d.image_rows == d.image_rows[0]).all():
        raise DatasetError(source, "/stimuli/images", "images that differ from one another",
                           f"{n_images} identical images: every retrieval would be chance")
    flat = np.flatnonzero(d.neuron_range == 0)
    if flat.size == n_neurons:
        raise DatasetError(source, "/trials/responses", "responses that vary from trial to trial",
                           f"all {n_neurons} neurons give the same response on every trial: nothing to align the "
                           "images with, every retrieval would be chance")
    flags = []
    n_test = np.unique(image_index[tiers == "test"]).size
    if n_test < SMALL_TEST_TIER:
        flags.append(f"the test tier shows only {n_test} image(s): its N-way scores (chance 1/{n_test}) are "
                     f"coarse{'; evaluation refuses N < 2' if n_test < 2 else ''}")
    if flat.size:
        flags.append(f"{flat.size} of {n_neurons} neurons give the same response on every trial "
                     f"(neurons {few(flat, 3)}): they carry no information")
    return flags + _copied(source, d, image_index, tiers)
