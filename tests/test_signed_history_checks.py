"""Focused checks of the signed fiscal history: chain links, signatures, key ids,
algorithm policy, the signed journal head and the coverage gaps.

Each test builds a small history in memory (three months, one ticket a day, well under
a second), damages exactly one thing, re-signs what the attacker could re-sign, and
asserts the finding code the check must give. They are fast on purpose: the mutation
run (``python3 dev.py mutate``) runs them once per mutant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random

import msgpack
import pytest

from fiscalsafe.crypto import FiscalSigningKey, derive_signing_key
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DossierIdentity
from fiscalsafe.samples.history import History, JournalWriter, build_history, to_us
from fiscalsafe.verify.archive_chain import verify_archive_chain
from fiscalsafe.verify.archives import ArchiveResult, verify_archive
from fiscalsafe.verify.coverage import compute_coverage
from fiscalsafe.verify.journal import JournalResult, verify_journal
from fiscalsafe.verify.trust import TrustedKeys
from fiscalsafe.verify.verified import (
    ProvenArchive,
    VerifiedJournal,
    proven_archives,
    verified_journal,
)

TZ = "Europe/Paris"
IDENTITY = DossierIdentity("MAG077", "Boutique", "55210055400013", TZ, (1, 1))
EDITOR = derive_signing_key(b"focused checks editor")
START, UNTIL = dt.date(2026, 8, 1), dt.date(2026, 11, 1)
AS_OF = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
WEAK = "ecdsa-p256-sha1"


def trusted() -> TrustedKeys:
    return TrustedKeys((EDITOR.public_key(),), self_asserted=False)


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(IDENTITY, EDITOR, START, UNTIL, 1, random.Random(5))


def codes(findings) -> list[str]:
    return [f.code for f in findings]


# Archives


def verified_archives(history: History) -> list[ArchiveResult]:
    return [verify_archive(name, data, trusted(), TZ) for name, data in history.archives]


def resign(data: bytes, signer: FiscalSigningKey = EDITOR, alg: str | None = None, **changes):
    """The archive ``data`` with body fields replaced, signed again by ``signer``."""
    body = fa.parse_body(fa.parse_envelope(data).body)
    fields = {
        "dossier": body.dossier,
        "number": body.number,
        "first": body.first,
        "prev": body.prev,
        "period_start": body.period_start,
        "period_end": body.period_end,
        "created_ts": body.created_ts,
        "tz": body.tz,
        "gt_open": body.gt_open,
        "gt_close": body.gt_close,
        "ticket_prev": body.ticket_prev,
        "closures": list(body.closures),
        "tickets": list(body.raw_tickets),
    }
    fields.update(changes)
    raw = fa.encode_body(**fields)
    return fa.encode_envelope(
        raw, alg or signer.algorithm, signer.public_key().key_id, signer.sign(raw)
    )


def test_the_built_history_is_clean(history: History) -> None:
    results = verified_archives(history)
    assert all(r.proven for r in results), [codes(r.findings) for r in results]
    assert verify_archive_chain(results, IDENTITY.dossier_id, TZ) == []


def test_archive_not_linked_to_the_previous_signature_breaks_the_chain(history) -> None:
    results = verified_archives(history)
    results[1].prev = bytes(64)
    found = verify_archive_chain(results, IDENTITY.dossier_id, TZ)
    assert codes(found) == ["ARCHIVE_CHAIN_BROKEN"]
    assert found[0].file == results[1].file


def test_first_ticket_not_linked_to_the_previous_archive_breaks_the_chain(history) -> None:
    results = verified_archives(history)
    results[2].ticket_prev = bytes(64)
    assert codes(verify_archive_chain(results, IDENTITY.dossier_id, TZ)) == ["TICKET_CHAIN_BROKEN"]


def test_ticket_not_linked_to_its_predecessor_breaks_the_chain(history) -> None:
    name, data = history.archives[1]
    result = verify_archive(name, resign(data, ticket_prev=bytes(64)), trusted(), TZ)
    assert result.trusted
    assert codes(result.findings) == ["TICKET_CHAIN_BROKEN"]
    assert result.findings[0].record == result.first_ticket_seq


def test_altered_ticket_signature_is_invalid(history) -> None:
    name, data = history.archives[1]
    tickets = list(fa.parse_body(fa.parse_envelope(data).body).raw_tickets)
    body, sig = tickets[-1]
    tickets[-1] = (body, sig[:-1] + bytes([sig[-1] ^ 1]))
    result = verify_archive(name, resign(data, tickets=tickets), trusted(), TZ)
    assert codes(result.findings) == ["TICKET_SIGNATURE_INVALID"]


def test_altered_archive_signature_is_invalid(history) -> None:
    name, data = history.archives[0]
    env = fa.parse_envelope(data)
    bad = env.signature[:-1] + bytes([env.signature[-1] ^ 1])
    result = verify_archive(
        name, fa.encode_envelope(env.body, env.alg, env.key_id, bad), trusted(), TZ
    )
    assert not result.trusted and not result.proven
    assert codes(result.findings) == ["ARCHIVE_SIGNATURE_INVALID"]


def test_a_ticket_sequence_that_skips_a_number_is_a_gap(history) -> None:
    name, data = history.archives[1]
    tickets = list(fa.parse_body(fa.parse_envelope(data).body).raw_tickets)
    last = fa.decode_ticket(*tickets[-1], len(tickets) - 1)
    body = fa.encode_ticket_body(
        seq=last.seq + 1,
        ts=last.ts,
        workstation=last.workstation,
        operator=last.operator,
        vat=list(last.vat),
        ttc=last.ttc,
        prev=last.prev,
    )
    tickets[-1] = (body, EDITOR.sign(body))
    result = verify_archive(name, resign(data, tickets=tickets), trusted(), TZ)
    assert codes(result.findings) == ["TICKET_SEQUENCE_GAP"]
    assert (result.findings[0].expected, result.findings[0].found) == (last.seq, last.seq + 1)


def test_archive_numbers_that_skip_one_are_a_gap(history) -> None:
    results = verified_archives(history)
    results[2].number = 4
    found = verify_archive_chain(results, IDENTITY.dossier_id, TZ)
    assert codes(found) == ["ARCHIVE_NUMBER_GAP"]
    assert (found[0].expected, found[0].found) == (3, 4)


def test_archive_periods_one_day_apart_leave_a_gap(history) -> None:
    results = verified_archives(history)
    results[1].period_start += dt.timedelta(days=1)
    found = verify_archive_chain(results, IDENTITY.dossier_id, TZ)
    assert codes(found) == ["ARCHIVE_PERIOD_GAP"]


def key_sharing_first_byte(key_id: bytes) -> FiscalSigningKey:
    """An attacker key whose 8-byte id starts with the same byte as ``key_id``."""
    for n in range(100_000):
        candidate = derive_signing_key(b"attacker %d" % n)
        kid = candidate.public_key().key_id
        if kid[0] == key_id[0] and kid != key_id:
            return candidate
    raise AssertionError("no such key found")


def test_archive_key_ids_are_compared_whole(history) -> None:
    attacker = key_sharing_first_byte(EDITOR.public_key().key_id)
    name, data = history.archives[0]
    result = verify_archive(name, resign(data, signer=attacker), trusted(), TZ)
    assert codes(result.findings) == ["ARCHIVE_UNTRUSTED_KEY"]
    assert result.findings[0].found == attacker.public_key().key_id.hex()


def test_archive_with_a_weak_algorithm_is_refused_before_its_key(history) -> None:
    name, data = history.archives[0]
    result = verify_archive(name, resign(data, alg=WEAK), trusted(), TZ)
    assert codes(result.findings) == ["WEAK_ALGORITHM"]


# Journal


def journal_of(writer: JournalWriter) -> JournalResult:
    items = list(fj.iter_records(io.BytesIO(writer.file_bytes())))
    return verify_journal(
        "jet/journal.jet", items, "jet/journal.head", writer.head_bytes(), trusted(), None, "MAG077"
    )


def day_at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 9, day, hour, tzinfo=dt.UTC)


def writer_with(records: int, last_text: str = "Arret") -> JournalWriter:
    writer = JournalWriter(IDENTITY, EDITOR)
    writer.add(day_at(1, 8), fj.GENESIS_CODE, "POSTE-01", "SYSTEM", "Initialisation", {})
    for n in range(2, records):
        writer.add(day_at(n, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    writer.add(day_at(records, 18), 40, "POSTE-01", "SYSTEM", last_text, {})
    return writer


def test_a_clean_journal_is_verified_to_its_end() -> None:
    result = journal_of(writer_with(5))
    assert result.findings == [] and result.verified_until == 5 and result.head_seq == 5


def test_journal_record_not_linked_to_the_previous_breaks_the_chain() -> None:
    writer = writer_with(3)
    writer.prev = bytes(64)  # the next record links to nothing: signed, but unchained
    writer.add(day_at(4, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    result = journal_of(writer)
    assert codes(result.findings) == ["JOURNAL_CHAIN_BROKEN"]
    assert result.findings[0].record == 4 and result.verified_until == 3


def test_altered_journal_record_signature_is_invalid() -> None:
    writer = writer_with(4)
    body, _ = unpack_pair(writer.records[1])
    writer.records[1] = fj.encode_record(body, bytes(64))
    result = journal_of(writer)
    assert "JOURNAL_SIGNATURE_INVALID" in codes(result.findings)
    assert result.verified_until == 1


def unpack_pair(data: bytes) -> tuple[bytes, bytes]:
    """A journal record or head: ``[body, signature]``."""
    body, signature = msgpack.unpackb(data)
    return body, signature


def test_journal_sequence_that_skips_a_number_is_broken() -> None:
    writer = writer_with(3)
    writer.seq += 1  # the next record is numbered 5: signed and chained, but not 4
    writer.add(day_at(4, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    result = journal_of(writer)
    assert codes(result.findings) == ["JOURNAL_SEQUENCE_BROKEN"]
    assert result.verified_until == 3


def test_a_journal_that_does_not_start_with_its_genesis_record_is_refused() -> None:
    writer = JournalWriter(IDENTITY, EDITOR)
    writer.add(day_at(1, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    writer.add(day_at(2, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    result = journal_of(writer)
    assert codes(result.findings) == ["JOURNAL_GENESIS_MISSING"]
    assert result.verified_until == 0 and result.genesis_ts is None


def test_journal_record_with_a_weak_algorithm_is_refused() -> None:
    writer = writer_with(2)
    body = fj.encode_body(
        seq=3,
        ts=to_us(day_at(3, 9)),
        tz=TZ,
        utc_offset_min=0,
        code=10,
        workstation="POSTE-01",
        operator="SYSTEM",
        text="Demarrage",
        data={},
        alg=WEAK,
        key_id=EDITOR.public_key().key_id,
        prev=writer.prev,
    )
    signature = EDITOR.sign(body)
    writer.records.append(fj.encode_record(body, signature))
    writer.seq, writer.prev, writer.last_ts = 3, signature, to_us(day_at(3, 9))
    result = journal_of(writer)
    assert codes(result.findings) == ["WEAK_ALGORITHM"]


def test_journal_key_ids_are_compared_whole() -> None:
    attacker = key_sharing_first_byte(EDITOR.public_key().key_id)
    writer = writer_with(2)
    writer.signer = attacker
    writer.add(day_at(3, 9), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    writer.signer = EDITOR
    result = journal_of(writer)
    assert codes(result.findings) == ["JOURNAL_UNTRUSTED_KEY"]


def test_altered_journal_head_signature_is_invalid() -> None:
    writer = writer_with(3)
    body, signature = unpack_pair(writer.head_bytes())
    head = fj.pack([body, signature[:-1] + bytes([signature[-1] ^ 1])])
    items = list(fj.iter_records(io.BytesIO(writer.file_bytes())))
    result = verify_journal("j", items, "h", head, trusted(), None, "MAG077")
    assert codes(result.findings) == ["JOURNAL_HEAD_INVALID"]
    assert result.head_seq is None


def test_journal_cut_before_the_record_its_head_names_is_truncated() -> None:
    long = writer_with(5)
    cut = dataclasses.replace(long, records=long.records[:4])
    items = list(fj.iter_records(io.BytesIO(cut.file_bytes())))
    result = verify_journal("j", items, "h", long.head_bytes(), trusted(), None, "MAG077")
    assert codes(result.findings) == ["JOURNAL_TRUNCATED"]
    assert (result.findings[0].expected, result.findings[0].found) == (5, 4)


def test_last_journal_record_must_be_the_one_its_head_names() -> None:
    """Same sequence and time, another validly signed last record: the head's digest of
    the last signature is what tells them apart."""
    genuine, replaced = writer_with(5), writer_with(5, last_text="Arret (rewritten)")
    items = list(fj.iter_records(io.BytesIO(replaced.file_bytes())))
    result = verify_journal("j", items, "h", genuine.head_bytes(), trusted(), None, "MAG077")
    assert codes(result.findings) == ["JOURNAL_TRUNCATED"]
    assert result.findings[0].record == 5


# Coverage

ONE = dt.timedelta(days=1)


def proven(number: int, start: dt.date, end: dt.date, first: bool = False) -> ProvenArchive:
    result = ArchiveResult(
        file=f"A{number:06d}.fsa",
        sha256="",
        parsed=True,
        trusted=True,
        number=number,
        first=first,
        period_start=start,
        period_end=end,
    )
    (archive,) = proven_archives([result])
    return archive


def no_journal() -> VerifiedJournal:
    return verified_journal(JournalResult())


def test_a_single_missing_day_is_a_one_day_gap() -> None:
    missing = dt.date(2026, 3, 10)
    archives = [
        proven(1, dt.date(2025, 1, 1), missing - ONE, first=True),
        proven(2, missing + ONE, dt.date(2026, 11, 27)),
    ]
    cov, found = compute_coverage(archives, no_journal(), AS_OF, 1, TZ)
    assert cov.gaps == [(missing, missing)]
    assert codes(found) == ["COVERAGE_GAP"]


def test_a_gap_is_reported_from_its_first_to_its_last_missing_day() -> None:
    archives = [
        proven(1, dt.date(2025, 1, 1), dt.date(2026, 3, 9), first=True),
        proven(2, dt.date(2026, 3, 15), dt.date(2026, 11, 27)),
    ]
    cov, _ = compute_coverage(archives, no_journal(), AS_OF, 1, TZ)
    assert cov.gaps == [(dt.date(2026, 3, 10), dt.date(2026, 3, 14))]


def test_days_before_the_first_archive_are_a_gap_from_the_required_start() -> None:
    archives = [proven(1, dt.date(2026, 2, 1), dt.date(2026, 11, 27))]
    cov, found = compute_coverage(archives, no_journal(), AS_OF, 1, TZ)
    assert cov.gaps == [(dt.date(2025, 11, 27), dt.date(2026, 1, 31))]
    assert codes(found) == ["COVERAGE_GAP"]


def genesis_journal(day: dt.date) -> VerifiedJournal:
    """A journal whose verified genesis record is of ``day`` (nothing else matters here)."""
    ts = to_us(dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC))
    return VerifiedJournal(entries=(), genesis_ts=ts, head=None)


def test_since_genesis_needs_the_first_archive_to_start_on_the_genesis_day() -> None:
    genesis = dt.date(2026, 5, 1)
    archives = [proven(1, genesis + dt.timedelta(days=10), dt.date(2026, 11, 27), first=True)]
    cov, found = compute_coverage(archives, genesis_journal(genesis), AS_OF, 1, TZ)
    assert not cov.since_genesis
    assert "COVERAGE_SINCE_GENESIS" not in codes(found)
    assert cov.gaps[0][0] == cov.required_start


def test_since_genesis_needs_the_first_archive_marked_first() -> None:
    genesis = dt.date(2026, 5, 1)
    archives = [proven(1, genesis, dt.date(2026, 11, 27), first=False)]
    cov, found = compute_coverage(archives, genesis_journal(genesis), AS_OF, 1, TZ)
    assert not cov.since_genesis and cov.gaps[0][0] == cov.required_start


def test_a_dossier_younger_than_the_range_is_complete_since_genesis() -> None:
    genesis = dt.date(2026, 5, 1)
    archives = [proven(1, genesis, dt.date(2026, 11, 27), first=True)]
    cov, found = compute_coverage(archives, genesis_journal(genesis), AS_OF, 1, TZ)
    assert cov.since_genesis and cov.gaps == []
    assert codes(found) == ["COVERAGE_SINCE_GENESIS"]
