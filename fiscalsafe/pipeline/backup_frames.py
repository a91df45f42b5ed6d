"""The tar stream's way into the compressor, able to cut zstd frames where a large file's
segments start and end, and to put a remembered frame in a segment's place (``frames.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import zstandard

from fiscalsafe.errors import OperationalError
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.frames import FrameRecorder, RememberedFrames, SegmentKey, frames_key
from fiscalsafe.pipeline.state import StateStore

#: Frames handed to the helper thread and not yet written: bounds the memory they hold.
PENDING_FRAMES = 2


class SegmentFrames:
    """Last backup's frames to take, this backup's to keep, and what was done.

    Reading a kept frame (and hashing it) and writing this backup's frames run on a helper
    thread of their own, beside the packaging: on a night when little changed, that is
    most of what the packaging's own thread would otherwise do."""

    def __init__(self, level: int, memory: RememberedFrames, recorder: FrameRecorder):
        self.level, self.memory, self.recorder = level, memory, recorder
        self.reused = self.compressed = 0
        self._buffers: list[bytearray] = []
        self._helper = ThreadPoolExecutor(1, thread_name_prefix="fiscalsafe-frames")
        self._pending = threading.BoundedSemaphore(PENDING_FRAMES)
        self._checks: dict[int, tuple[str, Future, Future]] = {}
        self._finished = False

    @classmethod
    def open(cls, state: StateStore, seed: bytes, dossier: str, kind: str, level: int):
        path: Path = state.frames_path(dossier, kind)
        key = frames_key(seed)
        memory = RememberedFrames.open(path, key, dossier, kind)
        return cls(level, memory, FrameRecorder(path, key, dossier, kind))

    def buffer(self, which: int, size: int) -> bytearray:
        """Room for a segment read before it is known whether a frame stands for it: two
        of them, one hashed while the other is read."""
        while len(self._buffers) <= which:
            self._buffers.append(bytearray(size))
        return self._buffers[which]

    def fetch(self, key: SegmentKey) -> Future:
        """The future of the frame kept for ``key`` (None: none whose bytes are intact)."""
        return self._helper.submit(self.memory.read, key)

    def keep(self, key: SegmentKey, prefix: Future, frame: bytes, sha256: bytes = b"") -> None:
        """Record ``frame`` for the next backup, on the helper thread."""
        self._pending.acquire()
        try:
            done = self._helper.submit(self.recorder.add, key, prefix, frame, sha256)
        except BaseException:
            self._pending.release()
            raise
        done.add_done_callback(lambda _: self._pending.release())

    def check_and_keep(
        self, which: int, name: str, key: SegmentKey, prefix: Future, frame: bytes, view
    ) -> None:
        """A frame just compressed from ``view`` (segment buffer ``which``), checked on the
        helper thread to decode to exactly those bytes, then kept. A frame is kept for many
        nights: a fault while it was made must not go from one backup into all the next
        ones. The buffer is not read into again before ``wait_buffer`` has the answer."""
        done = self._helper.submit(self._check_then_keep, key, prefix, frame, view)
        self._checks[which] = (name, prefix, done)

    def _check_then_keep(self, key: SegmentKey, prefix: Future, frame: bytes, view) -> bool:
        if not decodes_to(frame, view):
            return False
        self.recorder.add(key, prefix, frame)
        return True

    def wait_buffer(self, which: int) -> None:
        """Wait until buffer ``which`` is free: its bytes hashed, and the frame compressed
        from them checked. Raise ``FrameMismatch`` if that frame did not decode to them."""
        pending = self._checks.pop(which, None)
        if pending is None:
            return
        name, hashed, checked = pending
        hashed.result()
        if not checked.result():
            raise FrameMismatch(_(MISMATCH, name=name))

    def counts(self) -> dict[str, int]:
        return {"reused": self.reused, "compressed": self.compressed}

    def finish(self, ok: bool) -> None:
        """Keep this backup's frames (``ok``) or drop them; close the last backup's. Only
        the first call counts."""
        if self._finished:
            return
        self._finished = True
        try:
            self._helper.shutdown(wait=True, cancel_futures=not ok)
            if ok:
                self.recorder.commit()
            else:
                self.recorder.abort()
        finally:
            self.memory.close()


class FrameMismatch(OperationalError):
    pass


MISMATCH = N_(
    "the compressed bytes of {name} did not decode to the bytes read: nothing was replaced; "
    "run the backup again, and if this comes back, have this computer's memory tested"
)


def decodes_to(frame: bytes, expected) -> bool:
    """True when ``frame`` is a zstd frame that decodes to exactly ``expected``."""
    try:
        got = zstandard.ZstdDecompressor().decompress(frame, max_output_size=len(expected))
    except zstandard.ZstdError:
        return False
    return got == expected


class FrameTap:
    """Between the compressor and the sink; keeps a copy of what passes while capturing."""

    def __init__(self, sink) -> None:
        self._sink = sink
        self._captured: list[bytes] | None = None

    def write(self, data) -> int:
        if self._captured is not None:
            self._captured.append(bytes(data))
        return self._sink.write(data)

    def flush(self) -> None:
        self._sink.flush()

    def capture(self) -> None:
        self._captured = []

    def captured(self) -> bytes:
        data, self._captured = b"".join(self._captured or ()), None
        return data


class FramedOutput:
    """File-like for ``TarWriter``: writes go to the compressor's current frame."""

    def __init__(self, zout, tap: FrameTap, segments: SegmentFrames | None):
        self.zout, self._tap, self.segments = zout, tap, segments
        self._open = False  # bytes written since the last frame ended

    def write(self, data) -> int:
        if not len(data):
            return 0  # nothing to end a frame for: an empty frame would carry bytes only
        self._open = True
        return self.zout.write(data)

    def end_frame(self) -> None:
        if self._open:
            self.zout.flush(zstandard.FLUSH_FRAME)
            self._open = False

    def compress_frame(self, write: Callable[[], None]) -> bytes:
        """What ``write`` writes, as a frame of its own; the frame's bytes."""
        self.end_frame()
        self._tap.capture()
        try:
            write()
            self.end_frame()
        finally:
            frame = self._tap.captured()
        return frame

    def put_frame(self, frame: bytes) -> None:
        """A ready frame, between the frames the compressor writes."""
        self.end_frame()
        self._tap.write(frame)
