"""The hashes of a backup's parts, computed on a thread of their own, are those of the bytes
read, part by part, and the thread never outlives the read."""

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
        assert hashes._free.qsize() == BUFFERS
        hashes.update(memoryview(bytes(16 * BUFFERS * 10)))
        assert hashes.digests() == expected(bytes(16 * BUFFERS * 10))
        assert hashes._free.qsize() == BUFFERS
    finally:
        hashes.close()
    assert not hashes._thread.is_alive()
    hashes.close()  # twice is harmless


def test_a_hashing_error_is_reported_not_lost(monkeypatch) -> None:
    with BackgroundHashes(8) as hashes:
        hashes._sha256 = None  # any failure on the thread
        hashes.update(memoryview(b"0123456789"))
        with pytest.raises(AttributeError):
            hashes.digests()


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
