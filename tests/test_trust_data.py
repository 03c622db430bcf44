"""Recordings that cannot give the numbers asked of them are refused, or flagged, alike on every path in: an
importer's check (``validate_data`` through ``write_checked``), a file (``read_dataset``, ``validate_dataset``)
and a recording in memory (``check_recording``, which training and scoring call). Rules: ``data.degenerate``."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest

from dina_core.data.checked import check_recording, validate_data, write_checked
from dina_core.data.format import write_dataset
from dina_core.data.io import read_dataset, validate_dataset
from dina_core.errors import DatasetError, DinaWarning

PATHS = ["importer", "file read", "file check", "memory"]


def tampered(data, change):
    """A copy of ``data`` (never the shared fixture) with ``change`` applied to its arrays."""
    copy = dataclasses.replace(data, images=data.images.copy(), responses=data.responses.copy(),
                               image_index=data.image_index.copy())
    change(copy)
    return copy


def copy_test_repeats(data, n_images: int | None = None) -> None:
    """Every repeat of the first ``n_images`` test images (all: None) becomes a copy of its first repeat."""
    test = np.flatnonzero(data.tiers == "test")
    for image in np.unique(data.image_index[test])[:n_images]:
        trials = test[data.image_index[test] == image]
        data.responses[trials] = data.responses[trials[0]]


def copy_validation_from_train(data, n_trials: int | None = None) -> None:
    """The first ``n_trials`` validation trials (all: None) show a train trial's image with its very response row."""
    pairs = list(zip(np.flatnonzero(data.tiers == "validation"), np.flatnonzero(data.tiers == "train")))[:n_trials]
    for val, train in pairs:
        data.image_index[val], data.responses[val] = data.image_index[train], data.responses[train]


def identical_images(data) -> None:
    data.images[:] = data.images[0]


def constant_responses(data) -> None:
    data.responses[:] = 0.25


def constant_neurons(data) -> None:
    data.responses[:, [3, 7, 11]] = 1.0


REFUSED = {  # case: (tampering, field, what the message says)
    "identical images": (identical_images, "/stimuli/images", r"490 identical images: every retrieval would be chance"),
    "constant responses": (constant_responses, "/trials/responses",
                           r"all 200 neurons give the same response on every trial"),
    "copied test repeats": (copy_test_repeats, "/trials/responses",
                            r"30 of the 30 repeated test images are exact copies .* noise ceiling would read 1\.000"),
    "validation copied from train": (copy_validation_from_train, "/trials/responses",
                                     r"60 of 60 validation trials are exact copies of a train trial of the same image "
                                     r".*validation top-1 would measure memory of train trials"),
}
FLAGGED = {  # case: (tampering, what the warning says)
    "one copied test image": (lambda d: copy_test_repeats(d, 1),
                              r"1 of the 30 repeated test images are exact copies .*inflates the noise ceiling"),
    "two validation copies": (lambda d: copy_validation_from_train(d, 2),
                              r"2 of 60 validation trials are exact copies .*inflate validation top-1"),
    "some constant neurons": (constant_neurons, r"3 of 200 neurons give the same response on every trial \(neurons 3, 7, 11\)"),
}


def through(path: str, data, tmp_path):
    """Send ``data`` in by ``path``; returns (what it returned, the name its messages must start with)."""
    if path == "importer":
        return write_checked(tmp_path / "out.h5", data, "session1"), "session1"
    if path == "memory":
        return check_recording(data, "notebook"), "notebook"
    file = write_dataset(tmp_path / "d.h5", data)  # the unchecked writer: a file someone else made
    return (read_dataset if path == "file read" else validate_dataset)(file), str(file)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", REFUSED)
def test_a_recording_that_cannot_give_its_numbers_is_refused_on_every_path(small_data, tmp_path, case, path):
    change, field, found = REFUSED[case]
    data = tampered(small_data, change)
    with pytest.raises(DatasetError) as err:
        through(path, data, tmp_path)
    name = "session1" if path == "importer" else "notebook" if path == "memory" else str(tmp_path / "d.h5")
    assert str(err.value).startswith(f"{name}: field '{field}': expected ")
    assert re.search(found, str(err.value)), str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out.h5").exists()  # a refused import writes nothing


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", FLAGGED)
def test_a_degenerate_but_usable_recording_is_flagged_on_every_path(small_data, tmp_path, case, path):
    change, said = FLAGGED[case]
    data = tampered(small_data, change)
    if path == "file check":  # the file validator returns its flags: its callers decide whether to warn
        flags, _ = through(path, data, tmp_path)
        assert any(re.search(said, flag) for flag in flags), flags
        return
    with pytest.warns(DinaWarning) as caught:
        _, name = through(path, data, tmp_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, DinaWarning)]
    assert any(m.startswith(f"{name}: ") and re.search(said, m) for m in messages), messages


@pytest.mark.parametrize("path", PATHS)
def test_an_ordinary_recording_passes_every_path_without_a_warning(small_data, tmp_path, path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DinaWarning)
        returned, _ = through(path, small_data, tmp_path)
    assert returned in (None, [], tmp_path / "out.h5") or returned.n_trials == small_data.n_trials


def test_identical_rows_that_a_small_population_gives_by_chance_are_not_copies(small_data):
    """Three neurons of sparse spike counts repeat rows (all zero, one spike) across images: chance, not a copy."""
    rng = np.random.default_rng(1)
    data = dataclasses.replace(small_data, responses=rng.poisson(0.3, (small_data.n_trials, 3)).astype(np.float32),
                               neurons={})
    rows = {tuple(r) for r in data.responses}
    assert len(rows) < data.n_trials / 4  # rows repeat a lot
    assert validate_data(data, "spikes") == []


def test_a_copy_is_exact_a_row_one_float_step_away_is_not_one(small_data):
    data = tampered(small_data, copy_validation_from_train)
    val = np.flatnonzero(data.tiers == "validation")
    data.responses[val, 0] = np.nextafter(data.responses[val, 0], np.float32(np.inf))
    assert validate_data(data, "nudged") == []


def test_copied_test_repeats_would_indeed_read_a_perfect_noise_ceiling(small_data):
    """Why they are refused: repeats that agree exactly make the ceiling of a real recording read 1.000."""
    from dina_core.evaluate.ceiling import noise_ceiling

    test = small_data.tiers == "test"
    copied = tampered(small_data, copy_test_repeats)
    honest, perfect = (noise_ceiling(d.responses[test], d.image_index[test]) for d in (small_data, copied))
    assert all(row["top1"] == pytest.approx(1.0) for row in perfect)
    assert all(row["top1"] < 0.9 for row in honest)
