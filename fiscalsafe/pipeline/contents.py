"""``list ARCHIVE``: a backup's contents and manifest summary, without extracting.

Reads the stream once and keeps only the manifest; nothing is authenticated here (that is
``verify``'s job), and the output says so.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import zstandard

from fiscalsafe import fsio
from fiscalsafe.errors import MalformedError, UsageError
from fiscalsafe.formats.layout import MANIFEST_PATH
from fiscalsafe.formats.manifest import parse_manifest
from fiscalsafe.formats.tarstream import REGULAR, TarReader
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.verify_backup import ZSTD_MAGIC, discover

MAX_MANIFEST = 256 * 1024 * 1024


def list_archive(target: Path) -> dict[str, Any]:
    groups = discover([target])
    files = groups[0]
    if not all(p.is_file() for p in files):
        raise UsageError(_("{target} is not a backup file", target=target))
    stream = io.BufferedReader(_Concat(files), 1024 * 1024)
    if stream.peek(4)[:4] == ZSTD_MAGIC:
        stream = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    tar = TarReader(stream)
    manifest_bytes = None
    members = []
    try:
        for m in tar.members():
            rel = m.name.partition("/")[2]
            members.append({"name": m.name, "type": m.type, "size": m.size})
            if m.type == REGULAR and rel == MANIFEST_PATH and m.size <= MAX_MANIFEST:
                manifest_bytes = b"".join(iter(tar.read, b""))
    except (MalformedError, zstandard.ZstdError) as exc:
        raise MalformedError(
            _(
                "{target}: damaged archive ({problem}); run 'fiscalsafe verify'",
                target=target,
                problem=exc,
            )
        ) from None
    if manifest_bytes is None:
        raise MalformedError(
            _("{target}: no fiscalsafe manifest inside; try 'fiscalsafe verify'", target=target)
        )
    manifest = parse_manifest(manifest_bytes)
    doc = manifest.to_json()
    return {
        "archive": str(target),
        "authenticated": False,
        "manifest": {k: v for k, v in doc.items() if k != "files"},
        "files": [{"path": f.path, "category": f.category, "size": f.size} for f in manifest.files],
        "members": len(members),
    }


class _Concat(io.RawIOBase):
    def __init__(self, files: list[Path]):
        self._files = list(files)
        self._fh = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if self._fh is None:
                if not self._files:
                    return 0
                path = self._files.pop(0)
                self._fh = fsio.open_regular(path, N_("backup file"), UsageError)
                if self._fh is None:
                    raise UsageError(_("{path} does not exist", path=path))
            n = self._fh.readinto(buffer)
            if n:
                return n
            self._fh.close()
            self._fh = None
