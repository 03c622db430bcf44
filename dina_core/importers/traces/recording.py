"""A continuous two-photon recording as read from disk, before preprocessing.

Importers (suite2p, NWB) fill a :class:`TraceRecording`; preprocessing and extraction
read it one block of neurons at a time, so traces may stay memory-mapped on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

KINDS = ("fluorescence", "neuropil", "events", "dff")


@dataclass
class TracePlane:
    """One imaging plane's traces as stored: rows are the source's ROIs, columns frames.

    Attributes:
        fluorescence: (n_rois, n_frames) ROI fluorescence F, a.u., or None.
        neuropil: (n_rois, n_frames) neuropil fluorescence Fneu, a.u., or None.
        events: (n_rois, n_frames) deconvolved events (e.g. suite2p spks), or None.
        dff: (n_rois, n_frames) dF/F computed by the source (e.g. NWB DfOverF), or None.
        rows: (n_kept,) int64 increasing ROI rows kept as neurons (None: all rows).
    """

    fluorescence: np.ndarray | None = None
    neuropil: np.ndarray | None = None
    events: np.ndarray | None = None
    dff: np.ndarray | None = None
    rows: np.ndarray | None = None

    def array(self, kind: str) -> np.ndarray | None:
        return getattr(self, kind)

    @property
    def kept(self) -> np.ndarray:
        """(n_kept,) int64 rows kept as neurons."""
        if self.rows is not None:
            return self.rows
        first = next(a for a in (self.array(k) for k in KINDS) if a is not None)
        return np.arange(first.shape[0], dtype=np.int64)


@dataclass
class TraceRecording:
    """All planes of one session; neurons are the kept rows of each plane, plane by plane.

    Attributes:
        fs: frame rate, Hz (per plane: each plane is sampled once per volume).
        planes: the planes, all with the same number of frames.
        neurons: per-neuron arrays over all kept neurons, in order (``positions_um``
            (n, 2|3) micrometres, ``plane``, ...), written to ``/neurons``.
        frame_times: (n_frames,) float64 seconds of each frame; None means ``k / fs``.
        source: file or folder, named in error messages.
        description: how the traces were read (format, planes, series names...); recorded
            in the dataset's ``preprocessing`` attribute.
        files: for each kind, the file (and object) of each plane's traces, named in messages
            about a neuron's trace (see :meth:`where`).
        whole_index: for a :meth:`subset`, each neuron's index in the whole recording (None: this
            is the whole recording).
    """

    fs: float
    planes: list[TracePlane]
    neurons: dict[str, np.ndarray] = field(default_factory=dict)
    frame_times: np.ndarray | None = None
    source: str = ""
    description: dict = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    whole_index: np.ndarray | None = None

    @property
    def n_neurons(self) -> int:
        return int(sum(p.kept.size for p in self.planes))

    @property
    def n_frames(self) -> int:
        plane = self.planes[0]
        return int(next(a for a in (plane.array(k) for k in KINDS) if a is not None).shape[1])

    def has(self, kind: str) -> bool:
        """Whether every plane holds traces of ``kind`` (one of ``KINDS``)."""
        return all(p.array(kind) is not None for p in self.planes)

    def where(self, neuron: int, kind: str) -> tuple[str, str]:
        """(file, 'ROI r (neuron n of the import)') of neuron ``neuron``'s ``kind`` trace, for messages.

        The plane comes from ``neurons['plane']`` and the ROI from ``neurons['roi']`` when present
        (so a :meth:`subset` still names the source's ROI and the whole recording's neuron), else
        plane 0 and the neuron's index.
        """
        plane = int(self.neurons["plane"][neuron]) if "plane" in self.neurons else 0
        roi = int(self.neurons["roi"][neuron]) if "roi" in self.neurons else neuron
        whole = neuron if self.whole_index is None else int(self.whole_index[neuron])
        files = self.files.get(kind) or [self.source]
        return files[min(plane, len(files) - 1)], f"ROI {roi} (neuron {whole} of the import)"

    def times(self, frames: np.ndarray) -> np.ndarray:
        """Seconds of the given frame indices (float64, same shape)."""
        frames = np.asarray(frames)
        if self.frame_times is not None:
            return self.frame_times[frames].astype(np.float64)
        return frames / float(self.fs)

    def _load(self, plane: TracePlane, rows: np.ndarray,
              kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {kind: np.asarray(plane.array(kind)[rows], dtype=np.float32)
                for kind in kinds if plane.array(kind) is not None}

    def chunks(self, size: int, kinds: tuple[str, ...] = KINDS
               ) -> Iterator[tuple[slice, dict[str, np.ndarray]]]:
        """Blocks of at most ``size`` neurons, loaded as float32.

        Args:
            size: neurons per block.
            kinds: which traces to load (those the recording lacks are skipped); reading
                only what preprocessing needs saves disk reads on memory-mapped sources.

        Yields:
            (neurons, arrays): the block's slice of the neuron axis, and its traces by kind,
            each (n_block, n_frames).
        """
        start = 0
        for plane in self.planes:
            kept = plane.kept
            for lo in range(0, kept.size, size):
                rows = kept[lo:lo + size]
                yield slice(start + lo, start + lo + rows.size), self._load(plane, rows, kinds)
            start += kept.size

    def select(self, neurons: np.ndarray, kinds: tuple[str, ...] = KINDS) -> dict[str, np.ndarray]:
        """Traces of some neurons by kind (of ``kinds``), each (len(neurons), n_frames) float32.

        One read per plane and kind (rows in any order), so sampling a few hundred neurons
        of a memory-mapped recording touches each needed row once.
        """
        neurons = np.asarray(neurons, dtype=np.int64)
        bounds = np.cumsum([0] + [p.kept.size for p in self.planes])
        plane_of = np.searchsorted(bounds, neurons, side="right") - 1
        parts: dict[str, list[np.ndarray]] = {}
        picked_order = []
        for k in np.unique(plane_of).tolist():
            picked = np.flatnonzero(plane_of == k)
            plane = self.planes[k]
            for kind, values in self._load(plane, plane.kept[neurons[picked] - bounds[k]], kinds).items():
                parts.setdefault(kind, []).append(values)
            picked_order.append(picked)
        back = np.argsort(np.concatenate(picked_order)) if picked_order else np.zeros(0, np.int64)
        return {kind: np.concatenate(v)[back] for kind, v in parts.items()}

    def subset(self, neurons: np.ndarray, kinds: tuple[str, ...] = KINDS) -> "TraceRecording":
        """A recording of only ``neurons`` (in that order), their ``kinds`` traces in memory."""
        neurons = np.asarray(neurons, dtype=np.int64)
        return TraceRecording(fs=self.fs, planes=[TracePlane(**self.select(neurons, kinds))],
                              neurons={k: np.asarray(v)[neurons] for k, v in self.neurons.items()},
                              frame_times=self.frame_times, source=self.source,
                              description=dict(self.description), files=dict(self.files),
                              whole_index=neurons if self.whole_index is None else self.whole_index[neurons])
