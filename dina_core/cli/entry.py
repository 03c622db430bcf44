"""``main``: the one top-level error path of the ``dina`` command.

A user's mistake is said in one line, ``error: <what, where, what was expected>`` on stderr, exit
status 2, no traceback. User errors are DinaError (and its subclasses: bad data files, checkpoints,
option values, other data), OSError about a file (missing, a folder, permission, disk full), text a
``--config`` cannot be decoded from, and Ctrl-C (exit 130). Anything else is a bug in DINA: its
type, message and where it happened are shown with a request to rerun with ``--debug`` (exit 1).
``--debug`` prints the full traceback of any error.
"""

from __future__ import annotations

import errno
import json
import sys
import traceback
import warnings

from ..errors import DinaError, DinaWarning

USER_ERROR, INTERNAL_ERROR, INTERRUPTED = 2, 1, 130
_OS_EXPECTED = {errno.ENOENT: "an existing file or folder", errno.EISDIR: "a file, not a folder",
                errno.ENOTDIR: "a folder where a file was given", errno.EACCES: "a path you may read or write",
                errno.EPERM: "a path you may read or write", errno.EEXIST: "a path that does not exist yet",
                errno.ENOSPC: "free space on the disk", errno.EROFS: "a writable file system"}


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a user error, or None when ``exc`` is a bug."""
    if isinstance(exc, DinaError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        expected = _OS_EXPECTED.get(exc.errno, "a path that can be used")
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        return f"{where}: {exc.strerror or exc}; expected {expected}"
    if isinstance(exc, UnicodeDecodeError):
        return f"text that is not {exc.encoding} (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); " \
               f"expected a {exc.encoding} text file"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); expected a JSON file"
    return None


def _where(exc: BaseException) -> str:
    """'file:line in function' of the innermost frame, and of the innermost one in DINA's core when that differs."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    where = [frames[-1]]
    core = [f for f in frames if "dina_core" in f.filename]
    if core and core[-1] is not frames[-1]:
        where.append(core[-1])
    text = [f"{f.filename}:{f.lineno} in {f.name}" for f in where]
    return text[0] + (f" (called from {text[1]})" if len(text) > 1 else "")


def _say_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """DinaWarnings (usable but degenerate input) read as ``warning: ...``; others keep Python's format."""
    if issubclass(category, DinaWarning):
        print(f"warning: {message}", file=sys.stderr if file is None else file)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Run ``dina`` with ``argv`` (default: the process's arguments); returns the exit status."""
    from .parser import build_parser

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a parse error already said as "error: ..."
        return stop.code if isinstance(stop.code, int) else USER_ERROR
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _say_warning
            args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print("error: interrupted (Ctrl-C); files being written were left as they were before", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        message = user_message(exc)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return USER_ERROR
        print(f"internal error: {type(exc).__name__}: {exc}\n  at {_where(exc)}\n"
              f"This is a bug in DINA, not a problem with your input; "
              f"{'the traceback is above' if args.debug else 'rerun with --debug to see the traceback'} "
              f"and please report it.", file=sys.stderr)
        return INTERNAL_ERROR
    return 0
