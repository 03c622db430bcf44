"""Natural-image stimuli: grey crops of the photographs bundled with scikit-image.

Only images shipped inside the scikit-image wheel are used (no download is ever
attempted), and only photographs whose licence the scikit-image docstrings state.
Each crop has a random source, position and zoom, and is resized to the stimulus size
with anti-aliasing exactly as ``skimage.transform.resize(..., anti_aliasing=True)`` does
(Gaussian blur of sd ``(scale - 1) / 2``, then bilinear sampling at pixel centres); the
blur is applied once per (photo, zoom level) instead of once per crop, which makes
thousands of crops take well under a second.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

# name -> licence, as stated in each loader's docstring (scikit-image 0.2x).
# Left out: moon/page (no licence stated), hubble_deep_field (mostly black sky),
# microscopy (retina, ihc, cell) and drawings/text.
PHOTOS: dict[str, str] = {
    "camera": "CC0, photographer Lav Varshney",
    "astronaut": "public domain, NASA",
    "coffee": "CC0, photographer Rachel Michetti",
    "chelsea": "CC0, photographer Stefan van der Walt",
    "rocket": "public domain, SpaceX",
    "coins": "no known copyright restrictions, Brooklyn Museum",
    "brick": "CC0, CC0Textures",
    "grass": "CC0, CC0Textures",
    "gravel": "CC0, CC0Textures",
}


def attribution(name: str) -> str:
    """The string stored in ``DinaData.image_source`` for a crop of photo ``name``."""
    return f"skimage.data.{name} ({PHOTOS[name]}; via scikit-image)"


@lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """One bundled photograph as grey levels.

    Returns:
        (h, w) float32 read-only array, grey levels 0..255 (colour converted by luminance).
    """
    import skimage.data  # imported here: it is slow to import and only the simulator needs it
    from skimage.color import rgb2gray

    image = getattr(skimage.data, name)()
    grey = rgb2gray(image) * 255.0 if image.ndim == 3 else image.astype(np.float64)
    grey = grey.astype(np.float32)
    grey.setflags(write=False)  # cached and shared: never mutated by a caller
    return grey


def crop_heights(config_range: tuple[int, int], n_levels: int) -> np.ndarray:
    """(n_levels,) int crop heights in source pixels, log-spaced over ``config_range``."""
    lo, hi = config_range
    return np.unique(np.round(np.geomspace(lo, hi, n_levels)).astype(int))


def _blurred(photo: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Anti-aliasing blur of ``resize`` for a downscale factor per axis (rows, cols)."""
    sigma = [max(0.0, (s - 1.0) / 2.0) for s in scale]
    return ndimage.gaussian_filter(photo, sigma, mode="mirror")


def _sample(blurred: np.ndarray, corners: np.ndarray, scale: tuple[float, float],
            shape: tuple[int, int]) -> np.ndarray:
    """Bilinear samples at the output pixel centres of crops (``resize``'s geometry).

    Args:
        blurred: (h, w) blurred photo.
        corners: (k, 2) int (top, left) of each crop in the photo.
        scale: downscale factor (rows, cols).
        shape: (H, W) output size.

    Returns:
        (k, H, W) float32 crops.
    """
    rows = corners[:, :1] + (np.arange(shape[0]) + 0.5) * scale[0] - 0.5  # (k, H)
    cols = corners[:, 1:] + (np.arange(shape[1]) + 0.5) * scale[1] - 0.5  # (k, W)
    grid = np.stack(np.broadcast_arrays(rows[:, :, None], cols[:, None, :]))  # (2, k, H, W)
    return ndimage.map_coordinates(blurred, grid, order=1, mode="mirror")


def sample_crops(rng: np.random.Generator, n: int, shape: tuple[int, int],
                 height_range: tuple[int, int] = (48, 256),
                 n_scales: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` distinct natural-image crops.

    Args:
        rng: random generator (the only source of randomness).
        n: number of crops.
        shape: (H, W) output size in pixels; crops keep this aspect ratio.
        height_range: (min, max) crop height in source-photo pixels (zoom range).
        n_scales: number of log-spaced crop heights.

    Returns:
        images: (n, H, W) float32 grey levels 0..255.
        sources: (n,) str attribution of each crop.
    """
    heights = crop_heights(height_range, n_scales)
    names, fits = [], []  # photos with at least one zoom level that fits, and those levels
    for name in PHOTOS:
        photo_h, photo_w = load_photo(name).shape
        fitting = heights[heights <= min(photo_h, photo_w * shape[0] // shape[1])]
        if len(fitting):
            names.append(name)
            fits.append(fitting)
    if not names:
        raise ValueError(f"no bundled photo holds a crop of height {heights[0]} and aspect {shape}")
    keys: dict[tuple[int, int, int, int], None] = {}  # insertion-ordered set
    while len(keys) < n:  # distinct (photo, height, top, left): no crop appears twice
        photo_i = int(rng.integers(len(names)))
        photo_h, photo_w = load_photo(names[photo_i]).shape
        h = int(fits[photo_i][rng.integers(len(fits[photo_i]))])
        w = int(round(h * shape[1] / shape[0]))
        top = int(rng.integers(photo_h - h + 1))
        left = int(rng.integers(photo_w - w + 1))
        keys[(photo_i, h, top, left)] = None
    drawn = np.array(list(keys))  # (n, 4): photo, height, top, left
    images = np.empty((n, *shape), dtype=np.float32)
    for photo_i, h in np.unique(drawn[:, :2], axis=0):  # one blur per (photo, zoom)
        rows = np.flatnonzero((drawn[:, 0] == photo_i) & (drawn[:, 1] == h))
        scale = (h / shape[0], round(h * shape[1] / shape[0]) / shape[1])
        blurred = _blurred(load_photo(names[photo_i]), scale)
        images[rows] = _sample(blurred, drawn[rows, 2:], scale, shape)
    sources = np.array([attribution(names[i]) for i in drawn[:, 0]])
    np.clip(images, 0.0, 255.0, out=images)  # float rounding may step a hair past 255
    return images, sources
