"""Fiscal archives: one archive on its own (the chain of archives is in ``archive_chain``).

``verify_archive`` is pure and picklable-friendly: the pipeline runs it in worker
processes (one archive per task) so that ticket signatures are checked on every core.
Steps are numbered as in ``schemas/fiscal-archive.md`` (One archive):
(1) envelope and version, (2) algorithm policy, (3) key trust, (4) archive signature,
(5) body, (6) ticket chain and signatures, (7) ticket totals and period,
(8) closures: nesting, per-VAT-rate sums, period totals, grand totals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fiscalsafe import localformat
from fiscalsafe.crypto import FiscalPublicKey, check_algorithm
from fiscalsafe.errors import MalformedError, UnsupportedVersionError, WeakAlgorithmError
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats.packing import MAX_TIMESTAMP_US
from fiscalsafe.i18n import _
from fiscalsafe.verify.closures import VatSums, verify_closures
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.trust import TrustedKeys

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: The version of what ``verify_archive`` checks. Bump it whenever archive verification
#: changes (a step, a finding, what a result records): remembered proofs made by another
#: version are then not reused, and every archive is proven again.
CHECKER_VERSION = 1
TICKET_BLOCK = 1024


def local_date(ts: int, zone: ZoneInfo) -> dt.date:
    return (EPOCH + dt.timedelta(microseconds=ts)).astimezone(zone).date()


class LocalDays:
    """``local_date`` for timestamps that mostly fall on the same day as the previous one:
    remembers the UTC bounds of the last local day seen (tickets come in time order).
    ``bounds`` is that day's [start, end) in UTC microseconds, for callers that test the
    range themselves in a hot loop."""

    def __init__(self, zone: ZoneInfo):
        self._zone = zone
        self._start = self._end = 0
        self._day: dt.date | None = None

    @property
    def bounds(self) -> tuple[int, int]:
        return self._start, self._end

    def __call__(self, ts: int) -> dt.date:
        if self._start <= ts < self._end:
            return self._day  # type: ignore[return-value]
        day = local_date(ts, self._zone)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=self._zone)
        end = start + dt.timedelta(days=1)
        # Wall-clock midnights, converted to UTC: DST days are 23 or 25 hours long.
        self._start = (start.astimezone(dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
        self._end = (
            dt.datetime(end.year, end.month, end.day, tzinfo=self._zone).astimezone(dt.UTC) - EPOCH
        ) // dt.timedelta(microseconds=1)
        self._day = day
        return day


@dataclass
class ArchiveResult:
    """What one archive proves, for the chain and cross-checks done afterwards."""

    file: str
    sha256: str
    findings: list[Finding] = field(default_factory=list)
    parsed: bool = False
    trusted: bool = False  # envelope signature verified with a trusted key
    number: int = 0
    dossier: str = ""
    first: bool = False
    prev: bytes = b""
    signature: bytes = b""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    created_ts: int = 0
    gt_open: int = 0
    gt_close: int = 0
    ticket_prev: bytes = b""
    first_ticket_seq: int | None = None
    last_ticket_seq: int | None = None
    last_ticket_sig: bytes = b""
    ticket_count: int = 0
    signatures_checked: int = 0
    closures: tuple[fa.Closure, ...] = ()
    day_sums: dict[dt.date, VatSums] = field(default_factory=dict)
    day_counts: dict[dt.date, int] = field(default_factory=dict)
    #: Taken from a remembered proof of the same bytes: its signatures were not checked
    #: by this run.
    remembered: bool = False

    @property
    def proven(self) -> bool:
        return self.trusted and not any(f.severity == "error" for f in self.findings)


def verify_archive(
    file: str, data: bytes, keys: TrustedKeys, tz: str, *, sha256: str | None = None
) -> ArchiveResult:
    """Verify one fiscal archive file; never raises for bad content.

    ``sha256`` is the digest of ``data`` when the caller has already computed it."""
    result = ArchiveResult(file=file, sha256=sha256 or hashlib.sha256(data).hexdigest())
    add = result.findings.append

    # (1) Envelope and version marker.
    try:
        env = fa.parse_envelope(data)
    except UnsupportedVersionError as exc:
        add(finding("ARCHIVE_VERSION_UNSUPPORTED", str(exc), file=file))
        return result
    except MalformedError as exc:
        add(finding("ARCHIVE_MALFORMED", str(exc), file=file))
        return result

    # (2) Algorithm policy, before any key is used.
    try:
        check_algorithm(env.alg)
    except WeakAlgorithmError as exc:
        add(finding("WEAK_ALGORITHM", str(exc), file=file, found=env.alg))
        return result

    # (3) The signing key must be one we were told to trust.
    key = _trusted_key(add, file, env, keys)
    if key is None:
        return result

    # (4) The archive signature over the exact stored body bytes.
    result.signatures_checked += 1
    result.trusted = key.verify(env.signature, env.body)
    if not result.trusted:
        add(finding("ARCHIVE_SIGNATURE_INVALID", _("archive signature does not verify"), file=file))
    result.signature = env.signature

    # (5) Body. Still parsed when the signature failed, to say *what* was changed.
    try:
        body = fa.parse_body(env.body)
    except MalformedError as exc:
        add(finding("ARCHIVE_MALFORMED", str(exc), file=file))
        result.trusted = False
        return result
    result.parsed = True
    _record_body(result, body)
    if body.period_end < body.period_start:
        add(
            finding(
                "ARCHIVE_MALFORMED",
                _("period ends before it starts"),
                file=file,
                found=f"{body.period_start}..{body.period_end}",
            )
        )

    _verify_tickets(result, body, key, ZoneInfo(tz))
    verify_closures(result, body)
    return result


def _trusted_key(
    add: Callable[[Finding], None], file: str, env: fa.Envelope, keys: TrustedKeys
) -> FiscalPublicKey | None:
    """The archive's signing key, if it is trusted and of the envelope's algorithm."""
    key = keys.lookup(env.key_id)
    if key is None:
        add(
            finding(
                "ARCHIVE_UNTRUSTED_KEY",
                _("archive is signed by a key that is not trusted"),
                file=file,
                expected=", ".join(k.key_id.hex() for k in keys.keys),
                found=env.key_id.hex(),
            )
        )
        return None
    if key.algorithm != env.alg:
        add(
            finding(
                "ARCHIVE_SIGNATURE_INVALID",
                _("algorithm differs from the key's"),
                file=file,
                expected=key.algorithm,
                found=env.alg,
            )
        )
        return None
    return key


def _record_body(result: ArchiveResult, body: fa.ArchiveBody) -> None:
    """What the chain and the cross-checks need of a parsed body."""
    result.number = body.number
    result.dossier = body.dossier
    result.first = body.first
    result.prev = body.prev
    result.period_start = body.period_start
    result.period_end = body.period_end
    result.created_ts = body.created_ts
    result.gt_open = body.gt_open
    result.gt_close = body.gt_close
    result.ticket_prev = body.ticket_prev
    result.closures = body.closures


def _verify_tickets(
    result: ArchiveResult, body: fa.ArchiveBody, key: FiscalPublicKey, zone: ZoneInfo
) -> None:
    # hot loop: runs once per ticket (438,061 in the 2 GB bench, ~2 µs of Python each); one piece.
    # (6) and (7): chain, signatures, totals, period. This loop runs once per ticket of
    # the whole history, next to a ~43 µs signature check. Tickets come in time order, so
    # it keeps the current local day's UTC bounds, ticket count and VAT sums in locals and
    # touches the per-day tables only when the day changes; it reads the decoded maps
    # directly.
    add = result.findings.append
    file = result.file
    day_of = LocalDays(zone)
    period_start, period_end = body.period_start, body.period_end
    raw_tickets = body.raw_tickets
    prev_sig = body.ticket_prev
    prev_seq: int | None = None
    first_seq: int | None = None
    day_acc: dict[dt.date, dict[int, list[int]]] = {}
    day_counts: dict[dt.date, int] = {}
    current_day: dt.date | None = None
    day_start = day_end = 0  # UTC bounds (µs) of current_day, once there is one
    count = 0  # tickets of current_day seen so far
    acc: dict[int, list[int]] = {}
    total = 0
    for index, raw_sig, ok, doc in _checked_tickets(raw_tickets, key):
        try:
            if type(doc) is not dict:
                raise doc if isinstance(doc, MalformedError) else TypeError
            seq, ts, vat, ttc, prev = doc["seq"], doc["ts"], doc["vat"], doc["ttc"], doc["prev"]
            if not (
                type(seq) is int
                and type(ts) is int
                and type(vat) is tuple
                and type(ttc) is int
                and type(prev) is bytes
                and type(doc["ws"]) is str
                and type(doc["op"]) is str
                and 0 <= ts < MAX_TIMESTAMP_US
            ):
                raise TypeError
        except (KeyError, TypeError):
            message = _(
                "ticket #{index}: a field is missing, has the wrong type or an impossible "
                "timestamp",
                index=localformat.count(index),
            )
            add(finding("ARCHIVE_MALFORMED", message, file=file, record=index))
            prev_sig = raw_sig
            continue
        except MalformedError as exc:
            add(finding("ARCHIVE_MALFORMED", str(exc), file=file, record=index))
            prev_sig = raw_sig
            continue
        if prev_seq is None:
            first_seq = seq
        elif seq != prev_seq + 1:
            add(
                finding(
                    "TICKET_SEQUENCE_GAP",
                    _("ticket sequence is not consecutive"),
                    file=file,
                    record=seq,
                    expected=prev_seq + 1,
                    found=seq,
                )
            )
        if prev != prev_sig:
            add(
                finding(
                    "TICKET_CHAIN_BROKEN",
                    _("ticket does not link to the previous ticket"),
                    file=file,
                    record=seq,
                    expected=prev_sig[:8].hex(),
                    found=prev[:8].hex(),
                )
            )
        if not ok:
            add(
                finding(
                    "TICKET_SIGNATURE_INVALID",
                    _("ticket signature does not verify"),
                    file=file,
                    record=seq,
                )
            )
        if not day_start <= ts < day_end:
            if current_day is not None:
                day_counts[current_day] += count
            day = day_of(ts)
            day_start, day_end = day_of.bounds
            if not (period_start <= day <= period_end):
                add(
                    finding(
                        "TICKET_OUTSIDE_PERIOD",
                        _("ticket date is outside the archive period"),
                        file=file,
                        record=seq,
                        expected=f"{period_start}..{period_end}",
                        found=str(day),
                    )
                )
            current_day = day
            acc = day_acc.setdefault(day, {})
            day_counts.setdefault(day, 0)
            count = 0
        count += 1
        line_sum = 0
        for line in vat:
            if type(line) is tuple and len(line) == 4:
                rate, ht, tva, line_ttc = line
                if type(rate) is int and type(ht) is int and type(tva) is int is type(line_ttc):
                    line_sum += line_ttc
                    if ht + tva != line_ttc:
                        _vat_line_mismatch(add, file, seq, rate, ht + tva, line_ttc)
                    sums = acc.get(rate)
                    if sums is None:
                        acc[rate] = [ht, tva, line_ttc]
                    else:
                        sums[0] += ht
                        sums[1] += tva
                        sums[2] += line_ttc
                    continue
            add(
                finding(
                    "ARCHIVE_MALFORMED",
                    _("a VAT line is not [rate_bp, ht, tva, ttc]"),
                    file=file,
                    record=seq,
                )
            )
        if line_sum != ttc:
            add(
                finding(
                    "TICKET_TOTAL_MISMATCH",
                    _("ticket total differs from its VAT lines"),
                    file=file,
                    record=seq,
                    expected=line_sum,
                    found=ttc,
                )
            )
        total += ttc
        prev_seq = seq
        prev_sig = raw_sig
    if current_day is not None:
        day_counts[current_day] += count
    result.signatures_checked += len(raw_tickets)
    result.first_ticket_seq = first_seq
    result.ticket_count = sum(day_counts.values())
    result.last_ticket_seq = prev_seq
    result.last_ticket_sig = prev_sig
    result.day_sums = {
        day: {rate: (v[0], v[1], v[2]) for rate, v in acc.items()} for day, acc in day_acc.items()
    }
    result.day_counts = day_counts
    if body.gt_close != body.gt_open + total:
        add(
            finding(
                "GRAND_TOTAL_MISMATCH",
                _("closing grand total is not opening + tickets"),
                file=file,
                expected=body.gt_open + total,
                found=body.gt_close,
            )
        )


def _checked_tickets(
    raw_tickets: tuple[tuple[bytes, bytes], ...], key: FiscalPublicKey
) -> Iterator[tuple[int, bytes, bool, Any]]:
    """(index, signature, signature valid, decoded body) of each ticket, a block at a time.

    Each block's signatures are checked in one batch before its bookkeeping
    (``verify_many``: the signature code stays hot in the CPU caches), and only one
    block's decoded maps are in memory at once, whatever the archive's size."""
    for start in range(0, len(raw_tickets), TICKET_BLOCK):
        block = raw_tickets[start : start + TICKET_BLOCK]
        signatures = [sig for _, sig in block]
        valid = key.verify_many(signatures, [b for b, _ in block])
        docs = fa.decode_ticket_docs(block)
        # zip builds the tuples in C: no Python frame per ticket here.
        yield from zip(range(start, start + len(block)), signatures, valid, docs, strict=True)


def _vat_line_mismatch(add, file: str, seq: int, rate: int, expected: int, found: int) -> None:
    add(
        finding(
            "TICKET_TOTAL_MISMATCH",
            _("VAT line {rate} bp: ht + tva != ttc", rate=localformat.count(rate)),
            file=file,
            record=seq,
            expected=expected,
            found=found,
        )
    )
