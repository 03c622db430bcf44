"""Simulator ground truth as a yardstick for attributions: do peaks land in the right RFs?

For each (image, attribution map) pair, the neurons the image drives most (largest
noise-free ``mean_response``) are known, and so are their receptive fields. A useful
attribution should peak inside the union of those RFs far more often than a pixel
drawn at random, whose chance of landing there is the union's area fraction, and more
often than inside the RF union of *another* image's top neurons (which a model that always
looks at the same well-covered spot would also hit).

An RF is the simulator's boolean RF, ``rf_masks > 0.5``: the disc within ~1.18 sd of the
envelope's centre, where the envelope is at least half its peak.
"""

from __future__ import annotations

import numpy as np

RF_THRESHOLD = 0.5  # envelope level bounding a boolean RF (half the envelope's peak)


def top_neuron_rf_union(image_rows: np.ndarray, ground_truth: dict, top_neurons: int = 10,
                        neuron_indices: np.ndarray | None = None) -> np.ndarray:
    """Union of the RFs of the ``top_neurons`` neurons each image drives most.

    Args:
        image_rows: (B,) int stimulus rows (as returned by ``averaged_pairs``).
        ground_truth: ``DinaData.ground_truth`` of a simulated recording.
        top_neurons: how many of the most driven neurons to take per image.
        neuron_indices: (n,) columns the model sees (``Run.preprocessing.neuron_indices``);
            None for all neurons.

    Returns:
        (B, H, W) bool.
    """
    masks = np.asarray(ground_truth["rf_masks"])
    expected = np.asarray(ground_truth["mean_response"])[np.asarray(image_rows)]
    if neuron_indices is not None:
        masks, expected = masks[neuron_indices], expected[:, neuron_indices]
    top = np.argsort(-expected, axis=1, kind="stable")[:, :top_neurons]  # (B, top)
    return (masks[top] > RF_THRESHOLD).any(axis=1)


def peak_locations(attributions: np.ndarray) -> np.ndarray:
    """(B, H, W) maps -> (B, 2) int64 (row, col) of each map's largest |value| (first one on ties)."""
    attributions = np.abs(np.asarray(attributions))
    flat = attributions.reshape(len(attributions), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, attributions.shape[1:]), axis=1).astype(np.int64)


def _peak_hits(attributions: np.ndarray, image_rows: np.ndarray, ground_truth: dict, top_neurons: int,
               neuron_indices: np.ndarray | None) -> np.ndarray:
    """(B, B) bool: does map i's peak fall inside image j's RF union? All-zero maps never hit."""
    attributions = np.asarray(attributions)
    if len(attributions) != len(image_rows):
        raise ValueError(f"{len(attributions)} maps for {len(image_rows)} image rows")
    union = top_neuron_rf_union(image_rows, ground_truth, top_neurons, neuron_indices)
    if union.shape[1:] != attributions.shape[1:]:
        raise ValueError(f"maps are {attributions.shape[1:]}, the RFs {union.shape[1:]}")
    peaks = peak_locations(attributions)
    nonzero = np.abs(attributions).reshape(len(attributions), -1).max(axis=1) > 0
    return union[:, peaks[:, 0], peaks[:, 1]].T & nonzero[:, None]


def attribution_rf_hit_rate(attributions: np.ndarray, image_rows: np.ndarray, ground_truth: dict,
                            top_neurons: int = 10, neuron_indices: np.ndarray | None = None) -> float:
    """Fraction of pairs whose peak |attribution| lies inside the top neurons' RF union.

    Args:
        attributions: (B, H, W) spatial attributions of B pairs.
        image_rows: (B,) stimulus row of each pair's image.
        ground_truth, top_neurons, neuron_indices: as in ``top_neuron_rf_union``.

    Returns:
        Hit rate in [0, 1]; a map that is zero everywhere counts as a miss. Compare with
        ``random_location_rate`` on the same arguments.
    """
    hits = _peak_hits(attributions, image_rows, ground_truth, top_neurons, neuron_indices)
    return float(np.diagonal(hits).mean())


def mismatched_image_rate(attributions: np.ndarray, image_rows: np.ndarray, ground_truth: dict,
                          top_neurons: int = 10, neuron_indices: np.ndarray | None = None) -> float:
    """Hit rate of each map's peak against the RF unions of the *other* images (B >= 2).

    The control for image specificity: equal to ``attribution_rf_hit_rate`` when peaks
    follow where RFs are dense rather than which neurons this image drives.
    """
    hits = _peak_hits(attributions, image_rows, ground_truth, top_neurons, neuron_indices)
    n = len(hits)
    if n < 2:
        raise ValueError("the mismatched control needs at least 2 maps")
    return float((hits.sum() - np.trace(hits)) / (n * (n - 1)))


def random_location_rate(image_rows: np.ndarray, ground_truth: dict, top_neurons: int = 10,
                         neuron_indices: np.ndarray | None = None) -> float:
    """Expected hit rate of a uniformly random peak: the RF union's area fraction, averaged over pairs."""
    return float(top_neuron_rf_union(image_rows, ground_truth, top_neurons, neuron_indices).mean())
