"""Read ``.npy`` files that hold pickled objects without letting the pickle run code.

suite2p saves ``stat.npy`` (an object array of dicts) and ``ops.npy`` (a dict in a 0-d object
array) with ``np.save``, which pickles them; ``np.load(allow_pickle=True)`` would then call
whatever the pickle names, so a crafted file could run shell commands. Here the pickle is
read by an unpickler that resolves only the globals such files need (numpy's array, dtype
and scalar rebuilders, a few builtin and datetime types) and refuses every other one.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import datetime
import importlib
import os
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from dina_core.errors import DatasetError


def _numpy_core(module: str):
    """numpy's ``_core.<module>`` (numpy >= 2), else ``core.<module>`` (numpy 1.x)."""
    try:
        return importlib.import_module(f"numpy._core.{module}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{module}")


_multiarray, _numeric = _numpy_core("multiarray"), _numpy_core("numeric")

ALLOWED_TYPES = "numpy arrays, dtypes and scalars, builtin containers, numbers, text and dates"

# Every global a pickle may name, mapped to the object it gets. Files written by numpy 1 name
# numpy.core, numpy 2 numpy._core; both map to this numpy's functions, so no shim is imported.
_ALLOWED: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _multiarray._reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): _multiarray.scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _numeric._frombuffer for core in ("core", "_core")},
    # protocol 2 (numpy < 1.17 wrote it) stores bytes as _codecs.encode(text, 'latin1')
    ("_codecs", "encode"): codecs.encode,
    **{("builtins", t.__name__): t for t in (set, frozenset, slice, complex, bytearray, range)},
    # suite2p stores ops['date_proc'] = datetime.now()
    **{("datetime", t.__name__): t for t in (datetime.datetime, datetime.date, datetime.time,
                                             datetime.timedelta, datetime.timezone)},
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowed list (it could run code)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name
        super().__init__(f"{module}.{name}")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Python 2 names (__builtin__, copy_reg) as pickle's own fix_imports maps them
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


def npy_header(fp, path: Path, field: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the .npy file open at ``fp`` (DatasetError if not .npy)."""
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(fp)
        if version == (2, 0):
            return npy_format.read_array_header_2_0(fp)
    except ValueError as err:  # numpy's message says what is wrong with the magic or header
        raise DatasetError(path, field, "a .npy file", f"a file numpy cannot read as .npy ({err})") from None
    raise DatasetError(path, field, "a .npy file of format version 1.0 or 2.0",
                       f"format version {version[0]}.{version[1]}")


def load_npy(path: str | os.PathLike, field: str = "<array>") -> np.ndarray:
    """Load a ``.npy`` file; an object array is unpickled with only the allowed globals.

    Unlike ``np.load(allow_pickle=True)``, a file that is not ``.npy`` (a bare pickle, an
    ``.npz``) is refused rather than unpickled.

    Args:
        path: the ``.npy`` file.
        field: what the file holds, for messages (e.g. ``'<pickle>'``).

    Returns:
        The array as stored: numeric arrays as saved, object arrays with their Python objects.

    Raises:
        DatasetError: naming the file and ``field``: not a readable ``.npy`` file, or a pickle
            that names a global outside the allowed types (the message names that global).
    """
    path = Path(path)
    with open(path, "rb") as fp:
        shape, _, dtype = npy_header(fp, path, field)
        if not dtype.hasobject:
            fp.seek(0)
            try:
                return np.load(fp, allow_pickle=False)
            except (ValueError, EOFError) as err:
                raise DatasetError(path, field, "a complete .npy array", f"unreadable ({err})") from None
        try:
            array = _RestrictedUnpickler(fp, encoding="ASCII").load()  # np.load's own encoding
        except RefusedGlobal as err:
            raise DatasetError(path, field, f"a pickle of {ALLOWED_TYPES} only",
                               f"a pickle that calls {err.module}.{err.name} (refused: it could run code)") from None
        except Exception as err:  # truncated or malformed pickles raise many types
            raise DatasetError(path, field, "a readable pickled array",
                               f"a broken pickle ({type(err).__name__}: {err})") from None
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        found = f"shape {array.shape}" if isinstance(array, np.ndarray) else f"a {type(array).__name__}"
        raise DatasetError(path, field, f"an array of the header's shape {tuple(shape)}", found)
    return array
