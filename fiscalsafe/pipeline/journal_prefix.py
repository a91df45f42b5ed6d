"""Which leading records of an event journal were already proven, byte for byte.

The journal only grows: each night it holds the records of the night before, then the
day's. A journal that verified in full is remembered as its length, its SHA-256 and its
record count (a ``JournalPrefix``). Later, a journal whose first ``nbytes`` hash to that
digest starts with exactly those records, signed by the same keys: their signatures verify
as they did, and need not be checked again. The link, sequence, time and event checks
still run over every record, and every record after the prefix is verified in full.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class JournalPrefix:
    """The first ``nbytes`` of a journal, hashing to ``sha256``, hold ``records`` records
    that verified (signature, link, sequence, time) under the trust they were proven with."""

    nbytes: int
    sha256: str
    records: int

    def to_json(self) -> dict:
        return {"bytes": self.nbytes, "sha256": self.sha256, "records": self.records}

    @classmethod
    def from_json(cls, doc: dict) -> JournalPrefix:
        nbytes, sha256, records = doc["bytes"], doc["sha256"], doc["records"]
        if not (isinstance(nbytes, int) and isinstance(records, int)):
            raise ValueError("prefix length and count must be integers")
        if nbytes <= 0 or records <= 0 or not isinstance(sha256, str) or len(sha256) != 64:
            raise ValueError("not a journal prefix")
        return cls(nbytes, sha256, records)


class HashingReader:
    """Reads a stream while hashing everything read, and notes the digest of the first
    ``prefix.nbytes`` bytes on the way: one pass gives both the whole journal's digest
    (to remember tonight) and whether it starts with the remembered prefix."""

    def __init__(self, stream: BinaryIO, prefix: JournalPrefix | None):
        self._stream = stream
        self._prefix = prefix
        self._whole = hashlib.sha256()
        self.nbytes = 0
        self.prefix_matches = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if self._prefix is not None and self.nbytes < self._prefix.nbytes <= self.nbytes + len(
            chunk
        ):
            cut = self._prefix.nbytes - self.nbytes
            self._whole.update(chunk[:cut])
            self.prefix_matches = self._whole.hexdigest() == self._prefix.sha256
            self._whole.update(chunk[cut:])
        else:
            self._whole.update(chunk)
        self.nbytes += len(chunk)
        return chunk

    def digest(self) -> str:
        return self._whole.hexdigest()
