"""Stimulus presentations for raw-trace importers (suite2p, NWB), and matching them to the images.

Stimulus table (CSV, one row per presentation, header first, in presentation order):

    onset       ``onset_frame`` / ``frame`` / ``start_frame`` (frame index of the onset) or
                ``onset_time`` / ``onset_s`` / ``start_time`` / ``time`` (seconds on the
                recording's clock); the first found wins, frames first
    image id    ``image_id`` / ``image_index`` / ``image``: which image was shown
    tier        ``tier`` (optional): 'train' | 'validation' | 'test'

Images: :mod:`dina_core.importers.stimulus_images` (re-exported here). Ids are compared as integers
when both sides are integers (``7`` matches ``0007``), else as text.

Tiers without a tier column: images shown more than once become 'test' (repeats are what
reliability and averaged retrieval need); the once-shown images are put in a fixed random
order (seed 0) and the first ``validation_fraction`` of them become 'validation', the rest
'train'. The same table therefore always gets the same split.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from dina_core.data.format import TIERS
from dina_core.data.guards import check_fits, regular_file
from dina_core.errors import DatasetError
from dina_core.importers.stimulus_images import (IMAGE_SUFFIXES, check_finite_images, natural_key,  # noqa: F401
                                                 read_images, to_grey)

FRAME_COLUMNS = ("onset_frame", "frame", "start_frame")
TIME_COLUMNS = ("onset_time", "onset_s", "start_time", "time")
IMAGE_COLUMNS = ("image_id", "image_index", "image")


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


def _not_utf8(path: os.PathLike, raw: bytes, err: UnicodeDecodeError) -> DatasetError:
    """The row (data rows from 1) and column holding the first byte that is not UTF-8."""
    lines = raw.decode("utf-8-sig", errors="replace").splitlines()
    row = raw[:err.start].count(b"\n")
    cells = next(csv.reader([lines[row]])) if row < len(lines) else []
    header = next(csv.reader([lines[0]])) if lines else []
    column = next((header[k].strip() for k, cell in enumerate(cells) if "\ufffd" in cell and k < len(header)), None)
    where = f"row {row}" + (f", column {column}" if column and row else "")
    return DatasetError(path, where, "UTF-8 text", f"byte 0x{raw[err.start]:02x}, which is not UTF-8 "
                        f"({lines[row][:60] if row < len(lines) else ''!r})")


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
    far = np.abs(out) >= 2.0 ** 53  # no exact frame in a float64, and int64 overflows soon after
    bad = ~np.isfinite(out) | (((out != np.round(out)) | far) if integer else False)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DatasetError(path, f"row {row + 1} ({column})",
                           "an integer frame index (below 2**53)" if integer else "a finite time in seconds",
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
    path = regular_file(path, "a stimulus table (.csv)")  # a FIFO would block the read
    check_fits(path, [("<file>", (path.stat().st_size * 8,), np.uint8)])  # parsed rows take ~8x the text
    raw = path.read_bytes()
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    except UnicodeDecodeError as err:
        raise _not_utf8(path, raw, err) from None
    except csv.Error as err:
        raise DatasetError(path, "<file>", "a UTF-8 text table (.csv)", f"unreadable text ({err})") from None
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
