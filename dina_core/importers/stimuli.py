"""Stimulus presentations and images for raw-trace importers (suite2p, NWB).

Stimulus table (CSV, one row per presentation, header first, in presentation order):

    onset       ``onset_frame`` / ``frame`` / ``start_frame`` (frame index of the onset) or
                ``onset_time`` / ``onset_s`` / ``start_time`` / ``time`` (seconds on the
                recording's clock); the first found wins, frames first
    image id    ``image_id`` / ``image_index`` / ``image``: which image was shown
    tier        ``tier`` (optional): 'train' | 'validation' | 'test'

Images: a folder of PNG/TIFF/JPEG files (read with ``skimage.io``; their id is the file
name without extension), an ``.npy`` stack (n, H, W), or an ``.h5`` file with a dataset
``images`` (n, H, W); stack ids are the row numbers 0..n-1. Ids are compared as integers
when both sides are integers (``7`` matches ``0007``), else as text. Colour images become
grey levels (Rec. 709 luma); values keep their range.

Tiers without a tier column: images shown more than once become 'test' (repeats are what
reliability and averaged retrieval need); the once-shown images are put in a fixed random
order (seed 0) and the first ``validation_fraction`` of them become 'validation', the rest
'train'. The same table therefore always gets the same split.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.format import TIERS
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.errors import DatasetError

FRAME_COLUMNS = ("onset_frame", "frame", "start_frame")
TIME_COLUMNS = ("onset_time", "onset_s", "start_time", "time")
IMAGE_COLUMNS = ("image_id", "image_index", "image")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
_LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)  # skimage.color.rgb2gray weights


@dataclass
class StimulusTable:
    """Presentations in order; exactly one of ``onset_frames`` / ``onset_times_s`` is set.

    Attributes:
        image_ids: (n_trials,) str id of the image shown (matched by :func:`match_images`).
        onset_frames: (n_trials,) int64 frame index of each onset, or None.
        onset_times_s: (n_trials,) float64 seconds of each onset, or None.
        tiers: (n_trials,) str tier of each trial, or None when the table has none.
        row_ids: (n_trials,) int row number of each trial in the source, for messages.
        source: the table's file, for messages.
        columns: which source columns were read, by role (recorded in the dataset).
    """

    image_ids: np.ndarray
    onset_frames: np.ndarray | None
    onset_times_s: np.ndarray | None
    tiers: np.ndarray | None
    row_ids: np.ndarray
    source: str
    columns: dict[str, str]


def _pick(header: list[str], wanted: str | None, defaults: tuple[str, ...], role: str,
          path, required: bool = True) -> str | None:
    if wanted is not None:
        if wanted not in header:
            raise DatasetError(path, wanted, f"the {role} column {wanted!r}",
                               f"no such column (columns: {', '.join(header)})")
        return wanted
    found = next((name for name in defaults if name in header), None)
    if found is None and required:
        raise DatasetError(path, f"<{role} column>", f"the {role} column, named one of "
                           f"{', '.join(defaults)} (or name it with an option)",
                           f"columns {', '.join(header) or 'none'}")
    return found


def _numbers(values: list[str], column: str, path, integer: bool) -> np.ndarray:
    try:
        out = np.asarray([float(v) for v in values], dtype=np.float64)
    except ValueError:
        row = next(i for i, v in enumerate(values) if not _is_number(v))
        raise DatasetError(path, f"row {row + 1} ({column})", "a number",
                           repr(values[row])) from None
    bad = ~np.isfinite(out) | ((out != np.round(out)) if integer else False)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DatasetError(path, f"row {row + 1} ({column})",
                           "an integer frame index" if integer else "a finite time in seconds",
                           repr(values[row]))
    return out.astype(np.int64) if integer else out


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_stimulus_table(path: str | os.PathLike, *, onset_column: str | None = None,
                        onset_unit: str | None = None, image_column: str | None = None,
                        tier_column: str | None = None) -> StimulusTable:
    """Read a stimulus table CSV (layout in the module docstring).

    Args:
        path: the CSV file.
        onset_column: column holding onsets (default: the first of FRAME_COLUMNS, then
            TIME_COLUMNS).
        onset_unit: 'frames' or 'seconds' for ``onset_column`` (default: frames when its
            name contains 'frame', else seconds).
        image_column: column holding image ids (default: the first of IMAGE_COLUMNS).
        tier_column: tier column (default: 'tier' when present; tiers are optional).

    Returns:
        The table; row numbers in messages count data rows from 1 (the header is row 0).

    Raises:
        DatasetError: a missing or empty file, an unknown column, a non-numeric onset, or
            an unknown tier.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "<file>", "a stimulus table (.csv)", "no such file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise DatasetError(path, "<file>", "a header line and at least one presentation",
                           f"{len(rows)} line(s)")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    short = next((i for i, r in enumerate(body) if len(r) < len(header)), None)
    if short is not None:
        raise DatasetError(path, f"row {short + 1}", f"{len(header)} values like the header",
                           f"{len(body[short])}")
    column = {name: [r[k].strip() for r in body] for k, name in enumerate(header)}
    onset_column = _pick(header, onset_column, FRAME_COLUMNS + TIME_COLUMNS, "onset", path)
    unit = onset_unit or ("frames" if "frame" in onset_column.lower() else "seconds")
    if unit not in ("frames", "seconds"):
        raise ValueError(f"onset_unit must be 'frames' or 'seconds', not {onset_unit!r}")
    image_column = _pick(header, image_column, IMAGE_COLUMNS, "image id", path)
    tier_column = _pick(header, tier_column, ("tier",), "tier", path, required=False)
    onsets = _numbers(column[onset_column], onset_column, path, integer=unit == "frames")
    tiers = None
    if tier_column is not None:
        tiers = np.asarray(column[tier_column], dtype=str)
        check_tier_labels(tiers, path, tier_column, np.arange(1, len(body) + 1))
    return StimulusTable(
        image_ids=np.asarray(column[image_column], dtype=str),
        onset_frames=onsets if unit == "frames" else None,
        onset_times_s=onsets if unit == "seconds" else None,
        tiers=tiers, row_ids=np.arange(1, len(body) + 1), source=str(path),
        columns={"onset": f"{onset_column} ({unit})", "image": image_column,
                 "tier": tier_column or "none"})


def check_tier_labels(tiers: np.ndarray, path, column: str, row_ids: np.ndarray) -> None:
    """Raise a DatasetError naming the first row whose tier is not one of TIERS."""
    bad = np.flatnonzero(~np.isin(tiers, TIERS))
    if bad.size:
        raise DatasetError(path, f"row {row_ids[bad[0]]} ({column})",
                           "'train', 'validation' or 'test'", repr(str(tiers[bad[0]])))


def natural_key(name: str) -> list:
    """Sort key putting 'img2' before 'img10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def to_grey(image, path, field: str = "<image>") -> np.ndarray:
    """(H, W) float32 grey levels of a grey or RGB(A) image (Rec. 709 luma), range kept."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return image[..., :3].astype(np.float32) @ _LUMA
    if image.ndim != 2:
        raise DatasetError(path, field, "a 2-D grey or RGB(A) image", f"shape {image.shape}")
    return image.astype(np.float32)


def _read_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    import skimage.io  # ~0.5 s to import: only when a folder is read
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise DatasetError(folder, "<folder>", f"image files ({', '.join(IMAGE_SUFFIXES)})",
                           "none")
    images = [to_grey(skimage.io.imread(p), p) for p in files]
    shape = images[0].shape
    odd = next((p for p, im in zip(files, images) if im.shape != shape), None)
    if odd is not None:
        raise DatasetError(odd, "<image>", f"shape {shape} like {files[0].name}",
                           f"shape {to_grey(skimage.io.imread(odd), odd).shape}")
    return np.stack(images), np.asarray([p.stem for p in files])


def read_images(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the stimulus images (formats in the module docstring).

    Returns:
        images: (n_images, H, W) float32 grey levels, range as stored.
        ids: (n_images,) str id of each image.

    Raises:
        DatasetError: a missing path, an unknown format, or a stack that is not (n, H, W).
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise DatasetError(path, "<file>", "an image folder, .npy or .h5 stack", "no such file")
    if path.suffix.lower() == ".npy":
        try:
            images = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise DatasetError(path, "<file>", "a .npy array (n, H, W)", f"unreadable ({err})") from None
        field = "<array>"
    elif h5py.is_hdf5(path):
        with open_hdf5(path, "an HDF5 image stack") as f:
            if not isinstance(f.get("images"), h5py.Dataset):
                raise DatasetError(path, "/images", "a dataset 'images' (n, H, W)",
                                   f"top-level names {sorted(f.keys())}")
            images = f["images"][()]
        field = "/images"
    else:
        raise DatasetError(path, "<file>", "an image folder, .npy or .h5 (HDF5) stack",
                           f"a {path.suffix or 'suffix-less'} file")
    if images.ndim != 3 or images.dtype.kind not in "fiu" or min(images.shape) == 0:
        raise DatasetError(path, field, "a numeric stack (n_images, H, W)",
                           f"shape {images.shape}, type {images.dtype}")
    return images.astype(np.float32), np.arange(len(images)).astype(str)


def _canonical(ids: np.ndarray) -> np.ndarray:
    """Ids as text, integers without leading zeros or a trailing '.0'."""
    out = []
    for value in np.asarray(ids, dtype=str).tolist():
        value = value.strip()
        try:
            number = float(value)
            out.append(str(int(number)) if number.is_integer() else value)
        except ValueError:
            out.append(value)
    return np.asarray(out, dtype=str)


def match_images(table: StimulusTable, image_ids: np.ndarray, images_source) -> np.ndarray:
    """Row of the image stack shown on each trial.

    Args:
        table: the presentations.
        image_ids: (n_images,) ids of the stack's images.
        images_source: where the images came from, for messages.

    Returns:
        (n_trials,) int64 index into the image stack.

    Raises:
        DatasetError: naming the first table row whose id is not in the stack.
    """
    stack = _canonical(image_ids)
    order = np.argsort(stack, kind="stable")
    shown = _canonical(table.image_ids)
    pos = np.clip(np.searchsorted(stack[order], shown), 0, len(stack) - 1)
    missing = np.flatnonzero(stack[order][pos] != shown)
    if missing.size:
        i = missing[0]
        raise DatasetError(table.source, f"row {table.row_ids[i]} ({table.columns['image']})",
                           f"an image id present in {images_source} ({len(stack)} images, "
                           f"ids {', '.join(stack[:3])}{', ...' if len(stack) > 3 else ''})",
                           f"{table.image_ids[i]!r} ({missing.size} rows with unknown ids)")
    return order[pos].astype(np.int64)


def assign_tiers(image_index: np.ndarray, validation_fraction: float = 0.1,
                 seed: int = 0) -> np.ndarray:
    """Tiers for a table without a tier column (rule in the module docstring).

    Args:
        image_index: (n_trials,) int image shown on each trial.
        validation_fraction: share of the once-shown images that become validation.
        seed: seed of the fixed random order of once-shown images.

    Returns:
        (n_trials,) str tiers.
    """
    counts = np.bincount(image_index)
    once = np.flatnonzero(counts == 1)
    shuffled = np.random.default_rng(seed).permutation(once)
    validation = shuffled[:int(round(validation_fraction * once.size))]
    tier_of_image = np.full(counts.size, "train", dtype=object)
    tier_of_image[counts > 1] = "test"
    tier_of_image[validation] = "validation"
    return tier_of_image[image_index].astype(str)
