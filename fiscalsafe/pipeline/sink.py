"""Where the compressed backup goes: one file or numbered parts, never looking complete
until committed.

Bytes are written under hidden ``.partial`` names and hashed on the way, on a thread of
their own (``hash_thread``): BLAKE2b-512 (the minisign sidecar's prehash) and SHA-256
(what reports give). The read-back computes the SHA-256 again from the medium: equal, the
medium holds the bytes the BLAKE2b was taken over, without a second, slower BLAKE2b pass.
``commit`` renames into place only after the caller has read everything back; ``abort``
removes every partial file.
"""

from __future__ import annotations

import contextlib
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fiscalsafe import fsio, oscompat
from fiscalsafe.errors import OperationalError
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.hash_thread import BackgroundHashes

READBACK_CHUNK = 1024 * 1024


@dataclass
class Part:
    final: Path
    partial: Path
    size: int = 0
    blake2b: bytes = b""
    sha256: str = ""
    # Read-back progress: bytes re-read from the medium so far, and their digest.
    _read: int = field(default=0, repr=False)
    _read_sha256: object = field(default=None, repr=False)


def part_name(base: str, index: int | None) -> str:
    return base if index is None else f"{base}.{index:03d}"


class OutputSink:
    """A file-like sink that splits into parts of at most ``split_size`` bytes."""

    def __init__(self, dest: Path, file_name: str, split_size: int | None):
        self.dest = dest
        self.file_name = file_name
        self.split_size = split_size
        self.parts: list[Part] = []
        self._fh = None
        self._left = 0
        self._hashes: BackgroundHashes | None = None
        self.closed = False
        #: False once a read-back could not bypass the system's cache (see ``drop_cache``).
        self.read_from_medium = True

    def _open_next(self) -> None:
        self._close_current()
        index = len(self.parts) + 1 if self.split_size else None
        if index is not None and index > 999:
            # Part names have three digits; a verifier would not recognise a 1000th part.
            raise OperationalError(_("the backup needs more than 999 parts: use a larger --split"))
        name = part_name(self.file_name, index)
        part = Part(final=self.dest / name, partial=self.dest / f".{name}.partial")
        if self._hashes is None:
            self._hashes = BackgroundHashes(READBACK_CHUNK)
        self.parts.append(part)
        # Exclusive and without following links: a link planted at the partial's name
        # would otherwise send the archive through it (over a previous good backup).
        self._fh = fsio.create_new(part.partial)
        self._left = self.split_size or -1

    def write(self, data) -> int:
        view = memoryview(data)
        total = len(view)
        while view:
            if self._fh is None or self._left == 0:
                self._open_next()
            take = len(view) if self._left < 0 else min(self._left, len(view))
            chunk = view[:take]
            self._fh.write(chunk)
            self._hashes.update(chunk)
            part = self.parts[-1]
            part.size += take
            if self._left > 0:
                self._left -= take
            view = view[take:]
        return total

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def _close_current(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            oscompat.full_fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            part = self.parts[-1]
            part.blake2b, part.sha256 = self._hashes.digests()

    def close(self) -> None:
        """Flush and fsync every part. An empty stream still gets one (empty) part."""
        if self.closed:
            return
        if not self.parts:
            self._open_next()
        try:
            self._close_current()
        finally:
            self._end_hashes()
        self.closed = True

    def _end_hashes(self) -> None:
        if self._hashes is not None:
            self._hashes.close()

    def read_back_written(self) -> None:
        """Read back what is already written, while the caller waits for something else.

        A backup waits for the fiscal check's verdict before it writes its manifest: by
        then nearly the whole archive is on the medium, and reading it back meanwhile
        takes the read-back out of the backup's time. ``readback`` does the rest."""
        if self._fh is not None:
            self._fh.flush()
            oscompat.full_fsync(self._fh.fileno())
        with ThreadPoolExecutor(1, thread_name_prefix="fiscalsafe-readback") as pool:
            for part in self.parts:
                self._read_back(part, pool)

    def readback(self) -> None:
        """Re-read every part from the medium and compare with what was written.

        The system's cache is bypassed first (``oscompat.drop_cache``) so the bytes come
        from the device where the system allows it, not from memory; where it does not,
        ``read_from_medium`` turns False and the caller says so. The digest
        runs in a thread (hashlib releases the GIL) while the next chunk is read.
        """
        if not self.closed:
            raise RuntimeError("readback() before close()")
        with ThreadPoolExecutor(1, thread_name_prefix="fiscalsafe-readback") as pool:
            for part in self.parts:
                self._read_back(part, pool)
                if part._read != part.size or part._read_sha256.hexdigest() != part.sha256:
                    raise OperationalError(
                        _(
                            "read-back of {name} differs from what was written ({read} bytes "
                            "read, {written} written): the medium is failing",
                            name=part.partial.name,
                            read=part._read,
                            written=part.size,
                        )
                    )

    def _read_back(self, part: Part, pool: ThreadPoolExecutor) -> None:
        """Continue re-reading ``part`` from where the last read-back stopped to its end."""
        if part._read_sha256 is None:
            part._read_sha256 = hashlib.sha256()
        hashing: Future | None = None
        fh = fsio.open_regular(part.partial, N_("backup part"), OperationalError)
        if fh is None:
            raise OperationalError(_("{path} vanished before it was read back", path=part.partial))
        with fh:
            fh.seek(part._read)
            if not oscompat.drop_cache(fh.fileno(), part._read):
                self.read_from_medium = False
            while chunk := fh.read(READBACK_CHUNK):
                if hashing is not None:
                    hashing.result()
                hashing = pool.submit(part._read_sha256.update, chunk)
                part._read += len(chunk)
        if hashing is not None:
            hashing.result()

    def abort(self) -> None:
        self._end_hashes()
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        for part in self.parts:
            # A read-only or failing medium may refuse this too: the error that made us
            # abort is the one to report, not the clean-up's.
            with contextlib.suppress(OSError):
                part.partial.unlink(missing_ok=True)


fsync_dir = fsio.fsync_dir
