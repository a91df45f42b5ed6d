"""Hashes of a stream, computed on a thread of their own.

Reading a backup, the calling thread decompresses and parses; writing one, it reads the
dossier and feeds the compressor. Hashing every byte on that same thread as well made it
the bottleneck of both (measured on the benchmark dossiers: ~0.7 s per 400 MB read back,
~0.8 s per GB backed up). hashlib releases the GIL while it hashes a large buffer, so on
a second core the hashes run beside the rest. The bytes pass through a few fixed buffers:
memory stays bounded, and the feeding thread waits when the hasher falls behind.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from concurrent.futures import Future

#: Buffers in flight between the feeding thread and the hashing thread.
BUFFERS = 4


class BackgroundHashes:
    """Feed with ``update`` (a copy), ``take``/``give`` (read straight into a buffer) or
    ``feed`` (a bytes object nobody will change); ``segment`` ends what was fed so far
    and starts over, ``checkpoint`` gives the digest so far and goes on. ``close`` ends
    the thread (always call it: a ``with`` block does)."""

    def __init__(self, buffer_size: int, algorithms: tuple[str, ...] = ("blake2b", "sha256")):
        self.buffer_size = buffer_size
        self._algorithms = algorithms
        # Made on first need: a caller that only ``feed``s holds none.
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._buffers = 0
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        # ``feed``'s objects in flight, bounded like the buffers.
        self._fed = threading.Semaphore(BUFFERS)
        self._hashes = self._fresh()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fiscalsafe-hashes", daemon=True)
        self._thread.start()

    def __enter__(self) -> BackgroundHashes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fresh(self) -> list:
        return [hashlib.new(name, usedforsecurity=False) for name in self._algorithms]

    def take(self) -> bytearray:
        """A free buffer of ``buffer_size`` bytes; waits while all are in flight."""
        if self._buffers < BUFFERS and self._free.empty():
            self._buffers += 1
            return bytearray(self.buffer_size)
        return self._free.get()

    def give(self, buffer: bytearray, count: int) -> None:
        """Hash the first ``count`` bytes of a buffer from ``take``, then free it."""
        self._work.put((buffer, count, True))

    def feed(self, data: bytes) -> None:
        """Hash ``data`` without copying it; waits while too many are in flight. ``data``
        is bytes, or a view its owner leaves untouched until a later ``checkpoint`` or
        ``segment`` has been answered."""
        self._fed.acquire()
        self._work.put((data, len(data), False))

    def update(self, data: memoryview | bytes) -> None:
        offset = 0
        while offset < len(data):
            buffer = self.take()
            count = min(len(buffer), len(data) - offset)
            buffer[:count] = data[offset : offset + count]
            self.give(buffer, count)
            offset += count

    def segment(self) -> Future:
        """The hash objects (in ``algorithms`` order) of everything fed since the last
        call, once the thread has hashed it; the feeding can go on meanwhile."""
        done: Future = Future()
        self._work.put(done)
        return done

    def checkpoint(self) -> Future:
        """Copies of the running hash objects once everything fed so far is hashed: the
        digest of the segment's prefix, which goes on growing."""
        mark: Future = _Checkpoint()
        self._work.put(mark)
        return mark

    def digests(self) -> tuple[bytes, str]:
        """Waits for the segment: (BLAKE2b-512, SHA-256 hex) of the default algorithms."""
        blake2b, sha256 = self.segment().result()
        return blake2b.digest(), sha256.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            if isinstance(item, _Checkpoint):
                if self._error is not None:
                    item.set_exception(self._error)
                else:
                    item.set_result([running.copy() for running in self._hashes])
                continue
            if isinstance(item, Future):
                if self._error is not None:
                    item.set_exception(self._error)
                else:
                    item.set_result(self._hashes)
                self._hashes = self._fresh()
                continue
            buffer, count, pooled = item
            try:
                if self._error is None:
                    with memoryview(buffer) as view, view[:count] as data:
                        for running in self._hashes:
                            running.update(data)
            except BaseException as exc:  # reported by the segment's future, never lost
                self._error = exc
            finally:
                if pooled:
                    self._free.put(buffer)
                else:
                    self._fed.release()


class _Checkpoint(Future):
    """A ``checkpoint`` in the work queue: answered without ending the segment."""
