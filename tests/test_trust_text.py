"""Trust, round two (issue 21), text that is not UTF-8: the file, the field (and row and column) and the byte.

h5py reads a variable-length attribute holding such bytes as a ``str`` with surrogate escapes, without an
error, so it passed every check and failed later (the app could not draw it); a stimulus table said only
"unreadable text ('utf-8' codec ...)". Each case is refused by every reader in one line naming the file and
the field, on the command line too, and changes nothing (:func:`hostile.untouched`).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.data.io import dataset_summary, read_dataset, validate_dataset
from dina_core.errors import DatasetError
from dina_core.importers.suite2p import read_suite2p_source
from hostile import one_line_error, untouched


# --- Text that is not UTF-8 in a DINA file's attributes -------------------------------------------------------

def _vlen(value: bytes) -> dict:
    """A variable-length UTF-8 attribute holding ``value``: h5py reads it back with surrogate escapes, no error."""
    return {"data": np.array(value, dtype=object), "dtype": h5py.string_dtype("utf-8")}


ATTRIBUTES = {  # name: (where, attribute name, how it is written, the field the message names)
    "fixed_bytes": ("/", "name", {"data": b"mouse \xff"}, "/@name"),
    "variable_length": ("/", "citation", _vlen(b"\xe9t\xe9 2024"), "/@citation"),
    "attribute_name": ("/", b"na\xffme", {"data": "x"}, "/@<attribute names>"),
    "behavior_columns": ("/trials/behavior", "columns", _vlen(b'["run\xff", "pupil", "dpupil"]'),
                         "/trials/behavior@columns"),
}


@pytest.mark.parametrize("case", ATTRIBUTES)
def test_an_attribute_that_is_not_utf8_names_file_and_field(case, small_data, tmp_path, capsys):
    where, name, written, field = ATTRIBUTES[case]
    path = write_dataset(tmp_path / "d.h5", small_data)
    with h5py.File(path, "r+") as f:
        if name in f[where].attrs:
            del f[where].attrs[name]
        f[where].attrs.create(name, **written)
    for read in (dataset_summary, read_dataset, validate_dataset):
        with pytest.raises(DatasetError) as info:
            read(path)
        assert (info.value.path, info.value.field) == (str(path), field) and "not UTF-8" in str(info.value), read
    with untouched(tmp_path):
        status = main(["info", str(path)])
    one_line_error(capsys, status, f"{path}: field '{field}': expected text in UTF-8, found byte 0x")


def test_a_stimulus_table_tier_with_byte_0xff_names_row_and_column(s2p_case, capsys):
    """The table the app's import wizard and ``dina import suite2p`` read: the row and column, not a codec."""
    lines = s2p_case.table.read_bytes().split(b"\n")
    header = lines[0].decode().strip().split(",")
    cells = lines[4].split(b",")
    cells[header.index("tier")] = cells[header.index("tier")][:2] + b"\xff" + cells[header.index("tier")][2:]
    lines[4] = b",".join(cells)
    s2p_case.table.write_bytes(b"\n".join(lines))
    s2p_case.refused(lambda: read_suite2p_source(s2p_case.suite2p, stimuli=s2p_case.table, images=s2p_case.images),
                     s2p_case.table, "row 4, column tier", "byte 0xff", "not UTF-8")
    with untouched(s2p_case.root):
        status = main(["import", "suite2p", str(s2p_case.suite2p), str(s2p_case.out), "--overwrite",
                       "--stimuli", str(s2p_case.table), "--images", str(s2p_case.images)])
    one_line_error(capsys, status, f"{s2p_case.table}: field 'row 4, column tier': expected UTF-8 text")
