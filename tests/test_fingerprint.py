"""Which runs belong to which recording: strict content for lab data, provenance for simulator output."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from dina_core.data.fingerprint import provenance_fingerprint, recording_identity, recording_matches
from dina_core.data.io import read_dataset
from dina_core.demo import ensure_demo_dataset
from dina_core.runs.run import load_run
from dina_core.simulate import SimConfig, simulate_recording

ROOT = Path(__file__).resolve().parents[1]


def test_a_freshly_simulated_demo_recording_is_accepted_by_the_shipped_run(tmp_path):
    shipped = load_run(ROOT / "assets" / "demo_run")
    demo = read_dataset(ensure_demo_dataset(tmp_path))  # written and read back, as the app does
    assert recording_matches(shipped.metadata, recording_identity(demo))


def test_another_blas_kernel_changes_the_content_hash_not_the_provenance():
    """The simulator's floats depend on the CPU's BLAS kernel; its provenance does not."""
    script = ("import json; from dina_core.simulate import SimConfig, simulate_recording; "
              "from dina_core.data.fingerprint import recording_identity; "
              "print(json.dumps(recording_identity(simulate_recording(SimConfig.small(seed=3)))))")
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    other = json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                      text=True, check=True, cwd=ROOT).stdout)
    here = recording_identity(simulate_recording(SimConfig.small(seed=3)))
    assert other["data_provenance"] == here["data_provenance"]
    assert recording_matches({"data_fingerprint": other["data_fingerprint"],
                              "data_provenance": other["data_provenance"]}, here)


def test_relabelled_tiers_another_seed_or_lab_data_do_not_match(small_data):
    run_meta = recording_identity(small_data)
    relabelled = dataclasses.replace(small_data, tiers=np.where(small_data.tiers == "test", "train",
                                                                small_data.tiers))
    assert not recording_matches(run_meta, recording_identity(relabelled))
    other_seed = simulate_recording(SimConfig.small(seed=1))
    assert not recording_matches(run_meta, recording_identity(other_seed))
    lab = dataclasses.replace(small_data, attrs={**small_data.attrs, "source": "suite2p import"})
    assert provenance_fingerprint(lab) is None
    assert recording_identity(lab) == {"data_fingerprint": run_meta["data_fingerprint"]}
    changed = dataclasses.replace(lab, responses=small_data.responses + 1)
    assert not recording_matches(recording_identity(lab), recording_identity(changed))
