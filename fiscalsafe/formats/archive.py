"""Signed fiscal archives: bytes <-> archives.

An archive file is the msgpack map
``{"format": "fiscalsafe-archive", "version": [1, 0], "body": bin, "alg": str,
"kid": bin, "sig": bin}``. ``sig`` covers exactly the stored ``body`` bytes, which are
the msgpack encoding of the archive content: header fields, the period's closures and
its tickets. Each ticket is ``[ticket_body: bin, ticket_sig: bin]`` and each ticket body
holds the previous ticket's signature. Layout: ``schemas/fiscal-archive.md``.

Parsing is split in two so that a verifier can check the envelope signature before it
trusts anything inside: ``parse_envelope`` then ``parse_body``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import msgpack

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.packing import (
    MAX_TIMESTAMP_US,
    SMALL_LIMITS,
    Phrase,
    check_timestamp,
    check_version,
    pack,
    require,
    unpack,
)
from fiscalsafe.i18n import N_, _

ARCHIVE_FORMAT = "fiscalsafe-archive"
#: How error messages name what they were decoding.
TICKET = Phrase(N_("ticket"))
FISCAL_ARCHIVE = Phrase(N_("fiscal archive"))
FISCAL_ARCHIVE_BODY = Phrase(N_("fiscal archive body"))
MAJOR, MINOR = 1, 0
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
#: French VAT rates in basis points: 20 %, 10 %, 5.5 %, 2.1 %.
VAT_RATES_BP = (2000, 1000, 550, 210)
CLOSURE_KINDS = ("day", "month", "year")


@dataclass(frozen=True)
class VatLine:
    """Amounts in euro cents for one VAT rate (basis points)."""

    rate_bp: int
    ht: int  # excluding tax
    tva: int  # the tax
    ttc: int  # including tax


@dataclass(frozen=True)
class Ticket:
    seq: int
    ts: int  # UTC microseconds
    workstation: str
    operator: str
    vat: tuple[VatLine, ...]
    ttc: int
    prev: bytes
    body: bytes
    signature: bytes


@dataclass(frozen=True)
class Closure:
    kind: str  # day | month | year
    start: dt.date
    end: dt.date  # inclusive
    vat: tuple[VatLine, ...]
    ttc: int  # the period's total
    gt: int  # perpetual grand total at the end of the period
    tickets: int


@dataclass(frozen=True)
class Envelope:
    version: tuple[int, int]
    body: bytes
    alg: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class ArchiveBody:
    dossier: str
    number: int
    first: bool
    prev: bytes  # the previous archive's signature; empty for the first archive
    period_start: dt.date
    period_end: dt.date  # inclusive
    created_ts: int
    tz: str
    gt_open: int  # perpetual grand total before the period
    gt_close: int  # perpetual grand total after the period
    ticket_prev: bytes  # signature of the last ticket before this archive
    closures: tuple[Closure, ...]
    raw_tickets: tuple[tuple[bytes, bytes], ...]  # (body, signature), undecoded


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _date(value: Any, what: str) -> dt.date:
    # fromisoformat alone also takes "20250301" and week dates: the format says YYYY-MM-DD.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise MalformedError(_("{what}: date must be a YYYY-MM-DD string", what=what))
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise MalformedError(
            _("{what}: {value} is not a YYYY-MM-DD date", what=what, value=repr(value))
        ) from None


def _vat_lines(value: Any, what: str) -> tuple[VatLine, ...]:
    if type(value) is not list:
        raise MalformedError(_("{what}: VAT lines must be a list", what=what))
    lines = []
    for item in value:
        if (
            type(item) is not list
            or len(item) != 4
            or type(item[0]) is not int
            or type(item[1]) is not int
            or type(item[2]) is not int
            or type(item[3]) is not int
        ):
            raise MalformedError(
                _("{what}: a VAT line must be [rate_bp, ht, tva, ttc] integers", what=what)
            )
        lines.append(VatLine(item[0], item[1], item[2], item[3]))
    return tuple(lines)


def encode_vat(lines: tuple[VatLine, ...] | list[VatLine]) -> list[list[int]]:
    return [[v.rate_bp, v.ht, v.tva, v.ttc] for v in lines]


def encode_ticket_body(
    *,
    seq: int,
    ts: int,
    workstation: str,
    operator: str,
    vat: list[VatLine],
    ttc: int,
    prev: bytes,
) -> bytes:
    return pack(
        {
            "seq": seq,
            "ts": ts,
            "ws": workstation,
            "op": operator,
            "vat": encode_vat(vat),
            "ttc": ttc,
            "prev": prev,
        }
    )


def decode_ticket(body: bytes, signature: bytes, index: int) -> Ticket:
    # Hot path (hundreds of thousands per dossier): exact type checks, one try block.
    doc = unpack(body, TICKET)
    try:
        seq, ts, ws, op = doc["seq"], doc["ts"], doc["ws"], doc["op"]
        vat, ttc, prev = doc["vat"], doc["ttc"], doc["prev"]
        if not (
            type(seq) is int
            and type(ts) is int
            and type(ws) is str
            and type(op) is str
            and type(vat) is list
            and type(ttc) is int
            and type(prev) is bytes
            and 0 <= ts < MAX_TIMESTAMP_US
        ):
            raise TypeError
    except (KeyError, TypeError):
        raise MalformedError(
            _(
                "ticket #{index}: a field is missing, has the wrong type or an impossible "
                "timestamp",
                index=index,
            )
        ) from None
    return Ticket(seq, ts, ws, op, _vat_lines(vat, f"ticket #{index}"), ttc, prev, body, signature)


def decode_ticket_docs(raw_tickets: tuple[tuple[bytes, bytes], ...]) -> list[Any]:
    """Decode every ticket body of an archive: a list of maps, or ``MalformedError`` items.

    Arrays inside (the VAT lines) decode as tuples: a sixth cheaper to build than lists,
    and this runs once per ticket of the whole history. Fast path: the bodies are decoded
    in one streaming pass over their concatenation, and each object must end exactly where
    its body ends. Any misfit (a body holding zero, two or a truncated object) falls back to
    decoding each body on its own.
    """
    bodies = [b for b, _ in raw_tickets]
    joined = b"".join(bodies)
    reader = msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        use_list=False,
        max_buffer_size=max(1, len(joined)),
        **SMALL_LIMITS,
    )
    reader.feed(joined)
    docs: list[Any] = []
    end = 0
    try:
        for b in bodies:
            end += len(b)
            docs.append(reader.unpack())
            if reader.tell() != end:
                raise ValueError("misaligned")
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.OutOfData):
        docs = []
        for index, b in enumerate(bodies):
            try:
                docs.append(
                    unpack(b, Phrase(N_("ticket #{index}"), index=index), arrays_as_tuples=True)
                )
            except MalformedError as exc:
                docs.append(exc)
    return docs


def encode_closure(closure: Closure) -> dict[str, Any]:
    return {
        "kind": closure.kind,
        "start": closure.start.isoformat(),
        "end": closure.end.isoformat(),
        "vat": encode_vat(closure.vat),
        "ttc": closure.ttc,
        "gt": closure.gt,
        "tickets": closure.tickets,
    }


def _closure(doc: Any, index: int) -> Closure:
    what = Phrase(N_("closure #{index}"), index=index)
    kind = require(doc, "kind", str, what)
    if kind not in CLOSURE_KINDS:
        raise MalformedError(_("{what}: unknown closure kind {kind}", what=what, kind=repr(kind)))
    return Closure(
        kind=kind,
        start=_date(require(doc, "start", str, what), what),
        end=_date(require(doc, "end", str, what), what),
        vat=_vat_lines(require(doc, "vat", list, what), what),
        ttc=require(doc, "ttc", int, what),
        gt=require(doc, "gt", int, what),
        tickets=require(doc, "tickets", int, what),
    )


def encode_body(
    *,
    dossier: str,
    number: int,
    first: bool,
    prev: bytes,
    period_start: dt.date,
    period_end: dt.date,
    created_ts: int,
    tz: str,
    gt_open: int,
    gt_close: int,
    ticket_prev: bytes,
    closures: list[Closure],
    tickets: list[tuple[bytes, bytes]],
) -> bytes:
    return pack(
        {
            "dossier": dossier,
            "number": number,
            "first": first,
            "prev": prev,
            "period": [period_start.isoformat(), period_end.isoformat()],
            "created_ts": created_ts,
            "tz": tz,
            "gt_open": gt_open,
            "gt_close": gt_close,
            "ticket_prev": ticket_prev,
            "closures": [encode_closure(c) for c in closures],
            "tickets": [[body, sig] for body, sig in tickets],
        }
    )


def encode_envelope(body: bytes, alg: str, key_id: bytes, signature: bytes) -> bytes:
    return pack(
        {
            "format": ARCHIVE_FORMAT,
            "version": [MAJOR, MINOR],
            "body": body,
            "alg": alg,
            "kid": key_id,
            "sig": signature,
        }
    )


def parse_envelope(data: bytes) -> Envelope:
    """Decode the outer map only; nothing inside ``body`` is trusted yet."""
    what = FISCAL_ARCHIVE
    if len(data) > MAX_ARCHIVE_BYTES:
        raise MalformedError(
            _("{what}: {size} bytes exceeds the size limit", what=what, size=len(data))
        )
    doc = unpack(data, what)
    if require(doc, "format", str, what) != ARCHIVE_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe archive", what=what))
    version = check_version(require(doc, "version", list, what), MAJOR, what)
    return Envelope(
        version=version,
        body=require(doc, "body", bytes, what),
        alg=require(doc, "alg", str, what),
        key_id=require(doc, "kid", bytes, what),
        signature=require(doc, "sig", bytes, what),
    )


def parse_body(body: bytes) -> ArchiveBody:
    what = FISCAL_ARCHIVE_BODY
    doc = unpack(body, what)
    period = require(doc, "period", list, what)
    if len(period) != 2:
        raise MalformedError(_("{what}: period must be [start, end]", what=what))
    raw_tickets = require(doc, "tickets", list, what)
    for i, item in enumerate(raw_tickets):
        if not isinstance(item, list) or len(item) != 2:
            raise MalformedError(_("{what}: ticket #{i} is not [body, signature]", what=what, i=i))
        if not isinstance(item[0], bytes) or not isinstance(item[1], bytes):
            raise MalformedError(
                _("{what}: ticket #{i} is not [body, signature] bytes", what=what, i=i)
            )
    return ArchiveBody(
        dossier=require(doc, "dossier", str, what),
        number=require(doc, "number", int, what),
        first=require(doc, "first", bool, what),
        prev=require(doc, "prev", bytes, what),
        period_start=_date(period[0], what),
        period_end=_date(period[1], what),
        created_ts=check_timestamp(require(doc, "created_ts", int, what), what),
        tz=require(doc, "tz", str, what),
        gt_open=require(doc, "gt_open", int, what),
        gt_close=require(doc, "gt_close", int, what),
        ticket_prev=require(doc, "ticket_prev", bytes, what),
        closures=tuple(_closure(c, i) for i, c in enumerate(require(doc, "closures", list, what))),
        raw_tickets=tuple((item[0], item[1]) for item in raw_tickets),
    )
