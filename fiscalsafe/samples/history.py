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


def build_history(
    identity: DossierIdentity,
    signer: FiscalSigningKey,
    start: dt.date,
    until: dt.date,
    tickets_per_day: int,
    rng: random.Random,
) -> History:
    """Generate every signed record of a shop open from ``start`` to the day before ``until``."""
    zone = identity.zone
    key_id = signer.public_key().key_id

    def local(day: dt.date, hour: int, minute: int, second: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)

    journal = JournalWriter(identity, signer)
    journal.add(local(start, 8, 0), fj.GENESIS_CODE, "POSTE-01", "SYSTEM", "Initialisation", {})
    archives: list[tuple[str, bytes]] = []
    ticket_prev = b""
    ticket_seq = 0
    gt = 0
    archive_prev = b""
    month_tickets: list[tuple[bytes, bytes]] = []
    month_vat: list[tuple[fa.VatLine, ...]] = []
    year_vat: list[tuple[fa.VatLine, ...]] = []
    month_closures: list[fa.Closure] = []
    year_count = 0
    month_start = start
    gt_month_open = 0
    ticket_prev_month = b""
    operators = ("MARIE", "KARIM", "JULIE", "THOMAS")

    day = start
    while day < until:
        is_open = day.weekday() != 6 and (day.month, day.day) not in HOLIDAYS
        if is_open:
            ws = "POSTE-01"
            op = rng.choice(operators)
            journal.add(local(day, 8, 50), 10, ws, "SYSTEM", "Demarrage", {})
            journal.add(local(day, 8, 55), 80, ws, op, "Connexion", {})
            count = max(
                1, tickets_per_day + rng.randint(-tickets_per_day // 3, tickets_per_day // 3)
            )
            seconds = sorted(rng.randrange(9 * 3600, 19 * 3600) for _ in range(count))
            day_vat: list[tuple[fa.VatLine, ...]] = []
            day_ttc = 0
            for sec in seconds:
                ticket_seq += 1
                by_rate: dict[int, int] = defaultdict(int)
                for _ in range(rng.randint(1, 4)):
                    rate = rng.choices(fa.VAT_RATES_BP, RATE_WEIGHTS)[0]
                    by_rate[rate] += rng.randint(50, 15000)
                lines = tuple(
                    fa.VatLine(
                        r, by_rate[r] - vat_of(by_rate[r], r), vat_of(by_rate[r], r), by_rate[r]
                    )
                    for r in sorted(by_rate, reverse=True)
                )
                ttc = sum(v.ttc for v in lines)
                moment = local(day, 0, 0) + dt.timedelta(seconds=sec)
                body = fa.encode_ticket_body(
                    seq=ticket_seq,
                    ts=to_us(moment.astimezone(zone)),
                    workstation=ws,
                    operator=op,
                    vat=list(lines),
                    ttc=ttc,
                    prev=ticket_prev,
                )
                sig = signer.sign(body)
                month_tickets.append((body, sig))
                ticket_prev = sig
                day_vat.append(lines)
                day_ttc += ttc
                gt += ttc
            closure = fa.Closure("day", day, day, sum_vat(day_vat), day_ttc, gt, count)
            month_closures.append(closure)
            month_vat.extend(day_vat)
            year_vat.extend(day_vat)
            year_count += count
            journal.add(
                local(day, 19, 30), 50, ws, op, "Cloture journaliere", closure_data(closure)
            )
            journal.add(local(day, 19, 45), 40, ws, "SYSTEM", "Arret", {})

        tomorrow = day + dt.timedelta(days=1)
        if tomorrow.month != day.month:
            month_total = sum(c.ttc for c in month_closures if c.kind == "day")
            month = fa.Closure(
                "month",
                month_start,
                day,
                sum_vat(month_vat),
                month_total,
                gt,
                len(month_tickets),
            )
            month_closures.append(month)
            journal.add(
                local(day, 23, 0),
                50,
                "POSTE-01",
                "SYSTEM",
                "Cloture mensuelle",
                closure_data(month),
            )
            fy_start, fy_end = identity.fiscal_year_of(day)
            with_year = day == fy_end
            if with_year:
                year_total = sum(v.ttc for lines in year_vat for v in lines)
                year = fa.Closure(
                    "year", fy_start, fy_end, sum_vat(year_vat), year_total, gt, year_count
                )
                month_closures.append(year)
                journal.add(
                    local(day, 23, 10),
                    60,
                    "POSTE-01",
                    "SYSTEM",
                    "Cloture exercice",
                    closure_data(year),
                )
            number = len(archives) + 1
            created = local(tomorrow, 7, 0)
            body = fa.encode_body(
                dossier=identity.dossier_id,
                number=number,
                first=number == 1,
                prev=archive_prev,
                period_start=month_start,
                period_end=day,
                created_ts=to_us(created),
                tz=identity.tz,
                gt_open=gt_month_open,
                gt_close=gt,
                ticket_prev=ticket_prev_month,
                closures=month_closures,
                tickets=month_tickets,
            )
            signature = signer.sign(body)
            data = fa.encode_envelope(body, signer.algorithm, key_id, signature)
            name = archive_file_name(number)
            archives.append((name, data))
            journal.add(
                created,
                30 if with_year else 20,
                "POSTE-01",
                "SYSTEM",
                "Archive fiscale",
                {
                    "archive": number,
                    "file": name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "start": month_start.isoformat(),
                    "end": day.isoformat(),
                },
            )
            archive_prev = signature
            month_tickets, month_vat, month_closures = [], [], []
            if with_year:
                year_vat, year_count = [], 0
            month_start = tomorrow
            gt_month_open = gt
            ticket_prev_month = ticket_prev
        day = tomorrow

    return History(
        archives=archives,
        journal=journal.file_bytes(),
        head=journal.head_bytes(),
        ticket_count=ticket_seq,
        start=start,
        until=until,
    )
