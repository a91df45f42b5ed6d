"""Remembered frames: the compressed segments of the last backup, kept in the per-dossier
state folder, so that the next backup does not compress the same bytes again.

A payload file of at least ``SEGMENT`` bytes is packaged as segments of ``SEGMENT`` bytes
counted from its start (the last one shorter), each compressed as a zstd frame of its own
(``schemas/backup-format.md``). A backup keeps every segment's frame in one file per dossier
and kind beside its state file (``dossiers/<id>.frames-<kind>``), with an index entry: the
file, the segment's offset and length, the compression level, the SHA-256 of the file's
bytes from its start to the segment's end (the packaging's running hash gives it for free)
and the SHA-256 of the frame. The index carries an HMAC-SHA256 under a key derived with
HKDF-SHA256 from the shop's secret key (``HKDF_INFO``): nobody without that key can make a
backup take a frame for bytes it was not made from.

The next backup takes a segment's frame instead of compressing the segment when the index
authenticates and names this dossier and kind, the same file, offset, length and level, the
prefix digest the packaging has just computed, and when the frame's bytes hash to the
recorded digest; the first time a frame is taken, it must also decode to the segment's
bytes (``decodes_to``), and the next index marks it as checked. A file that only grew is
compressed again from its last segment; one changed in place, from its first changed
segment. Anything else (no file, another key, a damaged file) means the segments are
compressed, as on a first backup.

Layout: the frames, one after another; the index (msgpack); its HMAC (32 bytes); the
index's length (8 bytes, little-endian); ``MAGIC``. Written under a partial name and
renamed into place, never synced: a file lost or damaged in a crash only fails to
authenticate, and costs the next backup its compression time.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from fiscalsafe import fsio
from fiscalsafe.errors import FiscalsafeError, OperationalError
from fiscalsafe.formats.packing import pack, unpack
from fiscalsafe.i18n import N_
from fiscalsafe.pipeline.proofs import hkdf_sha256

FRAMES_FORMAT = "fiscalsafe-frames"
FRAMES_VERSION = [1, 0]
#: Fixed label of the key derivation: this key authenticates remembered frames only.
HKDF_INFO = b"fiscalsafe remembered frames v1"
MAGIC = b"FSFRAME1"
SEGMENT = 8 * 1024 * 1024
#: Smaller files stay in the frame the small files share: a frame of their own would cost
#: them the shared window's compression, for too little to save.
SEGMENTED_FROM = 64 * 1024
#: zstd's bound for one segment (ZSTD_compressBound), plus the frame header and checksum.
MAX_FRAME = SEGMENT + SEGMENT // 255 + 128 * 1024
MAX_INDEX_BYTES = 16 * 1024 * 1024
_TRAILER = 32 + 8 + len(MAGIC)

SegmentKey = tuple[str, int, int, int]  # file, offset, length, level


def frames_key(seed: bytes) -> bytes:
    return hkdf_sha256(seed, HKDF_INFO)


def _mac(key: bytes, index: bytes) -> bytes:
    return hmac.new(key, MAGIC + index, hashlib.sha256).digest()


class RememberedFrames:
    """The frames the last backup of this dossier and kind kept, if they authenticate."""

    def __init__(self) -> None:
        self._fh: BinaryIO | None = None
        self._entries: dict[SegmentKey, tuple[bytes, int, int, bytes, bool]] = {}

    @classmethod
    def open(cls, path: Path, key: bytes, dossier: str, kind: str) -> RememberedFrames:
        """What ``path`` holds; empty when it is missing, unreadable or does not
        authenticate (the segments are then compressed, as on a first backup)."""
        frames = cls()
        try:
            fh = fsio.open_regular(path, N_("remembered frames"), OperationalError)
        except FiscalsafeError:
            return frames
        if fh is None:
            return frames
        try:
            frames._entries = _read_index(fh, key, dossier, kind)
        except (OSError, ValueError, TypeError, KeyError, FiscalsafeError):
            frames._entries = {}
        if frames._entries:
            frames._fh = fh
        else:
            fh.close()
        return frames

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def has(self, key: SegmentKey) -> bool:
        return key in self._entries

    def stands_for(self, key: SegmentKey, prefix_sha256: bytes) -> bool:
        """True when the frame kept for ``key`` was made from bytes with this prefix
        digest: the file's bytes up to the segment's end are the same."""
        entry = self._entries.get(key)
        same = entry is not None and entry[0] == prefix_sha256
        return same and self._fh is not None

    def read(self, key: SegmentKey, segment) -> bytes | None:
        """The frame kept for ``key``, if its bytes are the ones recorded and, the first
        time it is taken, it decodes to exactly ``segment``. Called from one thread at a
        time (it moves the file's position)."""
        entry = self._entries.get(key)
        if entry is None or self._fh is None:
            return None
        _, offset, size, sha256, checked = entry
        try:
            self._fh.seek(offset)
            data = self._fh.read(size)
        except (OSError, ValueError):
            return None
        if len(data) != size or hashlib.sha256(data).digest() != sha256:
            return None
        if not checked and not decodes_to(data, segment):
            return None
        return data

    def sha256(self, key: SegmentKey) -> bytes:
        return self._entries[key][3]


def decodes_to(frame: bytes, expected) -> bool:
    """True when ``frame`` is a zstd frame that decodes to exactly ``expected``.

    A frame is decoded once, the first time a backup takes it: a fault while it was made
    (memory, a bug) must not go on into every backup that takes it again. Its SHA-256
    guards it from then on."""
    try:
        got = zstandard.ZstdDecompressor().decompress(frame, max_output_size=len(expected))
    except zstandard.ZstdError:
        return False
    return got == bytes(expected)  # bytes against bytes: a memcmp, not a walk of a view


def _read_index(
    fh: BinaryIO, key: bytes, dossier: str, kind: str
) -> dict[SegmentKey, tuple[bytes, int, int, bytes, bool]]:
    size = os.fstat(fh.fileno()).st_size
    if size < _TRAILER:
        return {}
    fh.seek(size - _TRAILER)
    trailer = fh.read(_TRAILER)
    mac, length, magic = trailer[:32], int.from_bytes(trailer[32:40], "little"), trailer[40:]
    if magic != MAGIC or length > min(MAX_INDEX_BYTES, size - _TRAILER):
        return {}
    data_end = size - _TRAILER - length
    fh.seek(data_end)
    index = fh.read(length)
    if len(index) != length or not hmac.compare_digest(_mac(key, index), mac):
        return {}
    doc = unpack(index, "remembered frames")
    if (
        doc["format"] != FRAMES_FORMAT
        or doc["version"][0] != FRAMES_VERSION[0]
        or doc["dossier"] != dossier
        or doc["kind"] != kind
        or doc["segment"] != SEGMENT
    ):
        return {}
    entries = {}
    for file, start, length_, level, prefix, offset, frame_size, sha256, checked in doc["frames"]:
        fields = (start, length_, level, offset, frame_size)
        if not isinstance(file, str) or not all(type(x) is int and x >= 0 for x in fields):
            raise ValueError("remembered frames: an entry of the wrong shape")
        if not (isinstance(prefix, bytes) and isinstance(sha256, bytes)) or checked not in (
            True,
            False,
        ):
            raise ValueError("remembered frames: an entry of the wrong shape")
        if frame_size > MAX_FRAME or offset + frame_size > data_end:
            raise ValueError("remembered frames: an entry outside the file")
        entries[(file, start, length_, level)] = (prefix, offset, frame_size, sha256, checked)
    return entries


class FrameRecorder:
    """Writes this backup's frames for the next one. Never fails the backup: an error
    writing here only means the next backup compresses everything again."""

    def __init__(self, path: Path, key: bytes, dossier: str, kind: str):
        self.path = path
        self._key, self._dossier, self._kind = key, dossier, kind
        self._partial = fsio.partial_name(path)
        self._entries: list[tuple[SegmentKey, Future, int, int, bytes, bool]] = []
        self._offset = 0
        self._identity: tuple[int, int] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: BinaryIO | None = fsio.create_new(self._partial, mode=0o600)
            st = os.fstat(self._fh.fileno())
            self._identity = (st.st_dev, st.st_ino)
        except (OSError, FiscalsafeError):
            self._fh = None

    def add(
        self, key: SegmentKey, prefix: Future, frame: bytes, sha256: bytes = b"", checked=False
    ) -> None:
        """``frame`` compresses the segment ``key``; ``prefix`` is the future of the
        running hash objects (SHA-256) at the segment's end; ``sha256``, the frame's
        digest when it is already known; ``checked``, whether it was decoded back to the
        segment."""
        if self._fh is None:
            return
        try:
            self._fh.write(frame)
        except OSError:
            self._fail()
            return
        sha256 = sha256 or hashlib.sha256(frame).digest()
        self._entries.append((key, prefix, self._offset, len(frame), sha256, checked))
        self._offset += len(frame)

    def commit(self) -> None:
        """Write the index and put the file in place of the last backup's."""
        if self._fh is None:
            return
        try:
            frames = [
                [*key, prefix.result()[0].digest(), offset, size, sha256, checked]
                for key, prefix, offset, size, sha256, checked in self._entries
            ]
        except Exception:  # the packaging's hashing failed: it reports that itself
            self._fail()
            return
        doc: dict[str, Any] = {
            "format": FRAMES_FORMAT,
            "version": FRAMES_VERSION,
            "dossier": self._dossier,
            "kind": self._kind,
            "segment": SEGMENT,
            "frames": frames,
        }
        index = pack(doc)
        try:
            self._fh.write(index + _mac(self._key, index) + len(index).to_bytes(8, "little"))
            self._fh.write(MAGIC)
            self._fh.close()
            self._fh = None
            if not self._still_ours():  # another backup of this dossier took the name
                return
            fsio.install(self._partial, self.path)
        except (OSError, FiscalsafeError):
            self._fail()

    def abort(self) -> None:
        self._fail()

    def _fail(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        if self._still_ours():
            with contextlib.suppress(OSError):
                self._partial.unlink()

    def _still_ours(self) -> bool:
        """True when the partial name still holds the file this recorder created."""
        try:
            st = os.lstat(self._partial)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity
