"""Text read from DINA and source files, decoded as UTF-8 or refused naming where it broke.

Every failure raises :class:`~dina_core.errors.DatasetError` naming the file, the field (with
the row for arrays) and the first byte that is not UTF-8, so a mis-encoded label is found
without a hex editor.
"""

from __future__ import annotations

import h5py
import numpy as np

from dina_core.errors import DatasetError


def decode_text(raw: bytes, path, field: str) -> str:
    """``raw`` as UTF-8 text; DatasetError naming ``path``, ``field`` and the first byte that is not UTF-8."""
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(path, field, "text in UTF-8", f"byte 0x{raw[err.start]:02x} at offset {err.start}, "
                           f"which is not UTF-8 ({bytes(raw[:40])!r})") from None


def check_text(value, path, field: str):
    """``value`` itself, refused when it is text whose bytes are not UTF-8: ``bytes``, or a ``str`` that h5py
    decoded with surrogate escapes (what it does for a variable-length attribute holding such bytes).

    Raises:
        DatasetError: naming ``path``, ``field`` and the first byte that is not UTF-8.
    """
    if isinstance(value, bytes):
        decode_text(value, path, field)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            decode_text(value.encode("utf-8", "surrogateescape"), path, field)
    return value


def text_array(values: np.ndarray, path, field: str) -> np.ndarray:
    """``values`` as ``<U`` text when they are bytes (``S``), decoded as UTF-8; any other array as it is.

    Raises:
        DatasetError: naming ``path``, ``field`` with the first row that is not UTF-8, and its bytes.
    """
    values = np.asarray(values)
    if values.dtype.kind != "S":
        return values
    try:
        return np.char.decode(values, "utf-8")
    except UnicodeDecodeError:
        for row, raw in enumerate(values.ravel().tolist()):
            decode_text(raw, path, f"{field} row {row}")
        raise


def read_strings(ds: h5py.Dataset) -> np.ndarray:
    """Read a text dataset as a numpy unicode array ``<U``, whatever its HDF5 string flavour.

    Raises:
        DatasetError: naming the file, the dataset and the first row whose bytes are not UTF-8.
    """
    if not h5py.check_string_dtype(ds.dtype):
        return np.asarray(ds[()], dtype=str).reshape(ds.shape)
    try:
        values = ds.asstr("utf-8")[()]  # UTF-8 holds ASCII: a dataset declared ASCII reads the same
    except UnicodeDecodeError:
        raw = np.asarray(ds[()], dtype=object).ravel().tolist()
        for row, value in enumerate(raw):
            decode_text(value, ds.file.filename, f"{ds.name} row {row}")
        raise
    return np.asarray(values, dtype=str).reshape(ds.shape)
