"""Verified data: what later steps may build on, kept apart from what was merely parsed.

A verifier decodes far more than it proves: records after a break in the journal's chain,
archives whose signature failed. Coverage, cross-checks, freshness and reports take only
the types below, which ``verified_journal`` and ``proven_archives`` build from the
verifiers' results, so nothing unproven can be counted by mistake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.verify.archives import ArchiveResult
from fiscalsafe.verify.journal import JournalResult


def signature_digest(signature: bytes) -> bytes:
    """How a journal head (and fiscalsafe's state) names a record: SHA-256 of its signature."""
    return hashlib.sha256(signature).digest()


@dataclass(frozen=True)
class VerifiedHead:
    """A point of the journal's history: the record ``seq``, its time and signature digest."""

    seq: int
    ts: int
    sig_sha256: bytes

    def to_json(self) -> dict:
        return {"seq": self.seq, "ts": self.ts, "sig_sha256": self.sig_sha256.hex()}


@dataclass(frozen=True)
class VerifiedJournal:
    """The journal's verified prefix, from the genesis record on, by position.

    ``head`` is set only when the signed head verified and names exactly the last record of
    that prefix, so the tail is known not to be cut."""

    entries: tuple[fj.JournalEntry, ...]
    genesis_ts: int | None
    head: VerifiedHead | None
    #: Records decoded after the verified prefix: a break, so they vouch for nothing.
    unverified_after: int = 0

    @property
    def last(self) -> fj.JournalEntry | None:
        return self.entries[-1] if self.entries else None

    def history(self, dossier: str) -> JournalHistory | None:
        if not self.entries:
            return None
        return JournalHistory(
            dossier=dossier,
            digests=tuple(signature_digest(e.signature) for e in self.entries),
            last_ts=self.entries[-1].ts,
            head_signed=self.head is not None,
        )


@dataclass(frozen=True)
class JournalHistory:
    """A verified journal reduced to one digest per record: enough to tell whether another
    history (a state, an earlier backup, an evidence record) is a prefix of this one."""

    dossier: str
    digests: tuple[bytes, ...]  # record seq n is digests[n - 1]
    last_ts: int
    head_signed: bool

    @property
    def tip(self) -> VerifiedHead:
        return VerifiedHead(len(self.digests), self.last_ts, self.digests[-1])

    def relation(self, known: VerifiedHead) -> str:
        """``"extends"`` when ``known`` is a record of this history (itself or an earlier
        one), ``"diverges"`` when this history has another record at that place, and
        ``"older"`` when this history ends before ``known``."""
        if known.seq < 1:
            return "diverges"
        if known.seq > len(self.digests):
            return "older"
        return "extends" if self.digests[known.seq - 1] == known.sig_sha256 else "diverges"


def verified_journal(result: JournalResult) -> VerifiedJournal:
    entries = tuple(result.entries[: result.verified_count])
    head = None
    if result.head_matches and entries and result.head_sig_sha256 is not None:
        head = VerifiedHead(entries[-1].seq, entries[-1].ts, result.head_sig_sha256)
    genesis = result.genesis_ts if entries else None
    return VerifiedJournal(
        entries=entries,
        genesis_ts=genesis,
        head=head,
        unverified_after=len(result.entries) - len(entries),
    )


@dataclass(frozen=True)
class ProvenArchive:
    """A fiscal archive whose signature verified with a trusted key and whose content
    raised no error."""

    file: str
    sha256: str
    number: int
    first: bool
    period_start: dt.date
    period_end: dt.date
    closures: tuple[fa.Closure, ...]
    created_ts: int = 0


def proven_archives(results: Iterable[ArchiveResult]) -> tuple[ProvenArchive, ...]:
    proven = [
        ProvenArchive(
            file=r.file,
            sha256=r.sha256,
            number=r.number,
            first=r.first,
            period_start=r.period_start,
            period_end=r.period_end,
            closures=r.closures,
            created_ts=r.created_ts,
        )
        for r in results
        if r.proven and r.period_start is not None and r.period_end is not None
    ]
    return tuple(sorted(proven, key=lambda a: (a.number, a.file)))
