"""Trust, round two (issue 21), a full disk: every write says so in one line, keeps the earlier file, leaves nothing.

``dina import``, ``dina simulate`` and ``dina train`` run in a subprocess whose file size limit
(``RLIMIT_FSIZE``, with SIGXFSZ ignored, as a shell's ``ulimit -f`` does) is below the file they write,
so the write fails with EFBIG as it would with ENOSPC on a full disk. Before, h5py printed tracebacks
and the process crashed (exit 139) leaving a partial ``.tmp``, and ``torch.save`` ended in "internal
error: RuntimeError". Now: ``error: OUT: the disk is full (...); nothing was written, the earlier file is
unchanged``, exit 2, and the folder is byte-identical to before (:func:`hostile.untouched`).
"""

from __future__ import annotations

import errno
import io
import json
import resource
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from dina_core.atomic import atomic_path, disk_full_reason, temp_files
from dina_core.data.format import write_dataset
from dina_core.errors import DiskFullError
from dina_core.runs.checkpoint import atomic_save
from dina_core.simulate import SimConfig, simulate_recording
from hostile import untouched
from trust_sources import pristine, quiet  # noqa: F401  (fixtures)

TINY = SimConfig.small(n_neurons=40, n_train_images=48, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)
TINY_MODEL = {"model": {"stage_channels": [4, 8, 8], "trunk_dim": 32, "linear_dim": 16, "global_dim": 16}}


def _limited(limit: int):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited across exec: the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def dina_with_file_limit(limit: int, *argv: str, cwd) -> subprocess.CompletedProcess:
    """``dina argv`` in a process that may not write a file larger than ``limit`` bytes."""
    return subprocess.run([sys.executable, "-m", "dina_core.cli", "--progress", "none", *argv], cwd=cwd,
                          preexec_fn=_limited(limit), capture_output=True, text=True, timeout=300)


def assert_disk_full(result: subprocess.CompletedProcess, out, earlier: bool) -> None:
    err = "".join(line for line in result.stderr.splitlines(keepends=True) if not line.startswith("warning:"))
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert err.startswith(f"error: {out}: the disk is full (") and err.count("\n") == 1, err
    assert "nothing was written" in err and ("the earlier file is unchanged" in err) == earlier, err
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, pristine):  # noqa: F811
    """A folder with an earlier recording, a Sensorium source and a finished tiny run: what a failed write keeps."""
    from dina_core.runs.config import TrainConfig
    from dina_core.train.run import train_run
    root = tmp_path_factory.mktemp("earlier")
    data = simulate_recording(TINY)
    write_dataset(root / "recording.h5", data)
    (root / "tiny.json").write_text(json.dumps(TINY_MODEL))
    quiet(train_run, data, root / "run", model_config=TINY_MODEL["model"],
          train_config=TrainConfig(epochs=1, batch_size=16, device="cpu"))
    shutil.copytree(pristine[0], root / "static")
    return root


@pytest.fixture()
def folder(earlier, tmp_path):
    return shutil.copytree(earlier, tmp_path / "work")


def _size(path) -> int:
    return path.stat().st_size


CASES = {  # name: (argv, the file the error names, its size limit as a function of the folder)
    "simulate_over_a_recording": (["simulate", "recording.h5", "--size", "small", "--overwrite"], "recording.h5",
                                  lambda f: _size(f / "recording.h5") // 2),
    "simulate_a_new_recording": (["simulate", "new.h5", "--size", "small"], "new.h5",
                                 lambda f: _size(f / "recording.h5") // 2),
    "import_over_a_recording": (["import", "sensorium", "static", "recording.h5", "--overwrite"], "recording.h5",
                                lambda f: 4096),
    "train_over_a_run": (["train", "recording.h5", "--out", "run", "--overwrite", "--config", "tiny.json",
                          "--epochs", "1", "--batch-size", "16", "--device", "cpu"], "run/state.pt",
                         lambda f: _size(f / "run" / "model.pt") // 2),
}


@pytest.mark.parametrize("case", CASES)
def test_a_full_disk_is_one_line_and_keeps_the_earlier_file(case, folder):
    argv, named, limit = CASES[case]
    with untouched(folder):
        result = dina_with_file_limit(limit(folder), *argv, cwd=folder)
    assert_disk_full(result, named, earlier=(folder / named).exists())
    assert not temp_files(folder) and not temp_files(folder / "run")


def test_raw_traces_that_cannot_fit_are_refused_before_any_work(folder):
    with untouched(folder):
        result = dina_with_file_limit(2**20, "simulate", "traced.h5", "--size", "small", "--traces", "raw",
                                      cwd=folder)
    assert_disk_full(result, "raw", earlier=False)
    assert "raw traces of 200 neurons" in result.stderr and "files are limited to 1 MB" in result.stderr


def test_a_full_disk_mid_write_of_the_traces_keeps_no_partial_file(folder, monkeypatch):
    """Past the check (the disk filled meanwhile): each file of the traces is written whole or not at all."""
    from dina_core.simulate import trace_writers
    monkeypatch.setattr(trace_writers, "check_disk", lambda *args: None)
    monkeypatch.setattr(np, "save", _fails_after(2, np.save))  # images.npy and F.npy are written, Fneu.npy fails
    data = simulate_recording(TINY)
    with pytest.raises(DiskFullError, match="Fneu.npy: the disk is full"):
        trace_writers.write_trace_recording(data, folder / "raw", nwb=False)
    plane = folder / "raw" / "suite2p" / "plane0"
    assert sorted(p.name for p in plane.iterdir()) == ["F.npy"] and not temp_files(plane)


def _fails_after(n: int, save):
    calls = []

    def failing(file, values, **kwargs):
        calls.append(1)
        if len(calls) > n:
            file.write(b"\x93NUMPY partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(file, values, **kwargs)
    return failing


# --- What counts as a full disk, from each library that writes ------------------------------------------------

H5PY_MESSAGE = ("Can't decrement id ref count (file write failed: time = Thu Dec  3 16:04:20 2026\n, filename = "
                "'/x/.a.h5.tmp-1-abc', file descriptor = 3, errno = 28, error message = 'No space left on device')")


@pytest.mark.parametrize("exc,reason", [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),
    (OSError(errno.EFBIG, "File too large"), "file too large: a file size limit was reached"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded"),
    (RuntimeError(H5PY_MESSAGE), "no space left on device"),
    (RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file "
                  "data/0: file write failed"), "the file write failed"),
    (OSError(errno.EACCES, "Permission denied"), None),
    (RuntimeError("CUDA out of memory"), None),
])
def test_disk_full_reasons(exc, reason):
    assert disk_full_reason(exc) == reason


@pytest.mark.parametrize("earlier", [True, False])
def test_atomic_path_says_disk_full_and_keeps_the_earlier_file(tmp_path, earlier):
    target = tmp_path / "out.h5"
    if earlier:
        target.write_bytes(b"the earlier file")
    with untouched(tmp_path), pytest.raises(DiskFullError) as info:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a fi")
            raise RuntimeError(H5PY_MESSAGE)
    assert str(info.value) == (f"{target}: the disk is full (no space left on device); nothing was written"
                               + (", the earlier file is unchanged" if earlier else ""))


def test_hdf5_files_and_checkpoints_are_built_in_memory(tmp_path, monkeypatch):
    """Neither h5py nor torch ever writes the disk themselves: a failure there would be theirs to report."""
    opened = []
    real_file = h5py.File

    def recording_file(name, *args, **kwargs):
        opened.append(name)
        return real_file(name, *args, **kwargs)
    monkeypatch.setattr(h5py, "File", recording_file)
    write_dataset(tmp_path / "r.h5", simulate_recording(TINY))
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, **kw: (opened.append(f), real_save(obj, f, **kw)))
    atomic_save({"a": torch.zeros(3)}, tmp_path / "m.pt")
    assert opened and all(isinstance(f, io.BytesIO) for f in opened), opened
    assert torch.load(tmp_path / "m.pt", weights_only=True)["a"].shape == (3,)


def test_an_upload_unpacked_onto_a_full_disk_leaves_no_partial_folder(tmp_path):
    import zipfile
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    upload = data / "uploads" / "session.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("suite2p/plane0/F.npy", np.random.default_rng(0).bytes(200_000))
    code = ("import sys; from pathlib import Path; from dina_app import sources; from dina_core.errors import DinaError\n"
            "try:\n    sources.extract_zip(Path(sys.argv[1]), Path(sys.argv[2]))\n"
            "except DinaError as exc:\n    print(exc); sys.exit(2)\n")
    with untouched(data):
        result = subprocess.run([sys.executable, "-c", code, str(upload), str(data)], preexec_fn=_limited(100_000),
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == f"{data / 'uploads' / 'session'}: the disk is full (file too large: a file size " \
                                    "limit was reached); nothing was written", result.stdout
