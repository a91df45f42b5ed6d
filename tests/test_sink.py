"""The output sink's read-back: in one go, or started early while the backup waits for the
fiscal check's verdict and finished after the last byte."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fiscalsafe.errors import OperationalError
from fiscalsafe.pipeline.sink import READBACK_CHUNK, OutputSink

HEAD = os.urandom(READBACK_CHUNK + 12345)  # more than one read-back chunk
TAIL = os.urandom(54321)


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 1]))


def written(tmp_path: Path, split: int | None = None) -> OutputSink:
    sink = OutputSink(tmp_path, "b.tar.zst", split)
    sink.write(HEAD)
    sink.flush()
    return sink


@pytest.mark.parametrize("split", [None, 700_000])
def test_early_read_back_then_the_rest_gives_the_whole_files_digests(tmp_path, split):
    sink = written(tmp_path, split)
    sink.read_back_written()
    sink.write(TAIL)
    sink.close()
    sink.readback()
    data = b"".join(p.partial.read_bytes() for p in sink.parts)
    assert data == HEAD + TAIL
    for part in sink.parts:
        assert part.sha256 == hashlib.sha256(part.partial.read_bytes()).hexdigest()
        assert part.blake2b == hashlib.blake2b(part.partial.read_bytes()).digest()
    assert len(sink.parts) == (1 if split is None else -(-len(HEAD + TAIL) // split))


def test_damage_after_the_early_read_back_is_caught_at_the_end(tmp_path):
    sink = written(tmp_path)
    sink.read_back_written()
    sink.write(TAIL)
    sink.close()
    flip(sink.parts[0].partial, len(HEAD) + 10)  # in the part not yet read back
    with pytest.raises(OperationalError, match="read-back"):
        sink.readback()


def test_damage_before_the_early_read_back_is_caught_at_the_end(tmp_path):
    sink = written(tmp_path)
    flip(sink.parts[0].partial, 10)
    sink.read_back_written()  # reads the damaged bytes; the verdict comes with the last byte
    sink.write(TAIL)
    sink.close()
    with pytest.raises(OperationalError, match="read-back"):
        sink.readback()


def test_a_medium_that_returns_more_bytes_is_caught(tmp_path):
    sink = written(tmp_path)
    sink.close()
    with open(sink.parts[0].partial, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(OperationalError, match="read-back"):
        sink.readback()
