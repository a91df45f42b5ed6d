"""The hashes of a backup's parts, computed on a thread of their own, are those of the bytes
fed, segment by segment, and the thread never outlives the read or the backup."""

from __future__ import annotations

import hashlib
import random
import threading

import backup_support as bs
import pytest

from fiscalsafe.pipeline.hash_thread import BUFFERS, BackgroundHashes


def expected(data: bytes) -> tuple[bytes, str]:
    return hashlib.blake2b(data, digest_size=64).digest(), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("buffer_size", [1, 7, 4096])
def test_the_digests_are_those_of_the_bytes_fed_whatever_the_cuts(buffer_size: int) -> None:
    rng = random.Random(buffer_size)
    parts = [rng.randbytes(rng.randrange(0, 20_000)) for _ in range(3)]
    with BackgroundHashes(buffer_size) as hashes:
        for part in parts:
            offset = 0
            while offset < len(part):
                step = rng.randrange(1, 5000)
                hashes.update(memoryview(part)[offset : offset + step])
                offset += step
            # Each part's digests, then a fresh start for the next one.
            assert hashes.digests() == expected(part)


def test_the_buffers_in_flight_are_bounded() -> None:
    hashes = BackgroundHashes(16)
    try:
        assert hashes._free.qsize() == 0  # none made before they are needed
        hashes.feed(bytes(16 * BUFFERS * 10))
        assert hashes._free.qsize() == 0  # bytes fed are hashed where they are
        hashes.update(memoryview(bytes(16 * BUFFERS * 10)))
        assert hashes.digests() == expected(bytes(16 * BUFFERS * 20))
        assert hashes._buffers == BUFFERS and hashes._free.qsize() == BUFFERS
        for _ in range(10 * BUFFERS):  # more objects than may be in flight at once
            hashes.feed(b"x")
        assert hashes.digests() == expected(b"x" * 10 * BUFFERS)
        assert hashes._fed.acquire(timeout=0) and hashes._fed._value == BUFFERS - 1
    finally:
        hashes.close()
    assert not hashes._thread.is_alive()
    hashes.close()  # twice is harmless


def test_a_hashing_error_is_reported_not_lost(monkeypatch) -> None:
    with BackgroundHashes(8) as hashes:
        hashes._hashes = [None]  # any failure on the thread
        hashes.update(memoryview(b"0123456789"))
        with pytest.raises(AttributeError):
            hashes.digests()
        # Nothing hashed after a failure is taken for a digest either.
        hashes.update(memoryview(b"more"))
        with pytest.raises(AttributeError):
            hashes.digests()


def test_buffers_taken_and_given_back_are_hashed_in_order_by_segment() -> None:
    rng = random.Random(7)
    files = [rng.randbytes(rng.randrange(0, 50)) for _ in range(6)]
    with BackgroundHashes(8, ("sha256",)) as hashes:
        futures = []
        for data in files:
            for offset in range(0, len(data), 5):
                buffer = hashes.take()
                piece = data[offset : offset + 5]
                buffer[: len(piece)] = piece
                hashes.give(buffer, len(piece))
            futures.append(hashes.segment())  # without waiting for the thread
        assert [f.result()[0].hexdigest() for f in futures] == [
            hashlib.sha256(data).hexdigest() for data in files
        ]


def hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fiscalsafe-hashes"]


def test_verify_leaves_no_hashing_thread_behind(tmp_path_factory) -> None:
    w = bs.world(tmp_path_factory)
    assert hashing_threads() == []
    report = bs.verify(w, w.backup)
    assert report.ok
    assert hashing_threads() == []


def test_a_damaged_backup_leaves_no_hashing_thread_behind(tmp_path_factory, tmp_path) -> None:
    w = bs.world(tmp_path_factory)
    broken = tmp_path / w.backup.files[0].name
    data = bytearray(w.backup.files[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken.write_bytes(bytes(data))
    (tmp_path / (broken.name + ".minisig")).write_bytes(
        w.backup.files[0].with_name(broken.name + ".minisig").read_bytes()
    )
    report = bs.verify(w, [broken])
    assert not report.ok
    assert hashing_threads() == []


def test_a_backup_leaves_no_hashing_thread_behind(tmp_path_factory, tmp_path) -> None:
    w = bs.world(tmp_path_factory)
    assert hashing_threads() == []
    result = bs.make_backup(w, w.dossier, tmp_path, split_size=bs.SPLIT_SIZE)
    assert result.parts > 1
    assert hashing_threads() == []
    # Each part's digests are those of its bytes, though hashed on another thread.
    for path, sha256 in zip(result.files, result.sha256, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_a_failed_backup_leaves_no_hashing_thread_behind(tmp_path_factory, tmp_path) -> None:
    w = bs.world(tmp_path_factory)

    def vanish(done: int, total: int) -> None:
        raise OSError("the stick was pulled out")

    with pytest.raises(OSError, match="pulled out"):
        bs.make_backup(w, w.dossier, tmp_path, progress=vanish)
    assert hashing_threads() == []
    assert not list(tmp_path.glob(".*.partial"))


def test_a_checkpoint_is_the_digest_so_far_and_the_segment_goes_on() -> None:
    with BackgroundHashes(16, ("sha256",)) as hashes:
        hashes.update(b"abc")
        so_far = hashes.checkpoint()
        hashes.update(b"def")
        (whole,) = hashes.segment().result()
    assert so_far.result()[0].digest() == hashlib.sha256(b"abc").digest()
    assert whole.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()
