"""Verification step (2): the container.

The parts are read one after another, each hashed for its sidecar (steps 1 and 5) while
the zstd frames are walked; the tar members streamed out of them go to the member rules
(step 3). Findings here are about the container only: frames, headers, end marker.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from fiscalsafe import fsio
from fiscalsafe.errors import (
    FiscalsafeError,
    MalformedError,
    OperationalError,
    TruncatedError,
    UsageError,
)
from fiscalsafe.formats.tarstream import TarReader
from fiscalsafe.formats.zstdframes import FrameWalker
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.hash_thread import BackgroundHashes
from fiscalsafe.pipeline.verify_members import CHUNK, StreamState
from fiscalsafe.pipeline.verify_steps import StepResult
from fiscalsafe.verify.findings import Finding, finding

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class ArchiveFile:
    path: Path
    size: int = 0
    sha256: str = ""
    blake2b: bytes = b""


@dataclass(frozen=True, kw_only=True)
class ContainerPass(StepResult):
    """What steps (2) and (3) hand on: the members read, and the container's shape when it
    is intact (``None`` when it is damaged: the shape is then not compared with the
    manifest)."""

    members: int = 0
    shape: bindings.ContainerShape | None = None


class TeeReader(io.RawIOBase):
    """Reads the parts one after another, hashing each (on a thread of its own, see
    ``hash_thread``) and walking zstd frames. ``close`` ends the hashing thread."""

    def __init__(self, files: list[ArchiveFile], walker: FrameWalker | None, progress):
        self._files = files
        self._index = 0
        self._fh: BinaryIO | None = None
        self._hashes = BackgroundHashes(CHUNK)
        self._walker = walker
        self._progress = progress
        self.total = 0

    def close(self) -> None:
        self._hashes.close()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()

    def readable(self) -> bool:
        return True

    def _open(self) -> bool:
        if self._index >= len(self._files):
            return False
        path = self._files[self._index].path
        self._fh = fsio.open_regular(path, N_("backup file"), OperationalError)
        if self._fh is None:
            raise OperationalError(_("{path} vanished while it was read", path=path))
        return True

    def _close(self) -> None:
        info = self._files[self._index]
        info.blake2b, info.sha256 = self._hashes.digests()
        self._fh.close()
        self._fh = None
        self._index += 1

    def readinto(self, buffer) -> int:
        while True:
            if self._fh is None and not self._open():
                return 0
            n = self._fh.readinto(buffer)
            if n:
                view = memoryview(buffer)[:n]
                self._hashes.update(view)
                self._files[self._index].size += n
                if self._walker is not None:
                    self._walker.feed(view)
                self.total += n
                if self._progress:
                    self._progress(self.total)
                return n
            self._close()


def is_zstd(path: Path) -> bool:
    """Whether the first part starts with a zstd frame (else it is a plain tar)."""
    try:
        head = fsio.open_regular(path, N_("backup file"), UsageError)
        if head is None:
            raise UsageError(_("{path} does not exist", path=path))
        with head:
            return head.read(4) == ZSTD_MAGIC
    except OSError as exc:
        raise FiscalsafeError(
            _("cannot read {name}: {error}", name=path, error=exc.strerror)
        ) from None


def read_container(
    infos: list[ArchiveFile], target: str, compressed: bool, state: StreamState, progress
) -> ContainerPass:
    """(2) One pass over the parts, handing each tar member to ``state`` (3)."""
    walker = FrameWalker() if compressed else None
    tee = TeeReader(infos, walker, progress)
    try:
        return _read_through(tee, walker, target, compressed, state)
    finally:
        tee.close()
        state.end_pass()


def _read_through(
    tee: TeeReader, walker: FrameWalker | None, target: str, compressed: bool, state: StreamState
) -> ContainerPass:
    found: list[Finding] = []
    add = found.append
    raw = io.BufferedReader(tee, CHUNK)
    stream = (
        zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, read_size=CHUNK)
        if compressed
        else raw
    )
    tar = TarReader(stream)
    members = 0
    container_ok = True
    try:
        for member in tar.members():
            members += 1
            state.member(member, tar, add)
    except zstandard.ZstdError as exc:
        container_ok = False
        add(
            finding(
                "CONTAINER_CORRUPT",
                _("zstd: {problem}", problem=exc),
                file=target,
                offset=tee.total,
            )
        )
    except MalformedError as exc:
        container_ok = False
        code = "CONTAINER_TRUNCATED" if isinstance(exc, TruncatedError) else "CONTAINER_CORRUPT"
        add(finding(code, str(exc), file=target, offset=tar.offset))
    except BaseException:
        state.close()  # the fiscal checker may already run worker processes
        raise
    shape = None
    if container_ok:
        shape = _finish_container(raw, tee, tar, walker, target, add)
    else:
        # Keep hashing to the end, so the sidecar verdict is about the whole file. The
        # container is already reported damaged: the frame walker has nothing to add, and
        # must not raise on the rest (a missing part leaves the next one mid-frame).
        tee._walker = None
        while tee.readinto(bytearray(CHUNK)):
            pass
    return ContainerPass(
        findings=tuple(found), checks=("container", "members"), members=members, shape=shape
    )


def _finish_container(
    raw, tee: TeeReader, tar: TarReader, walker: FrameWalker | None, target: str, add
) -> bindings.ContainerShape | None:
    """Read to the end of an intact tar stream; its shape, unless frames or trailing
    bytes are already reported."""
    # Drain what the decompressor still holds, so the frame walker sees every byte.
    try:
        while raw.read(CHUNK):
            pass
    except OSError:
        pass
    except MalformedError as exc:  # bad frames after the tar's end (a stray part...)
        add(finding("CONTAINER_CORRUPT", str(exc), file=target, offset=tee.total))
        walker = tee._walker = None
        while tee.readinto(bytearray(CHUNK)):
            pass
    if not tar.end_marker:
        add(
            finding(
                "CONTAINER_TRUNCATED",
                _("the tar stream ends without its end-of-archive marker"),
                file=target,
                offset=tar.offset,
            )
        )
    if tar.trailing_garbage:
        add(
            finding(
                "CONTAINER_CORRUPT",
                _("data follows the end-of-archive marker"),
                file=target,
                offset=tar.offset,
            )
        )
    if walker is not None:
        try:
            walker.finish()
        except MalformedError as exc:
            add(finding("CONTAINER_TRUNCATED", str(exc), file=target))
    if tar.trailing_garbage or (walker is not None and walker.error is not None):
        return None
    return bindings.ContainerShape(
        skippable_frames=walker.skippable if walker is not None else 0,
        hollow_zstd=walker.hollow if walker is not None else 0,
        tar_end=tar.end_offset,
        tar_length=tar.offset,
        extension_headers=tar.extension_headers,
    )
