"""Fiscal archives: one archive on its own, then the chain of archives.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fiscalsafe.crypto import FiscalPublicKey, check_algorithm
from fiscalsafe.errors import MalformedError, UnsupportedVersionError, WeakAlgorithmError
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats.packing import MAX_TIMESTAMP_US
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.trust import TrustedKeys

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TICKET_BLOCK = 1024
VatSums = dict[int, tuple[int, int, int]]


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


def closure_sums(closure: fa.Closure) -> VatSums:
    return {v.rate_bp: (v.ht, v.tva, v.ttc) for v in closure.vat}


def merge_sums(target: dict[int, list[int]], sums: VatSums) -> None:
    for rate, (ht, tva, ttc) in sums.items():
        a = target.setdefault(rate, [0, 0, 0])
        a[0] += ht
        a[1] += tva
        a[2] += ttc


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

    @property
    def proven(self) -> bool:
        return self.trusted and not any(f.severity == "error" for f in self.findings)


def verify_archive(file: str, data: bytes, keys: TrustedKeys, tz: str) -> ArchiveResult:
    """Verify one fiscal archive file; never raises for bad content."""
    result = ArchiveResult(file=file, sha256=hashlib.sha256(data).hexdigest())
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
    key = keys.lookup(env.key_id)
    if key is None:
        add(
            finding(
                "ARCHIVE_UNTRUSTED_KEY",
                "archive is signed by a key that is not trusted",
                file=file,
                expected=", ".join(k.key_id.hex() for k in keys.keys),
                found=env.key_id.hex(),
            )
        )
        return result
    if key.algorithm != env.alg:
        add(
            finding(
                "ARCHIVE_SIGNATURE_INVALID",
                "algorithm differs from the key's",
                file=file,
                expected=key.algorithm,
                found=env.alg,
            )
        )
        return result

    # (4) The archive signature over the exact stored body bytes.
    result.signatures_checked += 1
    result.trusted = key.verify(env.signature, env.body)
    if not result.trusted:
        add(finding("ARCHIVE_SIGNATURE_INVALID", "archive signature does not verify", file=file))
    result.signature = env.signature

    # (5) Body. Still parsed when the signature failed, to say *what* was changed.
    try:
        body = fa.parse_body(env.body)
    except MalformedError as exc:
        add(finding("ARCHIVE_MALFORMED", str(exc), file=file))
        result.trusted = False
        return result
    result.parsed = True
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
    if body.period_end < body.period_start:
        add(
            finding(
                "ARCHIVE_MALFORMED",
                "period ends before it starts",
                file=file,
                found=f"{body.period_start}..{body.period_end}",
            )
        )

    _verify_tickets(result, body, key, ZoneInfo(tz))
    _verify_closures(result, body)
    return result


def _verify_tickets(
    result: ArchiveResult, body: fa.ArchiveBody, key: FiscalPublicKey, zone: ZoneInfo
) -> None:
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
            message = "a field is missing, has the wrong type or an impossible timestamp"
            add(
                finding("ARCHIVE_MALFORMED", f"ticket #{index}: {message}", file=file, record=index)
            )
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
                    "ticket sequence is not consecutive",
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
                    "ticket does not link to the previous ticket",
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
                    "ticket signature does not verify",
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
                        "ticket date is outside the archive period",
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
                    "a VAT line is not [rate_bp, ht, tva, ttc]",
                    file=file,
                    record=seq,
                )
            )
        if line_sum != ttc:
            add(
                finding(
                    "TICKET_TOTAL_MISMATCH",
                    "ticket total differs from its VAT lines",
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
                "closing grand total is not opening + tickets",
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
            f"VAT line {rate} bp: ht + tva != ttc",
            file=file,
            record=seq,
            expected=expected,
            found=found,
        )
    )


def _verify_closures(result: ArchiveResult, body: fa.ArchiveBody) -> None:
    # (8) Closures: day within month within year, sums and grand totals.
    add = result.findings.append
    file = result.file
    days: dict[dt.date, fa.Closure] = {}
    for c in body.closures:
        if c.kind != "day":
            continue
        if c.start in days:
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"two day closures for {c.start}",
                    file=file,
                    found=str(c.start),
                )
            )
        days[c.start] = c
        expected_count = result.day_counts.get(c.start, 0)
        if c.tickets != expected_count:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    f"day closure {c.start}: ticket count differs",
                    file=file,
                    expected=expected_count,
                    found=c.tickets,
                )
            )
    months = [c for c in body.closures if c.kind == "month"]
    years = [c for c in body.closures if c.kind == "year"]
    for day in sorted(result.day_sums):
        if day not in days:
            add(
                finding(
                    "CLOSURE_MISSING",
                    f"day {day} has tickets but no day closure",
                    file=file,
                    found=str(day),
                )
            )
    running = body.gt_open
    for closure in sorted(days.values(), key=lambda c: c.start):
        where = f"day closure {closure.start}"
        if closure.end != closure.start or not (
            body.period_start <= closure.start <= body.period_end
        ):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} is not a single day of the archive period",
                    file=file,
                    expected=f"{body.period_start}..{body.period_end}",
                    found=f"{closure.start}..{closure.end}",
                )
            )
        expected = result.day_sums.get(closure.start, {})
        _compare_sums(add, file, where, expected, closure)
        running += closure.ttc
        if closure.gt != running:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    f"{where}: grand total is not previous + day",
                    file=file,
                    expected=running,
                    found=closure.gt,
                )
            )
    if len(months) != 1:
        add(
            finding(
                "CLOSURE_MISSING",
                "an archive needs exactly one month closure",
                file=file,
                expected=1,
                found=len(months),
            )
        )
    for month in months:
        where = f"month closure {month.start}..{month.end}"
        if month.tickets != result.ticket_count:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    f"{where}: ticket count differs",
                    file=file,
                    expected=result.ticket_count,
                    found=month.tickets,
                )
            )
        if (month.start, month.end) != (body.period_start, body.period_end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} does not match the archive period",
                    file=file,
                    expected=f"{body.period_start}..{body.period_end}",
                    found=f"{month.start}..{month.end}",
                )
            )
        expected_sums: dict[int, list[int]] = {}
        for sums in result.day_sums.values():
            merge_sums(expected_sums, sums)
        _compare_sums(add, file, where, {r: tuple(v) for r, v in expected_sums.items()}, month)
        day_total = sum(c.ttc for c in days.values())
        if month.ttc != day_total:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    f"{where}: total is not the sum of its days",
                    file=file,
                    expected=day_total,
                    found=month.ttc,
                )
            )
        if month.gt != body.gt_open + month.ttc:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    f"{where}: grand total is not previous + month",
                    file=file,
                    expected=body.gt_open + month.ttc,
                    found=month.gt,
                )
            )
    for year in years:
        where = f"year closure {year.start}..{year.end}"
        if not (year.start <= body.period_start and body.period_end == year.end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} does not end with this archive's month",
                    file=file,
                    expected=str(body.period_end),
                    found=str(year.end),
                )
            )
        if year.gt != body.gt_close:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    f"{where}: grand total differs from the archive's",
                    file=file,
                    expected=body.gt_close,
                    found=year.gt,
                )
            )


def _compare_sums(add, file: str, where: str, expected: VatSums, closure: fa.Closure) -> None:
    found = closure_sums(closure)
    if found != expected:
        add(
            finding(
                "CLOSURE_VAT_MISMATCH",
                f"{where}: per-VAT-rate totals differ from tickets",
                file=file,
                expected=_fmt(expected),
                found=_fmt(found),
            )
        )
    line_total = sum(v[2] for v in found.values())
    if closure.ttc != line_total:
        add(
            finding(
                "CLOSURE_TOTAL_MISMATCH",
                f"{where}: total differs from its VAT lines",
                file=file,
                expected=line_total,
                found=closure.ttc,
            )
        )


def _fmt(sums: VatSums) -> str:
    return "; ".join(f"{r / 100:g}%: {v[2]}" for r, v in sorted(sums.items(), reverse=True))


def verify_archive_chain(results: list[ArchiveResult], dossier_id: str, tz: str) -> list[Finding]:
    """Across archives: numbering, first mark, links, periods, grand and ticket chains."""
    out: list[Finding] = []
    parsed = sorted((r for r in results if r.parsed), key=lambda r: (r.number, r.file))
    seen: dict[int, str] = {}
    previous: ArchiveResult | None = None
    last_seq: int | None = None  # last ticket sequence so far, across archives without tickets
    for index, r in enumerate(parsed):
        if r.dossier != dossier_id:
            out.append(
                finding(
                    "ARCHIVE_DOSSIER_MISMATCH",
                    "archive belongs to another dossier",
                    file=r.file,
                    expected=dossier_id,
                    found=r.dossier,
                )
            )
        if r.number in seen:
            out.append(
                finding(
                    "ARCHIVE_NUMBER_REPEATED",
                    f"archive number {r.number} repeated",
                    file=r.file,
                    expected=f"only in {seen[r.number]}",
                    found=r.number,
                )
            )
            continue
        seen[r.number] = r.file
        if index == 0 and r.first:
            # The genesis archive starts everything from zero.
            if r.number != 1:
                out.append(
                    finding(
                        "ARCHIVE_NUMBER_GAP",
                        "the first archive is not number 1",
                        file=r.file,
                        expected=1,
                        found=r.number,
                    )
                )
            if r.gt_open != 0:
                out.append(
                    finding(
                        "GRAND_TOTAL_NOT_CARRIED",
                        "the first archive's opening grand total is not zero",
                        file=r.file,
                        expected=0,
                        found=r.gt_open,
                    )
                )
            if r.ticket_prev:
                out.append(
                    finding(
                        "TICKET_CHAIN_BROKEN",
                        "the first archive's first ticket links to a predecessor",
                        file=r.file,
                        record=r.first_ticket_seq,
                    )
                )
        is_first = index == 0
        if r.first != is_first or (is_first and r.prev):
            out.append(
                finding(
                    "ARCHIVE_FIRST_MARK",
                    "only the oldest archive may be marked first, and it must be",
                    file=r.file,
                    expected=is_first,
                    found=r.first,
                )
            )
        if previous is not None:
            if r.number != previous.number + 1:
                out.append(
                    finding(
                        "ARCHIVE_NUMBER_GAP",
                        "archive numbers are not consecutive",
                        file=r.file,
                        expected=previous.number + 1,
                        found=r.number,
                    )
                )
            if r.prev != previous.signature:
                out.append(
                    finding(
                        "ARCHIVE_CHAIN_BROKEN",
                        "archive does not link to the previous archive's signature",
                        file=r.file,
                        expected=previous.signature[:8].hex(),
                        found=r.prev[:8].hex(),
                    )
                )
            if previous.period_end and r.period_start:
                expected_start = previous.period_end + dt.timedelta(days=1)
                if r.period_start > expected_start:
                    out.append(
                        finding(
                            "ARCHIVE_PERIOD_GAP",
                            "archive periods leave a gap",
                            file=r.file,
                            expected=str(expected_start),
                            found=str(r.period_start),
                        )
                    )
                elif r.period_start < expected_start:
                    out.append(
                        finding(
                            "ARCHIVE_PERIOD_OVERLAP",
                            "archive periods overlap",
                            file=r.file,
                            expected=str(expected_start),
                            found=str(r.period_start),
                        )
                    )
            if r.gt_open != previous.gt_close:
                out.append(
                    finding(
                        "GRAND_TOTAL_NOT_CARRIED",
                        "opening grand total is not the previous archive's closing",
                        file=r.file,
                        expected=previous.gt_close,
                        found=r.gt_open,
                    )
                )
            if r.ticket_prev != previous.last_ticket_sig:
                out.append(
                    finding(
                        "TICKET_CHAIN_BROKEN",
                        "first ticket does not link to the previous archive's last",
                        file=r.file,
                        record=r.first_ticket_seq,
                        expected=previous.last_ticket_sig[:8].hex(),
                        found=r.ticket_prev[:8].hex(),
                    )
                )
            if (
                r.first_ticket_seq is not None
                and last_seq is not None
                and r.first_ticket_seq != last_seq + 1
            ):
                out.append(
                    finding(
                        "TICKET_SEQUENCE_GAP",
                        "ticket sequence is not carried across archives",
                        file=r.file,
                        record=r.first_ticket_seq,
                        expected=last_seq + 1,
                        found=r.first_ticket_seq,
                    )
                )
        previous = r
        if r.last_ticket_seq is not None:
            last_seq = r.last_ticket_seq
    out.extend(_verify_year_closures(parsed))
    return out


def _verify_year_closures(parsed: list[ArchiveResult]) -> list[Finding]:
    """Year closures sum tickets from up to twelve archives: checked once all are read."""
    out: list[Finding] = []
    all_days: dict[dt.date, VatSums] = {}
    all_counts: dict[dt.date, int] = {}
    for r in parsed:
        all_days.update(r.day_sums)
        all_counts.update(r.day_counts)
    spans = sorted(
        (r.period_start, r.period_end) for r in parsed if r.period_start and r.period_end
    )
    genesis = min((r.period_start for r in parsed if r.first and r.period_start), default=None)
    for r in parsed:
        for year in (c for c in r.closures if c.kind == "year"):
            start = max(year.start, genesis) if genesis else year.start
            if not _spans_cover(spans, start, year.end):
                # A month of this year is missing or unreadable (reported on its own): its
                # tickets cannot be summed, which says nothing about the closure.
                continue
            expected: dict[int, list[int]] = {}
            for day, sums in all_days.items():
                if year.start <= day <= year.end:
                    merge_sums(expected, sums)
            _compare_sums(
                out.append,
                r.file,
                f"year closure {year.start}..{year.end}",
                {k: tuple(v) for k, v in expected.items()},
                year,
            )
            count = sum(n for day, n in all_counts.items() if year.start <= day <= year.end)
            if year.tickets != count:
                out.append(
                    finding(
                        "CLOSURE_TOTAL_MISMATCH",
                        f"year closure {year.start}..{year.end}: ticket count differs",
                        file=r.file,
                        expected=count,
                        found=year.tickets,
                    )
                )
    return out


def _spans_cover(spans: list[tuple[dt.date, dt.date]], start: dt.date, end: dt.date) -> bool:
    """Whether the sorted periods ``spans`` leave no day of ``[start, end]`` uncovered."""
    cursor = start
    for a, b in spans:
        if b < cursor:
            continue
        if a > cursor:
            return False
        cursor = b + dt.timedelta(days=1)
        if cursor > end:
            return True
    return cursor > end
