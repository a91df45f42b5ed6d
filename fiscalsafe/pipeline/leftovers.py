"""Hidden partial files a backup left behind when it could not clean up (a power cut, a
stick pulled out): found for ``list`` and ``verify`` of a folder, removed by the next
backup of the same name.

Only names the writer makes match: ``.FILE.partial`` for the archive (``OutputSink``),
``.FILE.NNN.partial`` for a part, and ``.FILE[.NNN].minisig.partial`` for a sidecar
(``backup._commit_archive``), where FILE ends with ``layout.EXTENSION``. Nothing else in
the folder is ever touched.
"""

from __future__ import annotations

import contextlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe.formats.layout import EXTENSION, SIDECAR

PARTIAL_NAME = re.compile(
    r"\.(?P<file>[^/\\]+"
    + re.escape(EXTENSION)
    + r")(?:\.[0-9]{3})?(?:"
    + re.escape(SIDECAR)
    + r")?\.partial"
)


@dataclass(frozen=True)
class Leftover:
    path: Path
    file: str  # the backup file whose write it was part of
    size: int

    def to_json(self) -> dict:
        return {"path": str(self.path), "file": self.file, "size": self.size}


def find_leftovers(folder: Path) -> list[Leftover]:
    """Every partial file of an unfinished backup in ``folder`` (regular files and links)."""
    found = []
    for path in sorted(folder.glob(".*.partial")):
        match = PARTIAL_NAME.fullmatch(path.name)
        if match is None:
            continue
        with contextlib.suppress(OSError):
            st = path.lstat()
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                found.append(Leftover(path, match["file"], size))
    return found


def remove_leftovers(folder: Path, file_name: str) -> list[Leftover]:
    """Remove (as themselves, never through a link) the partial files of an unfinished
    backup named ``file_name``; return them."""
    removed = []
    for leftover in find_leftovers(folder):
        if leftover.file == file_name:
            with contextlib.suppress(FileNotFoundError):
                leftover.path.unlink()
            removed.append(leftover)
    return removed
