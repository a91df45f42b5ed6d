"""Writing a POSIX pax tar stream by hand, one member at a time.

``tarfile`` builds the headers (``TarInfo.tobuf``), but its ``addfile`` copies through
small buffers and cannot hash on the way; here the caller streams each member's content
in large chunks, hashing as it goes, and this module adds the padding and the end marker.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

BLOCK = 512
RECORD = 20 * BLOCK  # GNU tar's default record size


def member_header(name: str, size: int, mode: int, mtime_ns: int) -> bytes:
    """A pax header for a regular file, with the mtime to the nanosecond."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode & 0o7777
    info.mtime = mtime_ns // 1_000_000_000
    info.type = tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if mtime_ns % 1_000_000_000:
        seconds, nanos = divmod(mtime_ns, 1_000_000_000)
        info.pax_headers = {"mtime": f"{seconds}.{nanos:09d}"}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class TarWriter:
    """Counts what it writes so the end marker can fill the last record."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self.offset = 0

    def write(self, data: bytes | memoryview) -> None:
        self._out.write(data)
        self.offset += len(data)

    def account(self, count: int) -> None:
        """``count`` bytes of the stream that reached the output another way (a ready
        compressed frame)."""
        self.offset += count

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644, mtime_ns: int = 0) -> None:
        self.write(member_header(name, len(data), mode, mtime_ns))
        self.write(data)
        self.write(padding(len(data)))

    def end(self) -> None:
        """Two zero blocks, then zeros up to a whole record, as GNU tar writes."""
        self.write(b"\0" * (2 * BLOCK))
        self.write(b"\0" * (-self.offset % RECORD))
