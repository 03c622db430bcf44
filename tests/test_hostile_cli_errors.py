"""How the command line reports what went wrong: a user error, a bug, the file system, Ctrl-C.

A user error is one ``error:`` line (``--debug`` adds the traceback); a bug is an ``internal error``
naming where it happened; permission, disk-full and interrupt errors are user errors with their own
exit status. Each runs ``dina_core.cli.main`` in-process on the good files (``good_files``).
"""

from __future__ import annotations

import pytest

from dina_core.cli import main


def test_debug_shows_the_traceback_of_a_user_error(good_files, tmp_path, capsys):
    assert main(["--debug", "train", good_files.data, "--out", str(tmp_path / "r"), "--lr", "nan"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith("error: --lr nan")
    assert main(["info", str(tmp_path / "absent.h5"), "--debug"]) == 2  # also after the command
    assert "Traceback" in capsys.readouterr().err


def test_a_bug_is_an_internal_error_with_where_it_happened(good_files, monkeypatch, capsys):
    def broken(path):
        return {"n": 1 / 0}
    monkeypatch.setattr("dina_core.data.io.dataset_summary", broken)
    assert main(["info", good_files.data]) == 1
    err = capsys.readouterr().err
    assert err.startswith("internal error: ZeroDivisionError") and "test_hostile_cli_errors.py" in err
    assert "rerun with --debug" in err and "Traceback" not in err
    assert main(["--debug", "info", good_files.data]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize("raised, status, words", [
    (PermissionError(13, "Permission denied", "/lab/rec.h5"), 2, ["error: /lab/rec.h5: Permission denied"]),
    (OSError(28, "No space left on device", "/lab/out.h5"), 2, ["/lab/out.h5", "free space"]),
    (KeyboardInterrupt(), 130, ["error: interrupted"]),
])
def test_file_system_errors_and_ctrl_c_are_user_errors(good_files, monkeypatch, capsys, raised, status, words):
    def fails(path):
        raise raised
    monkeypatch.setattr("dina_core.data.io.dataset_summary", fails)
    assert main(["info", good_files.data]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(w in err for w in words), err
