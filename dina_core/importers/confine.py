"""Nothing outside the given source folder is read: a link inside it may not lead out of it.

The folder a user names (a Sensorium static folder, a suite2p folder, a folder of images) is theirs to
name, links included: it is resolved first. What lies *inside* it came with the recording, from
whoever made it, so a file or folder below it that resolves outside it (``data/responses/0.npy ->
/home/you/secret.npy``) is refused, in the CLI and the app alike. The app's narrower rule (nothing
outside its data folder, ``dina_core.paths``) comes on top of this one.
"""

from __future__ import annotations

import os
from pathlib import Path

from dina_core.errors import DatasetError


class Confined:
    """Resolves paths below one folder, refusing those that lead out of it.

    Each folder is resolved once; a file is then resolved only when it is itself a link
    (one ``lstat``), so a Sensorium folder of 24,000 trial files costs little more than listing it.
    """

    def __init__(self, base: str | os.PathLike, src: str | os.PathLike | None = None):
        """``base``: the folder (resolved here); ``src``: how messages name it (default ``base``)."""
        self.base = Path(os.path.realpath(base))
        self.src = base if src is None else src
        self._folders: dict[Path, Path] = {}

    def _refuse(self, path: Path, target: str) -> DatasetError:
        try:
            field = str(path.relative_to(self.src))
        except ValueError:
            field = str(path)
        return DatasetError(self.src, field, f"a file inside the source folder {self.base} (a link in a "
                            "recording may not lead out of it)", f"a link to {target}, outside it")

    def folder(self, path: str | os.PathLike) -> Path:
        """``path`` (a folder below ``base``) resolved; DatasetError when it leads out."""
        path = Path(path)
        resolved = self._folders.get(path)
        if resolved is None:
            resolved = Path(os.path.realpath(path))
            if not resolved.is_relative_to(self.base):
                raise self._refuse(path, str(resolved))
            self._folders[path] = resolved
        return resolved

    def file(self, path: str | os.PathLike) -> Path:
        """``path`` (a file below ``base``) resolved; DatasetError when it leads out.

        A path that does not exist is returned as it is: the reader reports it missing.
        """
        path = Path(path)
        target = self.folder(path.parent) / path.name
        if os.path.islink(target):
            resolved = os.path.realpath(target)
            if not Path(resolved).is_relative_to(self.base):
                raise self._refuse(path, resolved)
            return Path(resolved)
        return target
