"""Import a Sensorium / neuralpredictors "static" folder (or its .zip) as a DINA dataset.

Source layout (one file per trial ``i``; see Willeke et al. 2022, Lurz et al. 2021)::

    data/images/{i}.npy         float32 (1, H, W) grey levels
    data/responses/{i}.npy      float64 (n_neurons,) deconvolved activity
    data/behavior/{i}.npy       float64 (3,) pupil, d-pupil, running    (optional)
    data/pupil_center/{i}.npy   float64 (2,) eye position               (optional)
    meta/trials/tiers.npy       <U10 'train' | 'validation' | 'test' | 'final_test'
    meta/trials/frame_image_id.npy  int64, same id = same image
    meta/trials/*.npy, meta/neurons/*.npy, meta/statistics/..., config.json

``meta/statistics`` is ignored: DINA fits its own normalisation on the train tier.
Zips are read member by member in memory, never extracted.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dina_core.data.format import DinaData, write_dataset
from dina_core.data.io import validate_dataset
from dina_core.data.validate import check_trials
from dina_core.errors import DatasetError
from dina_core.progress import Progress

CITATION = (
    "Willeke K.F. et al. (2022) The Sensorium competition on predicting large-scale mouse "
    "primary visual cortex activity. arXiv:2206.08666; Lurz K.-K. et al. (2021) Generalization "
    "in data-driven models of primary visual cortex. ICLR 2021."
)
LICENSE = ("see the source dataset's licence (the Sensorium 2022 data are released under "
           "CC BY-NC 4.0); this file is a derived copy")
BEHAVIOR_COLUMNS = ["pupil", "dpupil", "running", "pupil_x", "pupil_y"]
_NEURON_FIELDS = {"unit_ids": "ids", "cell_motor_coordinates": "positions_um",
                  "area": "area", "layer": "layer"}
_REPORT_EVERY = 250  # trials between progress callbacks: cheap, yet smooth in a bar


class _Source:
    """Relative-path access to a static folder on disk or inside an open zip."""

    def __init__(self, src: Path, name: str, root: Path | None = None,
                 zf: zipfile.ZipFile | None = None, prefix: str = ""):
        self.src, self.name, self.root, self.zf, self.prefix = src, name, root, zf, prefix
        self._dirs: dict[str, list[str]] = {}
        for member in zf.namelist() if zf else []:
            if member.startswith(prefix) and not member.endswith("/"):
                folder, _, base = member[len(prefix):].rpartition("/")
                self._dirs.setdefault(folder, []).append(base)

    def exists(self, rel: str) -> bool:
        if self.zf is None:
            return (self.root / rel).exists()
        return rel in self._dirs or self.prefix + rel in self.zf.NameToInfo

    def files(self, rel: str) -> list[str]:
        """Names of the files directly inside folder ``rel``."""
        if not self.exists(rel):
            raise DatasetError(self.src, rel, "a folder", "nothing (it is missing)")
        if self.zf is None:
            return [e.name for e in os.scandir(self.root / rel) if e.is_file()]
        return self._dirs.get(rel, [])

    def read(self, rel: str) -> bytes:
        try:
            if self.zf is None:
                return (self.root / rel).read_bytes()
            return self.zf.read(self.prefix + rel)
        except (FileNotFoundError, KeyError):
            raise DatasetError(self.src, rel, "a file", "nothing (it is missing)") from None

    def load(self, rel: str) -> np.ndarray:
        """Load one ``.npy`` file (never unpickling: object arrays raise ValueError)."""
        data = self.read(rel)
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as err:  # truncated, not .npy, or pickled: numpy raises various types
            raise DatasetError(self.src, rel, "a .npy array of numbers or text",
                               f"a file numpy cannot load without unpickling ({err})") from None


def _find_prefix(members: list[str], src: Path) -> str:
    """The folder inside the zip that holds data/ and meta/ (top level or up to 2 deep)."""
    for depth in range(3):
        prefixes = {"/".join(parts[:depth]) for parts in (m.split("/") for m in members)
                    if len(parts) > depth + 1 and parts[depth] in ("data", "meta")
                    and parts[0] != "__MACOSX"}
        if len(prefixes) == 1:
            prefix = prefixes.pop()
            return prefix + "/" if prefix else ""
        if len(prefixes) > 1:
            raise DatasetError(src, "<zip>", "a single static dataset folder",
                               f"several: {sorted(prefixes)}")
    raise DatasetError(src, "meta/trials/tiers.npy", "a Sensorium static folder (data/ and "
                       "meta/) at the top of the zip or one level down", "no such folder")


@contextmanager
def _open_source(src: Path) -> Iterator[_Source]:
    if not src.exists():
        raise DatasetError(src, "<source>", "a Sensorium static folder or .zip",
                           "nothing (no such file or folder)")
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise DatasetError(src, "<source>", "a folder or a .zip archive", "another file")
        with zipfile.ZipFile(src) as zf:
            prefix = _find_prefix(zf.namelist(), src)
            yield _Source(src, prefix.rstrip("/").rpartition("/")[2] or src.stem, zf=zf,
                          prefix=prefix)
        return
    root = src
    if not (src / "meta").is_dir():
        inner = [d for d in src.iterdir() if (d / "meta").is_dir()]
        root = inner[0] if len(inner) == 1 else src
    yield _Source(root, root.name, root=root)  # messages name the folder actually read


def _per_trial(source: _Source, field: str, trials: np.ndarray, shape: tuple,
               progress: Progress | None) -> np.ndarray:
    """Load ``data/<field>/{i}.npy`` for each ``i`` in ``trials`` into (len(trials), *shape)."""
    out = np.empty((len(trials), *shape), dtype=np.float32)
    for j, i in enumerate(trials.tolist()):
        rel = f"data/{field}/{i}.npy"
        value = source.load(rel)
        if value.shape != shape:
            raise DatasetError(source.src, rel, f"shape {shape} like the other trials",
                               f"shape {value.shape}")
        out[j] = value
        if progress and (j + 1) % _REPORT_EVERY == 0:
            progress(j + 1, len(trials), field)
    if progress:
        progress(len(trials), len(trials), field)
    return out


def _check_counts(source: _Source, n_trials: int, fields: list[str]) -> None:
    for field in fields:
        count = sum(name.endswith(".npy") for name in source.files(f"data/{field}"))
        if count != n_trials:
            raise DatasetError(source.src, f"data/{field}", f"{n_trials} .npy files, one per "
                               f"trial in meta/trials/tiers.npy", f"{count} files")


def _map_tiers(source: _Source, tiers: np.ndarray, final_test: str) -> np.ndarray:
    known = {"train", "validation", "test", "final_test"}
    unknown = sorted(set(np.unique(tiers).tolist()) - known)
    if unknown:
        raise DatasetError(source.src, "meta/trials/tiers.npy",
                           "'train', 'validation', 'test' or 'final_test'", repr(unknown))
    return np.where(tiers == "final_test", "test" if final_test == "test" else "", tiers)


def _meta(source: _Source, sub: str, n: int, fields: dict[str, str] | None) -> dict:
    """Arrays of ``meta/<sub>`` with ``n`` rows, renamed by ``fields`` (None: keep all)."""
    out = {}
    for name in sorted(source.files(f"meta/{sub}")):
        stem = name.removesuffix(".npy")
        if not name.endswith(".npy") or (fields is not None and stem not in fields):
            continue
        try:
            values = source.load(f"meta/{sub}/{name}")
        except DatasetError:
            if fields is not None:
                raise
            continue  # optional trial metadata that is pickled (object arrays) is skipped
        if values.ndim >= 1 and values.shape[0] == n:
            out[fields[stem] if fields else stem] = values
        elif fields is not None:
            raise DatasetError(source.src, f"meta/{sub}/{name}", f"{n} rows, one per neuron",
                               f"shape {values.shape}")
    return out


def _neurons(source: _Source, n_neurons: int) -> dict[str, np.ndarray]:
    if not source.exists("meta/neurons"):
        return {}
    neurons = _meta(source, "neurons", n_neurons, _NEURON_FIELDS)
    if "ids" in neurons:  # uint16 on disk; int64 so that arithmetic on ids cannot wrap
        neurons["ids"] = neurons["ids"].astype(np.int64)
    return neurons


def _build(source: _Source, final_test: str, progress: Progress | None) -> DinaData:
    tiers = np.asarray(source.load("meta/trials/tiers.npy")).astype(str)
    frame_ids = source.load("meta/trials/frame_image_id.npy")
    n_trials = len(tiers)
    if frame_ids.shape != (n_trials,):
        raise DatasetError(source.src, "meta/trials/frame_image_id.npy",
                           f"shape ({n_trials},) like tiers.npy", f"shape {frame_ids.shape}")
    has_behavior = source.exists("data/behavior")
    has_pupil = has_behavior and source.exists("data/pupil_center")
    _check_counts(source, n_trials, ["images", "responses"] + ["behavior"] * has_behavior
                  + ["pupil_center"] * has_pupil)
    mapped = _map_tiers(source, tiers, final_test)
    kept = np.flatnonzero(mapped != "")
    ids, first, image_index = np.unique(frame_ids[kept], return_index=True, return_inverse=True)
    image_shape = source.load(f"data/images/{kept[0]}.npy").shape
    response_shape = source.load(f"data/responses/{kept[0]}.npy").shape
    if len(image_shape) != 3 or image_shape[0] != 1:
        raise DatasetError(source.src, f"data/images/{kept[0]}.npy", "an image of shape "
                           "(1, H, W)", f"shape {image_shape}")
    if len(response_shape) != 1:
        raise DatasetError(source.src, f"data/responses/{kept[0]}.npy", "one value per "
                           "neuron, shape (n_neurons,)", f"shape {response_shape}")
    images = _per_trial(source, "images", kept[first], image_shape, progress)
    responses = _per_trial(source, "responses", kept, response_shape, progress)
    behavior = None
    if has_behavior:
        parts = [_per_trial(source, "behavior", kept, (3,), progress)]
        if has_pupil:
            parts.append(_per_trial(source, "pupil_center", kept, (2,), progress))
        behavior = np.concatenate(parts, axis=1)
    config = json.loads(source.read("config.json")) if source.exists("config.json") else None
    return DinaData(
        images=images[:, 0], responses=responses, image_index=image_index.ravel(),
        tiers=mapped[kept],
        attrs={"name": source.name,
               "source": f"Sensorium/neuralpredictors static folder {source.name}",
               "citation": CITATION, "license": LICENSE,
               "response_unit": "deconvolved calcium activity (a.u.)",
               **({"sensorium_config": config} if config is not None else {})},
        image_source=np.array([f"Sensorium frame_image_id {i}" for i in ids.tolist()]),
        neurons=_neurons(source, responses.shape[1]),
        behavior=behavior,
        behavior_columns=BEHAVIOR_COLUMNS[:0 if behavior is None else behavior.shape[1]],
        extra={k: v[kept] for k, v in _meta(source, "trials", n_trials, None).items()},
    )


def import_sensorium(src: str | os.PathLike, out_path: str | os.PathLike, *,
                     final_test: str = "drop", progress: Progress | None = None) -> Path:
    """Convert a Sensorium static folder or ``.zip`` into a checked DINA dataset file.

    Images are deduplicated by ``frame_image_id`` (the first trial's copy is kept);
    responses become float32 (n_trials, n_neurons); behaviour columns are
    ``pupil, dpupil, running, pupil_x, pupil_y``; every per-trial ``meta/trials`` array
    (including the original ``tiers``) is carried into ``/trials/extra``.

    Args:
        src: the unpacked folder, or a zip holding it at the top level or one level down.
        out_path: the ``.h5`` file to write (atomically).
        final_test: ``"drop"`` the Sensorium final-test trials (their responses were
            withheld in the competition), or label them ``"test"``.
        progress: optional ``callback(done, total, stage)``; stages are images,
            responses, behavior, pupil_center.

    Returns:
        ``out_path`` as a Path, after reading it back through the validator.

    Raises:
        DatasetError: a missing folder or file, per-trial file counts that disagree with
            ``tiers.npy``, a file of the wrong shape, unknown tiers, or test images that
            also appear on train/validation trials.
    """
    if final_test not in ("drop", "test"):
        raise ValueError(f"final_test must be 'drop' or 'test', not {final_test!r}")
    src = Path(src)
    with _open_source(src) as source:
        data = _build(source, final_test, progress)
    check_trials(src, data.image_index, data.tiers, data.n_images)
    path = write_dataset(out_path, data)
    validate_dataset(path)
    return path
