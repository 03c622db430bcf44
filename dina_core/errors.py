"""User-facing errors: the CLI and the app show their message, never a traceback."""

from __future__ import annotations


class DinaError(Exception):
    """Base class for errors caused by the user's input rather than a bug."""


class DatasetError(DinaError):
    """A dataset file or source folder does not hold what DINA expects.

    The message always names the file, the field, what was expected and what was found.
    """

    def __init__(self, path, field: str, expected: str, found: str):
        self.path, self.field, self.expected, self.found = str(path), field, expected, found
        super().__init__(f"{self.path}: field '{field}': expected {expected}, found {found}")


class DiskFullError(DinaError):
    """A write that ran out of disk space (or into a file size or quota limit): nothing of it was kept."""

    def __init__(self, path, reason: str, earlier: bool):
        self.path, self.reason = str(path), reason
        kept = ", the earlier file is unchanged" if earlier else ""
        super().__init__(f"{self.path}: the disk is full ({reason}); nothing was written{kept}")


class CheckpointError(DinaError):
    """A run folder or checkpoint is missing, corrupt or does not match the data."""


class DinaWarning(UserWarning):
    """Input that is usable but degenerate (a tiny test tier, neurons that never vary): shown, not refused."""
