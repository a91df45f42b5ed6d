"""Freshness: a verified history must extend every history already proven for the dossier.

An old copy of a dossier is genuine: every signature in it verifies. What gives it away is
a history proven before: fiscalsafe's own state, the backups already on a medium, an
earlier evidence record. Each is a ``KnownPoint`` (a journal record by its sequence and
signature digest, and the newest proven archive); the verified journal must contain that
record, unchanged, and the archive must still be there with the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fiscalsafe import localformat
from fiscalsafe.i18n import N_, _
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.verified import JournalHistory, ProvenArchive, VerifiedHead


@dataclass(frozen=True)
class KnownArchive:
    number: int
    sha256: str


@dataclass(frozen=True)
class KnownPoint:
    """A point of a dossier's history proven earlier, and where that proof came from."""

    source: str  # e.g. "fiscalsafe's state (2026-11-27)", "backup MAG001_lundi_full.tar.zst"
    head: VerifiedHead | None
    archive: KnownArchive | None = None


def compare(
    history: JournalHistory | None,
    archives: Sequence[ProvenArchive],
    known: KnownPoint,
    journal_file: str,
) -> list[Finding]:
    """``JOURNAL_ROLLBACK`` / ``ARCHIVE_ROLLBACK`` when this history does not extend
    ``known``; nothing when it does."""
    out: list[Finding] = []
    if known.head is not None:
        relation = "older" if history is None else history.relation(known.head)
        length = 0 if history is None else len(history.digests)
        if relation == "older":
            out.append(
                finding(
                    "JOURNAL_ROLLBACK",
                    _(
                        "the verified journal ends at record {length}, but {source} "
                        "proved record {seq}: this is an older history",
                        length=localformat.count(length),
                        source=known.source,
                        seq=localformat.count(known.head.seq),
                    ),
                    file=journal_file,
                    expected=f">= {known.head.seq}",
                    found=length,
                )
            )
        elif relation == "diverges":
            out.append(
                finding(
                    "JOURNAL_ROLLBACK",
                    _(
                        "record {seq} differs from the one {source} proved: "
                        "the journal was replaced by another history",
                        seq=localformat.count(known.head.seq),
                        source=known.source,
                    ),
                    file=journal_file,
                    record=known.head.seq,
                    expected=known.head.sig_sha256.hex(),
                    found=history.digests[known.head.seq - 1].hex() if history else None,
                )
            )
    if known.archive is not None:
        same_number = [a for a in archives if a.number == known.archive.number]
        if not any(a.sha256 == known.archive.sha256 for a in same_number):
            message = (
                N_("fiscal archive {number}, proven by {source}, is different")
                if same_number
                else N_(
                    "fiscal archive {number}, proven by {source}, is not among the proven archives"
                )
            )
            out.append(
                finding(
                    "ARCHIVE_ROLLBACK",
                    _(
                        message,
                        number=localformat.count(known.archive.number),
                        source=known.source,
                    ),
                    file=same_number[0].file if same_number else None,
                    record=known.archive.number,
                    expected=known.archive.sha256,
                    found=same_number[0].sha256 if same_number else None,
                )
            )
    return out


def newest_archive(archives: Sequence[ProvenArchive]) -> KnownArchive | None:
    if not archives:
        return None
    last = max(archives, key=lambda a: a.number)
    return KnownArchive(last.number, last.sha256)


def head_claim(text: str | None) -> VerifiedHead | None:
    """A head as a backup's signed trusted comment states it: ``SEQ-SHA256HEX`` (no time)."""
    if not text:
        return None
    seq, _sep, digest = text.partition("-")
    if not (seq.isdigit() and len(seq) <= 12 and len(digest) == 64):
        return None
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        return None
    return VerifiedHead(int(seq), 0, raw)


def head_text(head: VerifiedHead) -> str:
    return f"{head.seq}-{head.sig_sha256.hex()}"
