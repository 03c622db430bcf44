"""Stimulus images for raw-trace importers: a folder of image files, an ``.npy`` or an ``.h5`` stack.

Images: a folder of PNG/TIFF/JPEG files (read with ``skimage.io``; their id is the file
name without extension), an ``.npy`` stack (n, H, W), or an ``.h5`` file with a dataset
``images`` (n, H, W); stack ids are the row numbers 0..n-1. Ids are compared as integers
when both sides are integers (``7`` matches ``0007``), else as text. Colour images become
grey levels (Rec. 709 luma); values keep their range.

Every file is checked before it is opened (a link out of an image folder is refused: ``confine``; a
FIFO would block: ``data.guards.regular_file``), a stack's declared size against the file and the
free memory, and every pixel must be finite.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np

from dina_core.data.guards import check_fits, regular_file
from dina_core.data.hdf5_safety import open_hdf5
from dina_core.data.safe_pickle import npy_header
from dina_core.errors import DatasetError
from dina_core.importers.confine import Confined

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
_LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)  # skimage.color.rgb2gray weights


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


def _imread(io, path: Path) -> np.ndarray:
    """One image file, refused (not hung on) when it is a FIFO or device, and when it cannot be decoded."""
    regular_file(path, "an image file")
    try:
        return io.imread(path)
    except Exception as err:  # imageio/PIL/tifffile raise many types for damaged files
        raise DatasetError(path, "<image>", "an image file that can be decoded",
                           f"{type(err).__name__}: {err}") from None


def _npy_stack(path: Path) -> np.ndarray:
    """An ``.npy`` stack, its declared size checked against the file and the free memory first."""
    with open(path, "rb") as fp:
        shape, _, dtype = npy_header(fp, path, "<array>")
        data_bytes = path.stat().st_size - fp.tell()
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if not dtype.hasobject and data_bytes < declared:
        raise DatasetError(path, "<array>", f"a complete .npy file: its header declares shape {tuple(shape)} "
                           f"{dtype} ({declared:,} bytes)", f"{data_bytes:,} bytes of data (the file is truncated)")
    check_fits(path, [("<array>", tuple(shape), dtype), ("<array> as float32", tuple(shape), np.float32)])
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DatasetError(path, "<file>", "a .npy array (n, H, W)", f"unreadable ({err})") from None


def _read_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    import skimage.io  # slow to import: only when a folder is read
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise DatasetError(folder, "<folder>", f"image files ({', '.join(IMAGE_SUFFIXES)})",
                           "none")
    confined = Confined(folder)
    for path in files:  # nothing outside the folder given is read: a link inside may not lead out
        confined.file(path)
    images = [to_grey(_imread(skimage.io, p), p) for p in files]
    shape = images[0].shape
    odd = next((p for p, im in zip(files, images) if im.shape != shape), None)
    if odd is not None:
        raise DatasetError(odd, "<image>", f"shape {shape} like {files[0].name}",
                           f"shape {to_grey(_imread(skimage.io, odd), odd).shape}")
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
        images, ids = _read_folder(path)
        check_finite_images(images, path, "<folder>")
        return images, ids
    regular_file(path, "an image folder, .npy or .h5 stack")  # before is_hdf5 opens it: a FIFO would block
    if path.suffix.lower() == ".npy":
        images, field = _npy_stack(path), "<array>"
    elif h5py.is_hdf5(path):
        with open_hdf5(path, "an HDF5 image stack") as f:
            if not isinstance(f.get("images"), h5py.Dataset):
                raise DatasetError(path, "/images", "a dataset 'images' (n, H, W)",
                                   f"top-level names {sorted(f.keys())}")
            check_fits(path, [("/images", f["images"].shape, np.float32)])
            try:
                images = f["images"][()]
            except OSError as err:
                raise DatasetError(path, "/images", "an image stack whose data can be read",
                                   f"damaged data ({err})") from None
        field = "/images"
    else:
        raise DatasetError(path, "<file>", "an image folder, .npy or .h5 (HDF5) stack",
                           f"a {path.suffix or 'suffix-less'} file")
    if images.ndim != 3 or images.dtype.kind not in "fiu" or min(images.shape) == 0:
        raise DatasetError(path, field, "a numeric stack (n_images, H, W)",
                           f"shape {images.shape}, type {images.dtype}")
    check_finite_images(images, path, field)
    return images.astype(np.float32), np.arange(len(images)).astype(str)


def check_finite_images(images: np.ndarray, path, field: str) -> None:
    """Raise naming the first image (row of the stack) and pixel that is NaN or Inf."""
    if images.dtype.kind != "f":
        return
    bad = ~np.isfinite(images)
    if bad.any():
        image, row, col = (int(v) for v in np.argwhere(bad)[0])
        raise DatasetError(path, field if len(images) == 1 else f"{field} image {image}",
                           "finite grey levels (no NaN or Inf)",
                           f"{images[image, row, col]} at pixel (row {row}, column {col}); "
                           f"{int(bad.any(axis=(1, 2)).sum())} image(s) with NaN/Inf pixels")
