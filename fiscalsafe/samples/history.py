"""A shop's signed fiscal history: tickets, closures, journal and monthly archives.

Used by the sample generator (and the tamper catalogue to re-sign). Days, months and
fiscal years follow the shop's local calendar; every instant is stored in UTC
microseconds with the zone name and offset, so nothing is ambiguous across DST changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fiscalsafe.crypto import FiscalSigningKey
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DossierIdentity

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
RATE_WEIGHTS = (70, 15, 12, 3)  # share of lines at 20 %, 10 %, 5.5 %, 2.1 %
HOLIDAYS = {(1, 1), (5, 1), (7, 14), (12, 25)}


def to_us(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def from_us(ts: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=ts)


def vat_of(ttc: int, rate_bp: int) -> int:
    """The VAT inside a tax-included amount, rounded half up to the cent."""
    return (2 * ttc * rate_bp + 10000 + rate_bp) // (2 * (10000 + rate_bp))


def sum_vat(lines: list[tuple[fa.VatLine, ...]]) -> tuple[fa.VatLine, ...]:
    """Per-rate sums of several tickets' VAT lines, highest rate first."""
    acc: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for ticket_lines in lines:
        for v in ticket_lines:
            a = acc[v.rate_bp]
            a[0] += v.ht
            a[1] += v.tva
            a[2] += v.ttc
    return tuple(fa.VatLine(r, *acc[r]) for r in sorted(acc, reverse=True))


@dataclass
class JournalWriter:
    identity: DossierIdentity
    signer: FiscalSigningKey
    records: list[bytes] = field(default_factory=list)
    seq: int = 0
    prev: bytes = b""
    last_ts: int = 0

    def add(self, moment: dt.datetime, code: int, ws: str, op: str, text: str, data: dict) -> None:
        self.seq += 1
        self.last_ts = to_us(moment)
        offset = moment.utcoffset()
        body = fj.encode_body(
            seq=self.seq,
            ts=self.last_ts,
            tz=self.identity.tz,
            utc_offset_min=int(offset.total_seconds() // 60) if offset else 0,
            code=code,
            workstation=ws,
            operator=op,
            text=text,
            data=data,
            alg=self.signer.algorithm,
            key_id=self.signer.public_key().key_id,
            prev=self.prev,
        )
        signature = self.signer.sign(body)
        self.records.append(fj.encode_record(body, signature))
        self.prev = signature

    def file_bytes(self) -> bytes:
        return fj.encode_header(self.identity.dossier_id) + b"".join(self.records)

    def head_bytes(self) -> bytes:
        body = fj.encode_head_body(
            dossier=self.identity.dossier_id,
            seq=self.seq,
            ts=self.last_ts,
            last_sig_sha256=hashlib.sha256(self.prev).digest(),
            alg=self.signer.algorithm,
            key_id=self.signer.public_key().key_id,
        )
        return fj.pack([body, self.signer.sign(body)])


@dataclass
class History:
    archives: list[tuple[str, bytes]]  # (file name, bytes)
    journal: bytes
    head: bytes
    ticket_count: int
    start: dt.date
    until: dt.date


def archive_file_name(number: int) -> str:
    return f"A{number:06d}.fsa"


def closure_data(c: fa.Closure) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "start": c.start.isoformat(),
        "end": c.end.isoformat(),
        "ttc": c.ttc,
        "gt": c.gt,
        "tickets": c.tickets,
    }


OPERATORS = ("MARIE", "KARIM", "JULIE", "THOMAS")
WORKSTATION = "POSTE-01"


@dataclass
class MonthInProgress:
    """What the next monthly archive will hold, gathered day by day."""

    start: dt.date
    gt_open: int
    ticket_prev: bytes
    tickets: list[tuple[bytes, bytes]] = field(default_factory=list)
    vat: list[tuple[fa.VatLine, ...]] = field(default_factory=list)
    closures: list[fa.Closure] = field(default_factory=list)


@dataclass
class HistoryBuilder:
    """A shop's signed history written day by day: tickets and closures, the journal, and a
    signed archive at each month end. Its fields are the chains the next day continues,
    so a builder may also start from where a dossier's history stops."""

    identity: DossierIdentity
    signer: FiscalSigningKey
    rng: random.Random
    tickets_per_day: int
    journal: JournalWriter
    month: MonthInProgress
    archives: list[tuple[str, bytes]] = field(default_factory=list)
    ticket_prev: bytes = b""
    ticket_seq: int = 0
    gt: int = 0
    archive_prev: bytes = b""
    next_number: int = 1
    year_vat: list[tuple[fa.VatLine, ...]] = field(default_factory=list)
    year_count: int = 0

    def local(self, day: dt.date, hour: int, minute: int, second: int = 0) -> dt.datetime:
        zone = self.identity.zone
        return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)

    def log(self, moment: dt.datetime, code: int, op: str, text: str, data: dict) -> None:
        self.journal.add(moment, code, WORKSTATION, op, text, data)

    def run(self, start: dt.date, until: dt.date) -> None:
        """Every day from ``start`` to the day before ``until``."""
        day = start
        while day < until:
            if day.weekday() != 6 and (day.month, day.day) not in HOLIDAYS:
                self.trade(day)
            tomorrow = day + dt.timedelta(days=1)
            if tomorrow.month != day.month:
                self.close_month(day)
            day = tomorrow

    def trade(self, day: dt.date) -> None:
        """An open day: start, login, the tickets, the day closing, stop."""
        op = self.rng.choice(OPERATORS)
        self.log(self.local(day, 8, 50), 10, "SYSTEM", "Demarrage", {})
        self.log(self.local(day, 8, 55), 80, op, "Connexion", {})
        per_day = self.tickets_per_day
        count = max(1, per_day + self.rng.randint(-per_day // 3, per_day // 3))
        seconds = sorted(self.rng.randrange(9 * 3600, 19 * 3600) for _ in range(count))
        day_vat = [self.sell(self.local(day, 0, 0) + dt.timedelta(seconds=s), op) for s in seconds]
        day_ttc = sum(v.ttc for lines in day_vat for v in lines)
        closure = fa.Closure("day", day, day, sum_vat(day_vat), day_ttc, self.gt, count)
        self.month.closures.append(closure)
        self.month.vat.extend(day_vat)
        self.year_vat.extend(day_vat)
        self.year_count += count
        self.log(self.local(day, 19, 30), 50, op, "Cloture journaliere", closure_data(closure))
        self.log(self.local(day, 19, 45), 40, "SYSTEM", "Arret", {})

    def sell(self, moment: dt.datetime, op: str) -> tuple[fa.VatLine, ...]:
        """One signed ticket of one to four random lines; its VAT lines."""
        self.ticket_seq += 1
        by_rate: dict[int, int] = defaultdict(int)
        for _ in range(self.rng.randint(1, 4)):
            rate = self.rng.choices(fa.VAT_RATES_BP, RATE_WEIGHTS)[0]
            by_rate[rate] += self.rng.randint(50, 15000)
        lines = tuple(
            fa.VatLine(r, by_rate[r] - vat_of(by_rate[r], r), vat_of(by_rate[r], r), by_rate[r])
            for r in sorted(by_rate, reverse=True)
        )
        ttc = sum(v.ttc for v in lines)
        body = fa.encode_ticket_body(
            seq=self.ticket_seq,
            ts=to_us(moment.astimezone(self.identity.zone)),
            workstation=WORKSTATION,
            operator=op,
            vat=list(lines),
            ttc=ttc,
            prev=self.ticket_prev,
        )
        self.ticket_prev = self.signer.sign(body)
        self.month.tickets.append((body, self.ticket_prev))
        self.gt += ttc
        return lines

    def close_month(self, day: dt.date) -> None:
        """The month closure, the year closure at the fiscal year's end, the archive."""
        month_total = sum(c.ttc for c in self.month.closures if c.kind == "day")
        month_vat = sum_vat(self.month.vat)
        count = len(self.month.tickets)
        month = fa.Closure("month", self.month.start, day, month_vat, month_total, self.gt, count)
        self.month.closures.append(month)
        self.log(self.local(day, 23, 0), 50, "SYSTEM", "Cloture mensuelle", closure_data(month))
        fy_start, fy_end = self.identity.fiscal_year_of(day)
        with_year = day == fy_end
        if with_year:
            year_vat = sum_vat(self.year_vat)
            year_total = sum(v.ttc for lines in self.year_vat for v in lines)
            count = self.year_count
            year = fa.Closure("year", fy_start, fy_end, year_vat, year_total, self.gt, count)
            self.month.closures.append(year)
            self.log(self.local(day, 23, 10), 60, "SYSTEM", "Cloture exercice", closure_data(year))
        self.write_archive(day, with_year)
        if with_year:
            self.year_vat, self.year_count = [], 0
        tomorrow = day + dt.timedelta(days=1)
        self.month = MonthInProgress(tomorrow, self.gt, self.ticket_prev)

    def write_archive(self, day: dt.date, with_year: bool) -> None:
        """The month's signed archive, and the journal's record of it."""
        number = self.next_number
        created = self.local(day + dt.timedelta(days=1), 7, 0)
        body = fa.encode_body(
            dossier=self.identity.dossier_id,
            number=number,
            first=number == 1,
            prev=self.archive_prev,
            period_start=self.month.start,
            period_end=day,
            created_ts=to_us(created),
            tz=self.identity.tz,
            gt_open=self.month.gt_open,
            gt_close=self.gt,
            ticket_prev=self.month.ticket_prev,
            closures=self.month.closures,
            tickets=self.month.tickets,
        )
        self.archive_prev = self.signer.sign(body)
        key_id = self.signer.public_key().key_id
        data = fa.encode_envelope(body, self.signer.algorithm, key_id, self.archive_prev)
        name = archive_file_name(number)
        self.archives.append((name, data))
        self.next_number += 1
        event = {
            "archive": number,
            "file": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "start": self.month.start.isoformat(),
            "end": day.isoformat(),
        }
        self.log(created, 30 if with_year else 20, "SYSTEM", "Archive fiscale", event)


def build_history(
    identity: DossierIdentity,
    signer: FiscalSigningKey,
    start: dt.date,
    until: dt.date,
    tickets_per_day: int,
    rng: random.Random,
) -> History:
    """Generate every signed record of a shop open from ``start`` to the day before ``until``."""
    builder = HistoryBuilder(
        identity,
        signer,
        rng,
        tickets_per_day,
        JournalWriter(identity, signer),
        MonthInProgress(start, 0, b""),
    )
    builder.log(builder.local(start, 8, 0), fj.GENESIS_CODE, "SYSTEM", "Initialisation", {})
    builder.run(start, until)
    return History(
        archives=builder.archives,
        journal=builder.journal.file_bytes(),
        head=builder.journal.head_bytes(),
        ticket_count=builder.ticket_seq,
        start=start,
        until=until,
    )
