"""The journal's remembered prefix is found only where the journal starts with its bytes,
wherever the reads happen to cut them."""

from __future__ import annotations

import hashlib
import io

import pytest

from fiscalsafe.pipeline.journal_prefix import HashingReader, JournalPrefix

DATA = bytes(range(256)) * 40


def read_all(data: bytes, prefix: JournalPrefix, size: int) -> HashingReader:
    reader = HashingReader(io.BytesIO(data), prefix)
    while reader.read(size):
        pass
    return reader


@pytest.mark.parametrize("size", [1, 7, 1000, 4096, 100_000])
@pytest.mark.parametrize("nbytes", [1, 999, 1000, 1001, len(DATA)])
def test_the_prefix_is_found_across_any_read_size(size: int, nbytes: int) -> None:
    prefix = JournalPrefix(nbytes, hashlib.sha256(DATA[:nbytes]).hexdigest(), 3)
    reader = read_all(DATA, prefix, size)
    assert reader.prefix_matches
    assert reader.digest() == hashlib.sha256(DATA).hexdigest()
    assert reader.nbytes == len(DATA)


def test_a_changed_or_shorter_journal_does_not_start_with_the_prefix() -> None:
    prefix = JournalPrefix(1000, hashlib.sha256(DATA[:1000]).hexdigest(), 3)
    changed = DATA[:500] + b"\x00" + DATA[501:]
    assert not read_all(changed, prefix, 300).prefix_matches
    assert not read_all(DATA[:999], prefix, 300).prefix_matches


@pytest.mark.parametrize(
    "doc",
    [
        {"bytes": 0, "sha256": "0" * 64, "records": 1},
        {"bytes": 10, "sha256": "0" * 64, "records": 0},
        {"bytes": "10", "sha256": "0" * 64, "records": 1},
        {"bytes": 10, "sha256": "short", "records": 1},
        {"bytes": 10, "records": 1},
    ],
)
def test_a_malformed_prefix_record_is_refused(doc: dict) -> None:
    with pytest.raises((ValueError, KeyError)):
        JournalPrefix.from_json(doc)
