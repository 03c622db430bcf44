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
Zips are read member by member in memory, never extracted (``sensorium_source``). Trials that share a
``frame_image_id`` must show the same image: each repeat is compared with the first, so a mislabelled
frame is refused rather than paired with another trial's image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dina_core.data.checked import write_checked
from dina_core.data.format import DinaData
from dina_core.data.guards import check_fits
from dina_core.data.text import text_array
from dina_core.data.trials import check_trials
from dina_core.data.values import check_neurons
from dina_core.errors import DatasetError
from dina_core.importers.sensorium_source import SensoriumSource, open_source
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


def _per_trial(source: SensoriumSource, field: str, trials: np.ndarray, shape: tuple,
               progress: Progress | None) -> np.ndarray:
    """Load ``data/<field>/{i}.npy`` for each ``i`` in ``trials`` into (len(trials), *shape).

    Images and responses must be finite: a NaN or Inf is refused naming its trial file and position.
    """
    out = np.empty((len(trials), *shape), dtype=np.float32)
    for j, i in enumerate(trials.tolist()):
        rel = f"data/{field}/{i}.npy"
        value = source.load(rel)
        if value.shape != shape:
            raise DatasetError(source.src, rel, f"shape {shape} like the other trials",
                               f"shape {value.shape}")
        if field in ("images", "responses") and value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = np.argwhere(~np.isfinite(value))
            where = f"pixel (row, column) {tuple(int(v) for v in bad[0][-2:])}" if field == "images" \
                else f"neuron {int(bad[0][0])}"
            raise DatasetError(source.src, rel, "finite values (no NaN or Inf)",
                               f"{len(bad)} NaN/Inf value(s), the first at {where} ({value[tuple(bad[0])]})")
        out[j] = value
        if progress and (j + 1) % _REPORT_EVERY == 0:
            progress(j + 1, len(trials), field)
    if progress:
        progress(len(trials), len(trials), field)
    return out


def _check_counts(source: SensoriumSource, n_trials: int, fields: list[str]) -> None:
    for field in fields:
        count = sum(name.endswith(".npy") for name in source.files(f"data/{field}"))
        if count != n_trials:
            raise DatasetError(source.src, f"data/{field}", f"{n_trials} .npy files, one per "
                               f"trial in meta/trials/tiers.npy", f"{count} files")


def _map_tiers(source: SensoriumSource, tiers: np.ndarray, final_test: str) -> np.ndarray:
    known = {"train", "validation", "test", "final_test"}
    unknown = sorted(set(np.unique(tiers).tolist()) - known)
    if unknown:
        raise DatasetError(source.src, "meta/trials/tiers.npy",
                           "'train', 'validation', 'test' or 'final_test'", repr(unknown))
    return np.where(tiers == "final_test", "test" if final_test == "test" else "", tiers)


def _meta(source: SensoriumSource, sub: str, n: int, fields: dict[str, str] | None) -> dict:
    """Arrays of ``meta/<sub>`` with ``n`` rows, renamed by ``fields`` (None: keep all)."""
    out = {}
    for name in sorted(source.files(f"meta/{sub}")):
        stem = name.removesuffix(".npy")
        if not name.endswith(".npy") or (fields is not None and stem not in fields):
            continue
        values = source.load(f"meta/{sub}/{name}", skip_pickled=fields is None)
        if values is None:
            continue  # optional trial metadata that is pickled (object arrays) is skipped
        values = text_array(values, source.src, f"meta/{sub}/{name}")
        if values.ndim >= 1 and values.shape[0] == n:
            out[fields[stem] if fields else stem] = values
        elif fields is not None:
            raise DatasetError(source.src, f"meta/{sub}/{name}", f"{n} rows, one per neuron",
                               f"shape {values.shape}")
    return out


def _neurons(source: SensoriumSource, n_neurons: int) -> dict[str, np.ndarray]:
    if not source.exists("meta/neurons"):
        return {}
    neurons = _meta(source, "neurons", n_neurons, _NEURON_FIELDS)
    if "ids" in neurons:  # uint16 on disk; int64 so that arithmetic on ids cannot wrap
        neurons["ids"] = neurons["ids"].astype(np.int64)
    check_neurons(source.src, neurons, fields={dina: f"meta/neurons/{name}.npy"
                                                for name, dina in _NEURON_FIELDS.items()})
    return neurons


def _check_repeats(source: SensoriumSource, kept: np.ndarray, first: np.ndarray, image_index: np.ndarray,
                   frame_ids: np.ndarray, images: np.ndarray) -> None:
    """Refuse two trials that share a ``frame_image_id`` but show different images (one would be
    paired with the other's image); repeats are read only for this check, one at a time."""
    repeats = np.setdiff1d(np.arange(kept.size), first)
    for j in repeats.tolist():
        trial, k = int(kept[j]), int(image_index[j])
        rel = f"data/images/{trial}.npy"
        value = source.load(rel)
        same = value.shape == images[k].shape and np.array_equal(value.astype(np.float32), images[k])
        if not same:
            diff = (f"max |difference| {np.abs(value.astype(np.float32) - images[k]).max():g}"
                    if value.shape == images[k].shape else f"shape {value.shape}")
            raise DatasetError(source.src, "meta/trials/frame_image_id.npy",
                               "one image per frame_image_id (repeats of a frame show the same image)",
                               f"trials {int(kept[first[k]])} and {trial} both with frame_image_id "
                               f"{int(frame_ids[trial])} but different images (data/images/{int(kept[first[k]])}.npy, "
                               f"{rel}: {diff})")


def _build(source: SensoriumSource, final_test: str, progress: Progress | None) -> DinaData:
    tiers = text_array(source.load("meta/trials/tiers.npy"), source.src, "meta/trials/tiers.npy").astype(str)
    frame_ids = source.load("meta/trials/frame_image_id.npy")
    n_trials = len(tiers)
    if frame_ids.shape != (n_trials,):
        raise DatasetError(source.src, "meta/trials/frame_image_id.npy",
                           f"shape ({n_trials},) like tiers.npy", f"shape {frame_ids.shape}")
    has_behavior = source.exists("data/behavior")
    has_pupil = has_behavior and source.exists("data/pupil_center")
    _check_counts(source, n_trials, ["images", "responses"] + ["behavior"] * has_behavior
                  + ["pupil_center"] * has_pupil)
    if frame_ids.dtype.kind not in "iu":
        raise DatasetError(source.src, "meta/trials/frame_image_id.npy", "integer image ids",
                           f"values of type {frame_ids.dtype}")
    mapped = _map_tiers(source, tiers, final_test)
    kept = np.flatnonzero(mapped != "")
    if kept.size == 0:
        raise DatasetError(source.src, "meta/trials/tiers.npy", "train and test trials",
                           f"only {np.unique(tiers).tolist()} trials (final_test is dropped unless kept as test)")
    ids, first, image_index = np.unique(frame_ids[kept], return_index=True, return_inverse=True)
    image_shape = source.load(f"data/images/{kept[0]}.npy").shape
    response_shape = source.load(f"data/responses/{kept[0]}.npy").shape
    if len(image_shape) != 3 or image_shape[0] != 1 or min(image_shape) == 0:
        raise DatasetError(source.src, f"data/images/{kept[0]}.npy", "an image of shape "
                           "(1, H, W)", f"shape {image_shape}")
    if len(response_shape) != 1 or response_shape[0] == 0:
        raise DatasetError(source.src, f"data/responses/{kept[0]}.npy", "one value per "
                           "neuron, shape (n_neurons,), at least one neuron", f"shape {response_shape}")
    check_fits(source.src, [("data/images", (ids.size, *image_shape), np.float32),
                            ("data/responses", (kept.size, *response_shape), np.float32)])
    images = _per_trial(source, "images", kept[first], image_shape, progress)
    check_trials(source.src, image_index.ravel(), mapped[kept], ids.size)  # a test id on train trials: that first
    _check_repeats(source, kept, first, image_index.ravel(), frame_ids, images)
    responses = _per_trial(source, "responses", kept, response_shape, progress)
    behavior = None
    if has_behavior:
        parts = [_per_trial(source, "behavior", kept, (3,), progress)]
        if has_pupil:
            parts.append(_per_trial(source, "pupil_center", kept, (2,), progress))
        behavior = np.concatenate(parts, axis=1)
    config = source.read_json("config.json") if source.exists("config.json") else None
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
        ``out_path`` as a Path. The recording is validated in memory first, written to a
        temporary file, read back through the validator and only then renamed over
        ``out_path`` (``data.checked.write_checked``); the root attribute ``import_request``
        records the importer, the resolved source and the options.

    Raises:
        DatasetError: naming the source file and field: a missing folder or file (or a FIFO,
            device or truncated file in its place), a file or folder a link leads out of ``src``,
            per-trial file counts that disagree with ``tiers.npy``, a file of the wrong shape, a
            NaN/Inf pixel or response, repeated unit ids, coordinates that are not finite (n, 2|3),
            unknown tiers or text that is not UTF-8, a ``config.json`` that is not a JSON object,
            two trials with one ``frame_image_id`` but different images, test images that also
            appear on train/validation trials, identical images, or more data than the free
            memory. ``out_path`` is then left exactly as it was.
        DinaError: a zip with a link member, a member name that climbs out, or members that
            declare far more than they compress (``importers.archive``).
    """
    if final_test not in ("drop", "test"):
        raise ValueError(f"final_test must be 'drop' or 'test', not {final_test!r}")
    src = Path(src)
    with open_source(src) as source:
        data = _build(source, final_test, progress)
        data.attrs["import_request"] = {"importer": "sensorium", "source": str(src.resolve()),
                                        "options": {"final_test": final_test}}
    return write_checked(out_path, data, source.src)
