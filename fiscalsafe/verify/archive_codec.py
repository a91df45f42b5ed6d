"""A proven ``ArchiveResult`` as plain JSON values, and back: what a remembered proof keeps
of one archive for the chain, cross-check and coverage steps.

Decoding is strict: anything of the wrong shape raises ``ValueError`` (the caller then
proves the archive in full). Only proven results are encoded: their findings are warnings
or notes, never errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fiscalsafe.formats import archive as fa
from fiscalsafe.verify.archives import ArchiveResult
from fiscalsafe.verify.findings import Finding, Severity

_INTS = (
    "number",
    "created_ts",
    "gt_open",
    "gt_close",
    "ticket_count",
)
_OPTIONAL_INTS = ("first_ticket_seq", "last_ticket_seq")
_BYTES = ("prev", "signature", "ticket_prev", "last_ticket_sig")
_WHERE = ("file", "record", "offset", "expected", "found")


def encode_result(r: ArchiveResult) -> dict[str, Any]:
    if not r.proven or r.period_start is None or r.period_end is None:
        raise ValueError("only a proven archive is remembered")
    doc: dict[str, Any] = {name: getattr(r, name) for name in _INTS + _OPTIONAL_INTS}
    doc.update({name: getattr(r, name).hex() for name in _BYTES})
    doc["dossier"] = r.dossier
    doc["first"] = r.first
    doc["period"] = [r.period_start.isoformat(), r.period_end.isoformat()]
    doc["closures"] = [_encode_closure(c) for c in r.closures]
    doc["day_sums"] = {
        day.isoformat(): [[rate, *sums] for rate, sums in sorted(by_rate.items())]
        for day, by_rate in sorted(r.day_sums.items())
    }
    doc["day_counts"] = {day.isoformat(): n for day, n in sorted(r.day_counts.items())}
    doc["findings"] = [_encode_finding(f) for f in r.findings]
    return doc


def decode_result(file: str, sha256: str, doc: dict[str, Any]) -> ArchiveResult:
    """The remembered result of ``file``; its signatures were not checked by this run."""
    r = ArchiveResult(file=file, sha256=sha256, parsed=True, trusted=True, remembered=True)
    for name in _INTS:
        setattr(r, name, _int(doc[name]))
    for name in _OPTIONAL_INTS:
        setattr(r, name, None if doc[name] is None else _int(doc[name]))
    for name in _BYTES:
        setattr(r, name, bytes.fromhex(_str(doc[name])))
    r.dossier = _str(doc["dossier"])
    r.first = _bool(doc["first"])
    start, end = doc["period"]
    r.period_start, r.period_end = _date(start), _date(end)
    r.closures = tuple(_decode_closure(c) for c in doc["closures"])
    r.day_sums = {
        _date(day): {_int(rate): (_int(ht), _int(tva), _int(ttc)) for rate, ht, tva, ttc in rows}
        for day, rows in _dict(doc["day_sums"]).items()
    }
    r.day_counts = {_date(day): _int(n) for day, n in _dict(doc["day_counts"]).items()}
    r.findings = [_decode_finding(f, file) for f in doc["findings"]]
    if not r.proven:
        raise ValueError("a remembered proof holds an error")
    return r


def _encode_closure(c: fa.Closure) -> list[Any]:
    vat = [[v.rate_bp, v.ht, v.tva, v.ttc] for v in c.vat]
    return [c.kind, c.start.isoformat(), c.end.isoformat(), vat, c.ttc, c.gt, c.tickets]


def _decode_closure(doc: list[Any]) -> fa.Closure:
    kind, start, end, vat, ttc, gt, tickets = doc
    if kind not in ("day", "month", "year"):
        raise ValueError("closure kind")
    lines = tuple(fa.VatLine(*(_int(x) for x in _four(v))) for v in vat)
    return fa.Closure(kind, _date(start), _date(end), lines, _int(ttc), _int(gt), _int(tickets))


def _encode_finding(f: Finding) -> dict[str, Any]:
    doc = f.to_json()
    doc.pop("file", None)  # the current file name is used on the way back
    return doc


def _decode_finding(doc: dict[str, Any], file: str) -> Finding:
    where = {name: doc[name] for name in _WHERE if name in doc}
    for value in where.values():
        if not isinstance(value, str | int | float | bool):
            raise ValueError("finding field")
    where["file"] = file
    return Finding(
        code=_str(doc["code"]),
        message=_str(doc["message"]),
        severity=Severity(doc["severity"]),
        **where,
    )


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError("not an integer")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not a string")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError("not a boolean")
    return value


def _dict(value: Any) -> dict:
    if type(value) is not dict:
        raise ValueError("not a map")
    return value


def _four(value: Any) -> list:
    if type(value) is not list or len(value) != 4:
        raise ValueError("not a VAT line")
    return value


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(_str(value))
