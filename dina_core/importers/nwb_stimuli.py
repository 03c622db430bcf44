"""What an open NWB file holds: a readable inventory, its stimulus table and its images.

Helpers of :mod:`dina_core.importers.nwb`; they take an open ``pynwb.NWBFile`` and never
import pynwb themselves (objects are recognised by their NWB type name).

Stimulus presentations come from a TimeIntervals table (default: the first of
``stimulus_presentations``, ``trials``): ``start_time`` is the onset (seconds), the image
column (default: the first of ``image_index``, ``frame``, ``image_id``, ``image``) the row
of the stimulus images shown, and ``tier`` (if present) the tier. Without such a table, an
IndexSeries in ``stimulus`` serves: its timestamps are the onsets, its data the image rows.

Images (default search order): the Images container an IndexSeries in ``stimulus``
indexes, the first Images container among the stimulus templates, the first ImageSeries
with (n, H, W) data among the stimulus templates. An Images container's order is its
``order_of_images`` when set, else its image names in natural order.
"""

from __future__ import annotations

import numpy as np

from dina_core.data.guards import check_fits
from dina_core.data.text import decode_text
from dina_core.errors import DatasetError
from dina_core.importers.stimuli import StimulusTable, check_tier_labels, check_finite_images, natural_key, to_grey

TABLE_NAMES = ("stimulus_presentations", "trials")
IMAGE_COLUMNS = ("image_index", "frame", "image_id", "image")


def kind(obj) -> str:
    """The NWB type name of a pynwb object (e.g. 'DfOverF', 'IndexSeries')."""
    return type(obj).__name__


def interval_tables(nwbfile) -> dict:
    """All TimeIntervals tables by name (``trials`` included)."""
    tables = dict(nwbfile.intervals or {})
    if nwbfile.trials is not None:
        tables.setdefault("trials", nwbfile.trials)
    return tables


def describe_nwb(nwbfile) -> str:
    """One paragraph listing processing modules (interfaces and their series), interval
    tables (columns), stimuli and stimulus templates: what an error message shows."""
    parts = []
    for name, module in nwbfile.processing.items():
        items = []
        for iname, interface in module.data_interfaces.items():
            inner = getattr(interface, "roi_response_series", None) or getattr(
                interface, "plane_segmentations", None) or {}
            items.append(f"{iname} ({kind(interface)}{': ' + ', '.join(inner) if inner else ''})")
        parts.append(f"processing module '{name}' with {'; '.join(items) or 'no interfaces'}")
    if not nwbfile.processing:
        parts.append("no processing modules")
    tables = interval_tables(nwbfile)
    parts.append("interval tables: " + ("; ".join(
        f"{name} (columns {', '.join(t.colnames)})" for name, t in tables.items()) or "none"))
    for label, group in (("stimulus", nwbfile.stimulus), ("stimulus templates",
                                                           nwbfile.stimulus_template)):
        parts.append(f"{label}: " + (", ".join(f"{n} ({kind(o)})" for n, o in group.items())
                                     or "none"))
    return "; ".join(parts)


def _index_series(nwbfile) -> list:
    return [s for s in nwbfile.stimulus.values() if kind(s) == "IndexSeries"]


def _series_times(series) -> np.ndarray:
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], dtype=np.float64)
    n = len(series.data)
    return float(series.starting_time or 0.0) + np.arange(n) / float(series.rate)


def _finite_times(times: np.ndarray, path, field: str, row_ids: np.ndarray) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise DatasetError(path, f"{field} row {row_ids[bad[0]]}", "a finite onset time in seconds",
                           f"{times[bad[0]]} ({bad.size} rows without a finite time)")
    return times


def read_nwb_table(nwbfile, path, *, table: str | None = None, image_column: str | None = None,
                   tier_column: str | None = None) -> StimulusTable:
    """The stimulus presentations (rules in the module docstring).

    Raises:
        DatasetError: no table (listing the file's contents), or a missing column.
    """
    tables = interval_tables(nwbfile)
    name = table if table is not None else next((n for n in TABLE_NAMES if n in tables), None)
    if name is None and not _index_series(nwbfile):
        raise DatasetError(path, "/intervals", f"a TimeIntervals table of stimulus presentations "
                           f"named {' or '.join(TABLE_NAMES)} (or choose one by name), or an "
                           f"IndexSeries in /stimulus", f"none; the file holds {describe_nwb(nwbfile)}")
    if name is None:
        series = _index_series(nwbfile)[0]
        times = _finite_times(_series_times(series), path, f"/stimulus/{series.name}/timestamps",
                              np.arange(len(series.data)))
        return StimulusTable(
            image_ids=np.asarray(series.data[:]).astype(np.int64).astype(str), onset_frames=None,
            onset_times_s=times, tiers=None, row_ids=np.arange(times.size), source=str(path),
            columns={"onset": f"stimulus/{series.name} timestamps (seconds)",
                     "image": f"stimulus/{series.name} data", "tier": "none"})
    if name not in tables:
        raise DatasetError(path, f"/intervals/{name}", f"a TimeIntervals table named {name!r}",
                           f"none; the file holds {describe_nwb(nwbfile)}")
    found = tables[name]
    columns = list(found.colnames)
    field = f"/intervals/{name}"
    if image_column is None:
        image_column = next((c for c in IMAGE_COLUMNS if c in columns), None)
    if image_column is None or image_column not in columns:
        wanted = repr(image_column) if image_column else f"one of {', '.join(IMAGE_COLUMNS)}"
        raise DatasetError(path, field, f"an image index column named {wanted}",
                           f"columns {', '.join(columns)}")
    if tier_column is not None and tier_column not in columns:
        raise DatasetError(path, field, f"a tier column named {tier_column!r}",
                           f"columns {', '.join(columns)}")
    tier_column = tier_column or ("tier" if "tier" in columns else None)
    row_ids = np.asarray(found.id.data[:], dtype=np.int64)
    image_ids = np.asarray(found[image_column].data[:])
    if image_ids.dtype.kind not in "iuf":
        raise DatasetError(path, f"{field}/{image_column}", "integer image indices",
                           f"values of type {image_ids.dtype}")
    tiers = None
    if tier_column is not None:
        try:
            raw = list(found[tier_column].data[:])
        except UnicodeDecodeError as err:  # hdmf decodes some string columns itself
            raise DatasetError(path, f"{field}/{tier_column}", "text in UTF-8",
                               f"bytes that are not UTF-8 ({err.reason} at offset {err.start})") from None
        tiers = np.asarray([decode_text(t, path, f"{field}/{tier_column} row {row}") if isinstance(t, bytes)
                            else str(t) for row, t in zip(row_ids.tolist(), raw)], dtype=str)
        check_tier_labels(tiers, path, f"{field}/{tier_column}", row_ids)
    return StimulusTable(
        image_ids=image_ids.astype(np.int64).astype(str), onset_frames=None,
        onset_times_s=_finite_times(np.asarray(found["start_time"].data[:], dtype=np.float64), path,
                                    f"{field}/start_time", row_ids),
        tiers=tiers, row_ids=row_ids, source=f"{path} {field}",
        columns={"onset": "start_time (seconds)", "image": image_column,
                 "tier": tier_column or "none"})


def _from_container(container, path) -> np.ndarray:
    order = container.order_of_images
    refs = list(order.data) if order is not None and len(order.data) else [
        container.images[n] for n in sorted(container.images, key=natural_key)]
    images = [to_grey(img.data[()], path, f"{container.name}/{img.name}") for img in refs]
    for img, grey in zip(refs, images):  # named by the image's own name in the container
        check_finite_images(grey[None], path, f"{container.name}/{img.name}")
    if len({im.shape for im in images}) > 1:
        raise DatasetError(path, container.name, "images of one size",
                           f"sizes {sorted({im.shape for im in images})}")
    return np.stack(images)


def _from_object(obj, path) -> np.ndarray | None:
    """Images held by an Images container, an IndexSeries or an ImageSeries; else None."""
    if kind(obj) == "Images":
        return _from_container(obj, path)
    if kind(obj) == "IndexSeries":
        target = obj.indexed_images or getattr(obj, "indexed_timeseries", None)
        return None if target is None else _from_object(target, path)
    data = getattr(obj, "data", None)
    if kind(obj) in ("ImageSeries", "OpticalSeries") and data is not None and len(data.shape) >= 3:
        check_fits(path, [(f"{obj.name}/data", tuple(data.shape), np.float32)])
        stack = np.stack([to_grey(frame, path, obj.name) for frame in np.asarray(data[()])])
        check_finite_images(stack, path, f"{obj.name}/data")
        return stack
    return None


def read_nwb_images(nwbfile, path, name: str | None = None) -> tuple[np.ndarray, str]:
    """The stimulus images (search order in the module docstring).

    Args:
        nwbfile: the open file.
        path: its path, for messages.
        name: an Images container, IndexSeries or ImageSeries in the stimulus templates
            or stimuli, to use instead of the default search.

    Returns:
        images: (n_images, H, W) float32 grey levels; their ids are the rows 0..n-1.
        label: where they came from.

    Raises:
        DatasetError: none found (listing the file's contents).
    """
    groups = {"stimulus_template": nwbfile.stimulus_template, "stimulus": nwbfile.stimulus}
    if name is not None:
        for group, objects in groups.items():
            if name in objects:
                images = _from_object(objects[name], path)
                if images is not None:
                    return images, f"{group}/{name}"
        raise DatasetError(path, name, "stimulus images (Images, IndexSeries with indexed "
                           "images, or ImageSeries) of that name",
                           f"none; the file holds {describe_nwb(nwbfile)}")
    candidates = [("stimulus", s) for s in _index_series(nwbfile)]
    candidates += [("stimulus_template", o) for o in nwbfile.stimulus_template.values()
                   if kind(o) == "Images"]
    candidates += [("stimulus_template", o) for o in nwbfile.stimulus_template.values()
                   if kind(o) != "Images"]
    for group, obj in candidates:
        images = _from_object(obj, path)
        if images is not None:
            return images, f"{group}/{obj.name}"
    raise DatasetError(path, "/stimulus/templates", "stimulus images: an Images container or "
                       "(n, H, W) ImageSeries among the stimulus templates, or an IndexSeries "
                       "with indexed images", f"none; the file holds {describe_nwb(nwbfile)}")
