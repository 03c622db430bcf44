"""Helpers of the hostile-input tests (tests/test_hostile_*.py): what a bad input may and may not do.

Every hostile case asserts its outcome class (a clear error naming the file and field, a refusal, or
correct handling) *and* that it changed nothing it should not have: :func:`untouched` snapshots
folders before the case and compares every file's bytes, permissions and the set of names after it.
HDF5 files that reach outside themselves are made by :func:`plant`; broken ones by :func:`truncate`
and :func:`retype`. The good files a hostile command line must leave alone: :func:`good_cli_files`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np

# HDF5 objects whose data live outside the file or need a plugin, and the words of their refusal
KINDS = ["external_link", "external_storage", "virtual_dataset", "plugin_filter"]
REFUSAL = {"external_link": "external link to", "external_storage": "stored in external file",
           "virtual_dataset": "virtual dataset mapping", "plugin_filter": "filter 32001"}


def snapshot(*roots: str | os.PathLike) -> dict[str, tuple[str, int]]:
    """{path: (sha256 of the bytes or the link target, mode)} of every entry under ``roots`` (links not followed)."""
    state: dict[str, tuple[str, int]] = {}
    for root in map(Path, roots):
        if not root.exists() and not root.is_symlink():
            continue
        entries = [root] + sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else [root]
        for path in entries:
            info = path.lstat()
            if path.is_symlink():
                digest = "link:" + os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digest = "dir"
            state[str(path)] = (digest, info.st_mode)
    return state


def changes(before: dict, after: dict) -> list[str]:
    """Readable differences between two snapshots: added, removed and modified paths."""
    added = [f"added {p}" for p in sorted(set(after) - set(before))]
    removed = [f"removed {p}" for p in sorted(set(before) - set(after))]
    modified = [f"modified {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return added + removed + modified


@contextlib.contextmanager
def untouched(*roots: str | os.PathLike) -> Iterator[None]:
    """Assert that nothing under ``roots`` is added, removed or changed inside the block (even when it raises)."""
    before = snapshot(*roots)
    try:
        yield
    finally:
        diff = changes(before, snapshot(*roots))
        assert not diff, "a hostile input changed files it must not touch:\n" + "\n".join(diff)


def names_the_source(err: Exception, source: str | os.PathLike, field: str, words: tuple[str, ...] = ()) -> Exception:
    """Check that an import's error names its *source* file and field (never the output) and says ``words``."""
    assert str(source) in err.path and field in err.field, str(err)
    assert "recording.h5" not in str(err), "the error must name the source, not the output"
    for word in words:
        assert word in str(err), (word, str(err))
    return err


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail instead of hanging forever (a FIFO opened for reading blocks until a writer comes)."""
    def alarm(*_):
        raise AssertionError(f"the reader blocked for {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def plant(path: Path, name: str, kind: str, outside: Path) -> np.ndarray:
    """Replace dataset ``name`` of ``path`` by a ``kind`` one whose data come from ``outside``.

    Returns the values a plain read of the planted object would give (the outside data).
    """
    with h5py.File(path, "a") as f:
        like = f[name][()]
        attrs = dict(f[name].attrs)
        del f[name]
        secret = (like + 1000).astype(like.dtype)  # what lies outside: not the file's own values
        other = outside / f"other-{kind}.h5"
        with h5py.File(other, "w") as o:
            o["data"] = secret
        if kind == "external_link":
            f[name] = h5py.ExternalLink(str(other), "/data")
            return secret
        if kind == "external_storage":
            raw = outside / "server-file.bin"
            raw.write_bytes(secret.tobytes())
            ds = f.create_dataset(name, shape=like.shape, dtype=like.dtype,
                                  external=[(str(raw), 0, secret.nbytes)])
        elif kind == "virtual_dataset":
            layout = h5py.VirtualLayout(like.shape, like.dtype)
            layout[...] = h5py.VirtualSource(str(other), "data", like.shape)
            ds = f.create_virtual_dataset(name, layout)
        else:
            ds = f.create_dataset(name, data=like, chunks=like.shape, compression=32001,
                                  allow_unknown_filter=True)
            secret = like
        ds.attrs.update(attrs)
    return secret


def truncate(path: Path) -> None:
    """Keep the first half of the file's bytes."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def retype(name: str, values) -> Callable[[Path], None]:
    """A damage that replaces dataset ``name`` by ``values`` (another type or shape)."""
    def damage(path: Path) -> None:
        with h5py.File(path, "a") as f:
            del f[name]
            f[name] = values
    return damage


def good_cli_files(root: Path) -> SimpleNamespace:
    """Good files under ``root`` that no hostile command line may change: a tiny recording (``data``), a
    1-epoch run on it (``run``), another session (``other``) and a copy with validation and test swapped
    (``relabelled``); paths as strings, ``root`` as a Path."""
    from dina_core.data.format import write_dataset
    from dina_core.runs.config import TrainConfig
    from dina_core.simulate import SimConfig, simulate_recording
    from dina_core.train.run import train_run

    tiny = SimConfig.small(n_neurons=40, n_train_images=48, n_validation_images=6, n_test_images=6,
                           n_interaction_groups=2)
    data = simulate_recording(tiny)
    data_file = write_dataset(root / "tiny.h5", data)
    train_run(data, root / "run", model_config={"stage_channels": [4, 8, 8], "trunk_dim": 32},
              metadata={"data_path": str(data_file)}, train_config=TrainConfig(epochs=1, batch_size=16, device="cpu"))
    other = write_dataset(root / "other_session.h5", simulate_recording(dataclasses.replace(tiny, seed=9)))
    relabelled = root / "relabelled_copy.h5"  # the training file with validation and test swapped
    shutil.copy(data_file, relabelled)
    with h5py.File(relabelled, "a") as f:
        tiers = f["/trials/tier"].asstr()[()]
        swapped = np.where(tiers == "test", "validation", np.where(tiers == "validation", "test", tiers))
        del f["/trials/tier"]
        f.create_dataset("/trials/tier", data=swapped.astype(object), dtype=h5py.string_dtype())
    return SimpleNamespace(root=root, data=str(data_file), run=str(root / "run"), other=str(other),
                           relabelled=str(relabelled))


def one_line_error(capsys, status: int, *words: str) -> str:
    """A refused command: exit status 2 and one line ``error: ...`` (warnings aside) saying each of ``words``."""
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                  if not line.startswith("warning:"))
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, (status, err)
    for word in words:
        assert word in err, (word, err)
    return err
