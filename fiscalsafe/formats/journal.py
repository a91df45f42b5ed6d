"""The technical event journal (JET): bytes <-> entries.

Layout (documented byte by byte in ``schemas/journal.md``): a msgpack stream whose first
object is the file header ``{"format": "fiscalsafe-jet", "version": [1, 0], "dossier": ID}``
and every following object is a record ``[body: bin, signature: bin]``. ``body`` is itself
the msgpack encoding of a map; the signature covers exactly those stored body bytes, and
the body holds the previous record's signature, which chains the records. A separate
signed head (``journal.head``) names the last record so that a cut tail is detectable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgpack

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.packing import (
    Phrase,
    check_timestamp,
    check_version,
    pack,
    require,
    unpack,
    unpacker,
)
from fiscalsafe.i18n import N_, _

JOURNAL_FORMAT = "fiscalsafe-jet"
HEAD_FORMAT = "fiscalsafe-jet-head"
MAJOR, MINOR = 1, 0
MAX_RECORD_BYTES = 1024 * 1024
READ_CHUNK = 256 * 1024

#: JET event codes: the list used by the reference retail suite's certified journal.
JET_CODES: dict[int, str] = {
    10: "application start",
    20: "fiscal archive created (period)",
    30: "fiscal archive created (fiscal year)",
    40: "application stop",
    50: "closing (day or month)",
    60: "closing (fiscal year)",
    70: "backup made",
    80: "user login",
    90: "integrity failure detected",
    100: "restore of data",
    110: "fiscal parameter changed",
    120: "software version change",
    130: "data export",
    140: "duplicate ticket printed",
    150: "clock change",
    260: "journal initialisation (genesis)",
    270: "end of activity (the shop has closed for good)",
}
GENESIS_CODE = 260
END_OF_ACTIVITY_CODE = 270
ARCHIVE_CODES = (20, 30)
CLOSING_CODES = (50, 60)
INTEGRITY_FAILURE_CODE = 90


@dataclass(frozen=True)
class JournalEntry:
    """One signed JET record, with the exact bytes it was parsed from."""

    seq: int
    ts: int  # UTC microseconds since the Unix epoch
    tz: str
    utc_offset_min: int
    code: int
    workstation: str
    operator: str
    text: str
    data: dict[str, Any]
    alg: str
    key_id: bytes
    prev: bytes  # the previous record's signature; empty for the genesis record
    body: bytes
    signature: bytes
    offset: int  # byte offset of the record in the journal file


@dataclass(frozen=True)
class JournalHead:
    """The signed head: the last record's sequence and a digest of its signature."""

    dossier: str
    seq: int
    ts: int
    last_sig_sha256: bytes
    alg: str
    key_id: bytes
    body: bytes
    signature: bytes


def encode_header(dossier: str) -> bytes:
    return pack({"format": JOURNAL_FORMAT, "version": [MAJOR, MINOR], "dossier": dossier})


def encode_body(
    *,
    seq: int,
    ts: int,
    tz: str,
    utc_offset_min: int,
    code: int,
    workstation: str,
    operator: str,
    text: str,
    data: dict[str, Any],
    alg: str,
    key_id: bytes,
    prev: bytes,
) -> bytes:
    return pack(
        {
            "seq": seq,
            "ts": ts,
            "tz": tz,
            "off": utc_offset_min,
            "code": code,
            "ws": workstation,
            "op": operator,
            "text": text,
            "data": data,
            "alg": alg,
            "kid": key_id,
            "prev": prev,
        }
    )


def encode_record(body: bytes, signature: bytes) -> bytes:
    return pack([body, signature])


def decode_body(body: bytes, signature: bytes, offset: int) -> JournalEntry:
    what = Phrase(N_("journal record at byte {offset}"), offset=offset)
    doc = unpack(body, what)
    entry = JournalEntry(
        seq=require(doc, "seq", int, what),
        ts=check_timestamp(require(doc, "ts", int, what), what),
        tz=require(doc, "tz", str, what),
        utc_offset_min=require(doc, "off", int, what),
        code=require(doc, "code", int, what),
        workstation=require(doc, "ws", str, what),
        operator=require(doc, "op", str, what),
        text=require(doc, "text", str, what),
        data=require(doc, "data", dict, what),
        alg=require(doc, "alg", str, what),
        key_id=require(doc, "kid", bytes, what),
        prev=require(doc, "prev", bytes, what),
        body=body,
        signature=signature,
        offset=offset,
    )
    return entry


def read_header(doc: Any) -> str:
    what = Phrase(N_("journal header"))
    if require(doc, "format", str, what) != JOURNAL_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe event journal", what=what))
    check_version(require(doc, "version", list, what), MAJOR, what)
    return require(doc, "dossier", str, what)


@dataclass(frozen=True)
class RecordError:
    """A record whose framing was sound but whose body did not decode."""

    offset: int
    message: str


def iter_records(stream: BinaryIO) -> Iterator[JournalEntry | RecordError | str]:
    """Yield the dossier id from the header, then each entry (or a per-record error).

    Raises ``MalformedError`` where the msgpack framing itself breaks: nothing after that
    point can be located, so reading stops there.
    """
    reader = unpacker(MAX_RECORD_BYTES)
    offset = 0
    fed = 0
    first = True
    while True:
        chunk = stream.read(READ_CHUNK)
        if chunk:
            try:
                reader.feed(chunk)
            except msgpack.BufferFull:
                raise MalformedError(
                    _(
                        "journal: record after byte {offset} exceeds {limit} bytes",
                        offset=offset,
                        limit=MAX_RECORD_BYTES,
                    )
                ) from None
            fed += len(chunk)
        while True:
            try:
                obj = reader.unpack()
            except msgpack.OutOfData:
                break
            except (ValueError, TypeError, msgpack.UnpackException) as exc:
                raise MalformedError(
                    _(
                        "journal: framing broken at byte {offset} ({error})",
                        offset=offset,
                        error=exc.__class__.__name__,
                    )
                ) from None
            start, offset = offset, reader.tell()
            if first:
                first = False
                yield read_header(obj)
                continue
            if (
                not isinstance(obj, list)
                or len(obj) != 2
                or not all(isinstance(x, bytes) for x in obj)
            ):
                yield RecordError(
                    start, _("journal record at byte {start} is not [body, sig]", start=start)
                )
                continue
            try:
                yield decode_body(obj[0], obj[1], start)
            except MalformedError as exc:
                yield RecordError(start, str(exc))
        if not chunk:
            break
    if first:
        raise MalformedError(_("journal: empty file, no header"))
    if offset != fed:
        # Bytes fed but never consumed: the last record was cut in the middle.
        raise MalformedError(_("journal: incomplete record after byte {offset}", offset=offset))


def encode_head_body(
    *, dossier: str, seq: int, ts: int, last_sig_sha256: bytes, alg: str, key_id: bytes
) -> bytes:
    return pack(
        {
            "format": HEAD_FORMAT,
            "version": [MAJOR, MINOR],
            "dossier": dossier,
            "seq": seq,
            "ts": ts,
            "last_sig_sha256": last_sig_sha256,
            "alg": alg,
            "kid": key_id,
        }
    )


def parse_head(data: bytes) -> JournalHead:
    what = Phrase(N_("journal head"))
    outer = unpack(data, what)
    if (
        not isinstance(outer, list)
        or len(outer) != 2
        or not all(isinstance(x, bytes) for x in outer)
    ):
        raise MalformedError(_("{what}: expected [body, signature]", what=what))
    body, signature = outer
    doc = unpack(body, what)
    if require(doc, "format", str, what) != HEAD_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe journal head", what=what))
    check_version(require(doc, "version", list, what), MAJOR, what)
    return JournalHead(
        dossier=require(doc, "dossier", str, what),
        seq=require(doc, "seq", int, what),
        ts=check_timestamp(require(doc, "ts", int, what), what),
        last_sig_sha256=require(doc, "last_sig_sha256", bytes, what),
        alg=require(doc, "alg", str, what),
        key_id=require(doc, "kid", bytes, what),
        body=body,
        signature=signature,
    )
