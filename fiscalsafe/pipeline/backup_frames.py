"""The tar stream's way into the compressor, able to cut zstd frames where a large file's
segments start and end, and to put a remembered frame in a segment's place (``frames.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import zstandard

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

    def fetch(self, key: SegmentKey, segment) -> Future:
        """The future of the frame kept for ``key`` (None: none whose bytes are intact, or,
        the first time it is taken, that does not decode to ``segment``)."""
        return self._helper.submit(self.memory.read, key, segment)

    def keep(self, key: SegmentKey, prefix: Future, frame: bytes, sha256=b"", checked=False):
        """Record ``frame`` for the next backup, on the helper thread."""
        self._pending.acquire()
        try:
            done = self._helper.submit(self.recorder.add, key, prefix, frame, sha256, checked)
        except BaseException:
            self._pending.release()
            raise
        done.add_done_callback(lambda _: self._pending.release())

    def counts(self) -> dict[str, int]:
        return {"reused": self.reused, "compressed": self.compressed}

    @staticmethod
    def none() -> dict[str, int]:
        """The counts of a backup that keeps no frames."""
        return {"reused": 0, "compressed": 0}

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
