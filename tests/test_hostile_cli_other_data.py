"""Scoring other data: refused unless ``--allow-other-data``, which the output and the JSON then record.

A run's own recording is recognised by its content fingerprint, which covers the tiers: a copy with
validation and test swapped is other data, with or without the simulator's provenance. The good files
(``good_files``: a tiny recording, a run on it, another session, the relabelled copy) never change.
"""

from __future__ import annotations

import dataclasses
import json

from dina_core.cli import main
from dina_core.data.fingerprint import data_fingerprint, recording_identity, recording_matches
from hostile import untouched


def test_other_data_is_scored_only_when_allowed_and_the_output_says_so(good_files, tmp_path, capsys):
    out = tmp_path / "other.json"
    with untouched(good_files.root):
        argv = ["evaluate", good_files.run, "--data", good_files.other, "--allow-other-data", "--json", str(out)]
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "warning: scored on OTHER data" in printed and "top-1" in printed
    check = json.loads(out.read_text())["data_check"]
    assert check == {**check, "same_data": False, "allowed": True, "matched_by": None,
                     "data_fingerprint": recording_identity(_read(good_files.other))["data_fingerprint"]}
    assert check["run_fingerprint"] != check["data_fingerprint"]


def test_the_runs_own_recording_is_scored_and_recorded_as_the_same_data(good_files, tmp_path, capsys):
    out = tmp_path / "same.json"
    assert main(["evaluate", good_files.run, "--json", str(out)]) == 0  # the data file the run recorded
    assert "OTHER data" not in capsys.readouterr().out
    check = json.loads(out.read_text())["data_check"]
    assert check["same_data"] and check["allowed"] and check["matched_by"] == "content"
    assert check["run_fingerprint"] == check["data_fingerprint"]


def _read(path: str):
    from dina_core.data.io import read_dataset
    return read_dataset(path)


def test_the_fingerprint_covers_tiers_also_without_simulator_provenance(good_files):
    """A lab recording (no provenance) whose tiers are relabelled is other data: the content hash sees tiers."""
    data = _read(good_files.data)
    lab = dataclasses.replace(data, attrs={**data.attrs, "source": "suite2p import"})
    relabelled = dataclasses.replace(lab, tiers=_read(good_files.relabelled).tiers)
    assert data_fingerprint(relabelled) != data_fingerprint(lab)
    assert not recording_matches(recording_identity(lab), recording_identity(relabelled))
    assert recording_matches(recording_identity(lab), recording_identity(dataclasses.replace(lab)))
