"""The formats of ``fiscalsafe/formats/`` and the crypto policy, against ``schemas/``.

- round trips of every format, with property tests for journal and archive bodies;
- version markers: an unknown major is refused with ``UnsupportedVersionError`` and a
  clear message, a newer minor is accepted;
- hostile input (huge declared lengths, wrong types, deep nesting, trailing bytes,
  truncation, random bytes) only ever raises ``MalformedError``;
- the algorithm and key policy of ``schemas/keys.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscalsafe import crypto
from fiscalsafe.errors import (
    MalformedError,
    TruncatedError,
    UnsupportedVersionError,
    WeakAlgorithmError,
)
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import (
    DEFAULT_PROFILE,
    DossierIdentity,
    Profile,
    parse_identity,
    parse_profile,
)
from fiscalsafe.formats.packing import MAX_TIMESTAMP_US, pack
from fiscalsafe.formats.tarstream import TarReader

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "dossier"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies --------------------------------------------------------------------------

msgpack_ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
#: Timestamps a decoder accepts: UTC microseconds from 1970 to before 9998-12-31.
timestamps = st.integers(min_value=0, max_value=MAX_TIMESTAMP_US - 1)
texts = st.text(max_size=24)
blobs = st.binary(max_size=72)
dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
scalars = st.one_of(msgpack_ints, texts, blobs, st.booleans(), st.none())
event_data = st.dictionaries(
    texts,
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=5,
)
vat_lines = st.builds(fa.VatLine, msgpack_ints, msgpack_ints, msgpack_ints, msgpack_ints)
closures = st.builds(
    fa.Closure,
    kind=st.sampled_from(fa.CLOSURE_KINDS),
    start=dates,
    end=dates,
    vat=st.lists(vat_lines, max_size=4).map(tuple),
    ttc=msgpack_ints,
    gt=msgpack_ints,
    tickets=msgpack_ints,
)


def journal_fields():
    return st.fixed_dictionaries(
        {
            "seq": msgpack_ints,
            "ts": timestamps,
            "tz": texts,
            "utc_offset_min": msgpack_ints,
            "code": msgpack_ints,
            "workstation": texts,
            "operator": texts,
            "text": texts,
            "data": event_data,
            "alg": texts,
            "key_id": blobs,
            "prev": blobs,
        }
    )


def archive_fields():
    return st.fixed_dictionaries(
        {
            "dossier": texts,
            "number": msgpack_ints,
            "first": st.booleans(),
            "prev": blobs,
            "period_start": dates,
            "period_end": dates,
            "created_ts": timestamps,
            "tz": texts,
            "gt_open": msgpack_ints,
            "gt_close": msgpack_ints,
            "ticket_prev": blobs,
            "closures": st.lists(closures, max_size=4),
            "tickets": st.lists(st.tuples(blobs, blobs), max_size=4),
        }
    )


# --- round trips -------------------------------------------------------------------------


@SETTINGS
@given(journal_fields(), blobs, st.integers(min_value=0, max_value=2**40))
def test_journal_body_round_trip(fields, signature, offset):
    body = fj.encode_body(**fields)
    entry = fj.decode_body(body, signature, offset)
    assert entry == fj.JournalEntry(**fields, body=body, signature=signature, offset=offset)


@SETTINGS
@given(texts, st.lists(st.tuples(journal_fields(), blobs), max_size=4))
def test_journal_stream_round_trip(dossier, records):
    header = fj.encode_header(dossier)
    stream, offsets = bytearray(header), []
    for fields, sig in records:
        offsets.append(len(stream))
        stream += fj.encode_record(fj.encode_body(**fields), sig)
    items = list(fj.iter_records(io.BytesIO(bytes(stream))))
    assert items[0] == dossier
    assert [(e.offset, e.signature, e.seq, e.data) for e in items[1:]] == [
        (off, sig, f["seq"], f["data"]) for off, (f, sig) in zip(offsets, records, strict=True)
    ]


@SETTINGS
@given(texts, msgpack_ints, timestamps, blobs, texts, blobs, blobs)
def test_journal_head_round_trip(dossier, seq, ts, digest, alg, kid, signature):
    body = fj.encode_head_body(
        dossier=dossier, seq=seq, ts=ts, last_sig_sha256=digest, alg=alg, key_id=kid
    )
    head = fj.parse_head(pack([body, signature]))
    assert head == fj.JournalHead(dossier, seq, ts, digest, alg, kid, body, signature)


@SETTINGS
@given(archive_fields())
def test_archive_body_round_trip(fields):
    body = fa.encode_body(**fields)
    parsed = fa.parse_body(body)
    expected = dict(fields)
    expected["closures"] = tuple(fields["closures"])
    expected["raw_tickets"] = tuple(expected.pop("tickets"))
    assert parsed == fa.ArchiveBody(**expected)


@SETTINGS
@given(msgpack_ints, timestamps, texts, texts, st.lists(vat_lines, max_size=4), msgpack_ints)
def test_ticket_round_trip(seq, ts, ws, op, vat, ttc):
    body = fa.encode_ticket_body(
        seq=seq, ts=ts, workstation=ws, operator=op, vat=vat, ttc=ttc, prev=b"p"
    )
    ticket = fa.decode_ticket(body, b"s", 0)
    assert ticket == fa.Ticket(seq, ts, ws, op, tuple(vat), ttc, b"p", body, b"s")


@SETTINGS
@given(blobs, texts, blobs, blobs)
def test_envelope_round_trip(body, alg, kid, signature):
    env = fa.parse_envelope(fa.encode_envelope(body, alg, kid, signature))
    assert env == fa.Envelope((1, 0), body, alg, kid, signature)


ZONES = ("Europe/Paris", "UTC", "America/Guadeloupe", "Indian/Reunion", "Pacific/Noumea")
# Every real day of a non-leap year: 02-29 is refused by design.
YEAR_DAYS = [(d.month, d.day) for d in (dt.date(2001, 1, 1) + dt.timedelta(n) for n in range(365))]


#: Dossier ids are portable names (they name backup files and travel in signed comments).
dossier_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)


@SETTINGS
@given(dossier_ids, texts, texts, st.sampled_from(ZONES), st.sampled_from(YEAR_DAYS))
def test_identity_round_trip(dossier_id, shop, siret, tz, fy_start):
    identity = DossierIdentity(dossier_id, shop, siret, tz, fy_start)
    data = json.dumps(identity.to_json()).encode()
    assert parse_identity(data) == identity


patterns = st.text(min_size=1, max_size=12)


@SETTINGS
@given(
    st.lists(texts, min_size=7, max_size=7),
    st.lists(st.tuples(texts, st.lists(patterns, max_size=3).map(tuple)), max_size=5),
)
def test_profile_round_trip(names, categories):
    profile = Profile(*names[:6], categories=tuple(categories), default_category=names[6])
    assert parse_profile(json.dumps(profile.to_json()).encode()) == profile


def test_default_profile_round_trip():
    data = json.dumps(DEFAULT_PROFILE.to_json()).encode()
    assert parse_profile(data) == DEFAULT_PROFILE


@pytest.mark.parametrize(
    "path, category",
    [
        ("odeis/POSTE-01.lck", "lock"),  # '*' matches across '/'
        ("ODEIS/POSTE-01.LCK", "lock"),
        ("tmp/export.fic", "temporary"),  # first match wins over database-data
        ("jet/journal.jet~", "temporary"),
        ("dossier.json", "identity"),
        ("keys/editor.pub", "key"),
        ("jet/journal.head", "journal"),
        ("archives/A000001.fsa", "fiscal-archive"),
        ("odeis/VENTE.ndx", "database-index"),
        ("ycar/ORDREREP.mmo", "database-memo"),
        ("odeis/VENTE.fic", "database-data"),
        ("transferts/envoi/TRF00001.trf", "transfer-outbound"),
        ("transferts/reception/TRF00001.trf", "transfer-inbound"),
        ("photos/stock/IMG00001.jpg", "photo"),
        ("odeis/VENTE.Fic", "other"),  # case-sensitive
        ("readme.txt", "other"),
    ],
)
def test_default_profile_categories(path, category):
    """The rules of schemas/profile.md: first match wins, '*' spans '/', case matters."""
    assert DEFAULT_PROFILE.categorize(path) == category


def test_fiscal_year_of():
    identity = DossierIdentity("X", "s", "1", "Europe/Paris", (4, 1))
    assert identity.fiscal_year_of(dt.date(2025, 3, 31)) == (
        dt.date(2024, 4, 1),
        dt.date(2025, 3, 31),
    )
    assert identity.fiscal_year_of(dt.date(2025, 4, 1)) == (
        dt.date(2025, 4, 1),
        dt.date(2026, 3, 31),
    )


# --- version markers ---------------------------------------------------------------------


def _journal_with_header(version) -> bytes:
    return pack({"format": fj.JOURNAL_FORMAT, "version": version, "dossier": "X"})


def _head_with_version(version) -> bytes:
    body = pack(
        {
            "format": fj.HEAD_FORMAT,
            "version": version,
            "dossier": "X",
            "seq": 1,
            "ts": 0,
            "last_sig_sha256": bytes(32),
            "alg": "ed25519",
            "kid": bytes(8),
        }
    )
    return pack([body, b"sig"])


def _envelope_with_version(version) -> bytes:
    return pack(
        {
            "format": fa.ARCHIVE_FORMAT,
            "version": version,
            "body": b"",
            "alg": "ed25519",
            "kid": bytes(8),
            "sig": b"",
        }
    )


def _identity_with_version(version) -> bytes:
    doc = DossierIdentity("X", "s", "1", "UTC", (1, 1)).to_json() | {"version": version}
    return json.dumps(doc).encode()


def _profile_with_version(version) -> bytes:
    return json.dumps(DEFAULT_PROFILE.to_json() | {"version": version}).encode()


VERSIONED = {
    "journal header": (_journal_with_header, lambda d: list(fj.iter_records(io.BytesIO(d)))),
    "journal head": (_head_with_version, fj.parse_head),
    "fiscal archive": (_envelope_with_version, fa.parse_envelope),
    "dossier.json": (_identity_with_version, parse_identity),
    "profile": (_profile_with_version, parse_profile),
}


@pytest.mark.parametrize("what", sorted(VERSIONED))
def test_unknown_major_version_is_refused_clearly(what):
    make, parse = VERSIONED[what]
    with pytest.raises(UnsupportedVersionError) as info:
        parse(make([2, 0]))
    message = str(info.value)
    assert what in message
    assert "version 2.0 is not supported" in message
    assert "reads major version 1" in message


@pytest.mark.parametrize("what", sorted(VERSIONED))
def test_newer_minor_version_is_accepted(what):
    make, parse = VERSIONED[what]
    parse(make([1, 9]))


@pytest.mark.parametrize("what", sorted(VERSIONED))
@pytest.mark.parametrize("version", ["1.0", [1], [1, 0, 0], [True, 0], [1, None], 1, None])
def test_malformed_version_marker(what, version):
    make, parse = VERSIONED[what]
    with pytest.raises(MalformedError) as info:
        parse(make(version))
    assert not isinstance(info.value, UnsupportedVersionError)


# --- hostile msgpack ---------------------------------------------------------------------

GOLDEN_ARCHIVE = (GOLDEN / "archives" / "A000001.fsa").read_bytes()
GOLDEN_BODY = fa.parse_envelope(GOLDEN_ARCHIVE).body
GOLDEN_JOURNAL = (GOLDEN / "jet" / "journal.jet").read_bytes()
GOLDEN_HEAD = (GOLDEN / "jet" / "journal.head").read_bytes()


def _consume_journal(data: bytes) -> list:
    return list(fj.iter_records(io.BytesIO(data)))


PARSERS = {
    "parse_envelope": fa.parse_envelope,
    "parse_body": fa.parse_body,
    "parse_head": fj.parse_head,
    "iter_records": _consume_journal,
    "decode_ticket": lambda d: fa.decode_ticket(d, b"", 0),
    "decode_body": lambda d: fj.decode_body(d, b"", 0),
    "parse_identity": parse_identity,
    "parse_profile": parse_profile,
}

HOSTILE_MSGPACK = {
    "empty": b"",
    "reserved type byte": b"\xc1",
    "bin32 declaring 4 GiB": b"\xc6\xff\xff\xff\xff" + b"x" * 16,
    "str32 declaring 4 GiB": b"\xdb\xff\xff\xff\xff" + b"x" * 16,
    "array32 declaring 4 billion items": b"\xdd\xff\xff\xff\xff\x00\x00",
    "map32 declaring 4 billion pairs": b"\xdf\xff\xff\xff\xff\xa1k\x00",
    "deep array nesting": b"\x91" * 100_000 + b"\xc0",
    "deep map nesting": b"\x81\xa1k" * 50_000 + b"\xc0",
    "ext type": b"\xd4\x01\x00",
    "float": b"\xcb" + struct.pack(">d", 1.5),
    "map with an array key": b"\x81\x91\x01\x02",
    "map with a map key": b"\x81\x81\x01\x02\x03",
    "nil": b"\xc0",
    "list instead of map": pack([1, 2, 3]),
    "truncated map": pack({"format": "fiscalsafe-archive"})[:-3],
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("name", sorted(HOSTILE_MSGPACK))
def test_hostile_bytes_are_malformed(parser, name):
    with pytest.raises(MalformedError):
        PARSERS[parser](HOSTILE_MSGPACK[name])


def _envelope(**change) -> bytes:
    doc = {
        "format": fa.ARCHIVE_FORMAT,
        "version": [1, 0],
        "body": b"b",
        "alg": "ed25519",
        "kid": bytes(8),
        "sig": b"s",
    }
    doc.update(change)
    return pack({k: v for k, v in doc.items() if v is not ...})


def _archive_body(**change) -> bytes:
    doc = {
        "dossier": "X",
        "number": 1,
        "first": True,
        "prev": b"",
        "period": ["2025-03-01", "2025-03-31"],
        "created_ts": 0,
        "tz": "UTC",
        "gt_open": 0,
        "gt_close": 0,
        "ticket_prev": b"",
        "closures": [],
        "tickets": [],
    }
    doc.update(change)
    return pack({k: v for k, v in doc.items() if v is not ...})


def _closure(**change) -> dict:
    doc = {
        "kind": "day",
        "start": "2025-03-03",
        "end": "2025-03-03",
        "vat": [[2000, 1000, 200, 1200]],
        "ttc": 1200,
        "gt": 1200,
        "tickets": 1,
    }
    doc.update(change)
    return {k: v for k, v in doc.items() if v is not ...}


def _journal_body(**change) -> bytes:
    doc = {
        "seq": 1,
        "ts": 0,
        "tz": "UTC",
        "off": 0,
        "code": 260,
        "ws": "W",
        "op": "O",
        "text": "",
        "data": {},
        "alg": "ed25519",
        "kid": bytes(8),
        "prev": b"",
    }
    doc.update(change)
    return pack({k: v for k, v in doc.items() if v is not ...})


def _head(**change) -> bytes:
    doc = {
        "format": fj.HEAD_FORMAT,
        "version": [1, 0],
        "dossier": "X",
        "seq": 1,
        "ts": 0,
        "last_sig_sha256": bytes(32),
        "alg": "ed25519",
        "kid": bytes(8),
    }
    doc.update(change)
    return pack([pack({k: v for k, v in doc.items() if v is not ...}), b"sig"])


WRONG_DOCUMENTS = {
    # Envelopes (parse_envelope).
    "envelope: other format": (fa.parse_envelope, _envelope(format="fiscalsafe-jet")),
    "envelope: body is str": (fa.parse_envelope, _envelope(body="b")),
    "envelope: kid is int": (fa.parse_envelope, _envelope(kid=1)),
    "envelope: sig missing": (fa.parse_envelope, _envelope(sig=...)),
    "envelope: trailing byte": (fa.parse_envelope, _envelope() + b"\x00"),
    "envelope: golden + trailing": (fa.parse_envelope, GOLDEN_ARCHIVE + b"\xc0"),
    # Archive bodies (parse_body).
    "body: first is 1": (fa.parse_body, _archive_body(first=1)),
    "body: number is true": (fa.parse_body, _archive_body(number=True)),
    "body: number is float": (fa.parse_body, _archive_body(number=1.0)),
    "body: prev is str": (fa.parse_body, _archive_body(prev="")),
    "body: period of 3": (fa.parse_body, _archive_body(period=["2025-03-01"] * 3)),
    "body: period of ints": (fa.parse_body, _archive_body(period=[20250301, 20250331])),
    "body: 30 February": (fa.parse_body, _archive_body(period=["2025-02-01", "2025-02-30"])),
    "body: tickets not pairs": (fa.parse_body, _archive_body(tickets=[[b"a"]])),
    "body: ticket of str": (fa.parse_body, _archive_body(tickets=[["a", b"s"]])),
    "body: closures a map": (fa.parse_body, _archive_body(closures={})),
    "body: closure kind week": (fa.parse_body, _archive_body(closures=[_closure(kind="week")])),
    "body: closure without gt": (fa.parse_body, _archive_body(closures=[_closure(gt=...)])),
    "body: VAT line of 3": (fa.parse_body, _archive_body(closures=[_closure(vat=[[1, 2, 3]])])),
    "body: VAT line with bool": (
        fa.parse_body,
        _archive_body(closures=[_closure(vat=[[2000, True, 0, 1]])]),
    ),
    "body: closure is a list": (fa.parse_body, _archive_body(closures=[[1]])),
    "body: golden + trailing": (fa.parse_body, GOLDEN_BODY + b"\xc0"),
    # Journal bodies (decode_body).
    "journal body: kid is str": (lambda d: fj.decode_body(d, b"", 0), _journal_body(kid="k")),
    "journal body: data is list": (lambda d: fj.decode_body(d, b"", 0), _journal_body(data=[])),
    "journal body: seq is bool": (lambda d: fj.decode_body(d, b"", 0), _journal_body(seq=False)),
    "journal body: no prev": (lambda d: fj.decode_body(d, b"", 0), _journal_body(prev=...)),
    # Heads (parse_head).
    "head: not a pair": (fj.parse_head, pack([b"x"])),
    "head: body not a map": (fj.parse_head, pack([pack([1]), b"s"])),
    "head: other format": (fj.parse_head, _head(format=fj.JOURNAL_FORMAT)),
    "head: digest is str": (fj.parse_head, _head(last_sig_sha256="00")),
    "head: golden + trailing": (fj.parse_head, GOLDEN_HEAD + b"\x00"),
    # Journals (iter_records).
    "journal: header not a map": (_consume_journal, pack([1]) + GOLDEN_JOURNAL[49:]),
    "journal: other format": (_consume_journal, pack({"format": "x", "version": [1, 0]})),
    "journal: cut mid-record": (_consume_journal, GOLDEN_JOURNAL[:-1]),
    "journal: record over 1 MiB": (
        _consume_journal,
        fj.encode_header("X") + pack([b"x" * (fj.MAX_RECORD_BYTES + 1), b"s"]),
    ),
}


@pytest.mark.parametrize("name", sorted(WRONG_DOCUMENTS))
def test_wrong_documents_are_malformed(name):
    parse, data = WRONG_DOCUMENTS[name]
    with pytest.raises(MalformedError):
        parse(data)


def test_journal_record_errors_do_not_stop_reading():
    """A record whose framing holds but whose content is wrong is reported, and the
    records after it are still read (schemas/journal.md, "Reading a journal")."""
    good = fj.encode_record(_journal_body(seq=2), b"s")
    data = (
        fj.encode_header("X")
        + pack([b"only one"])
        + fj.encode_record(_journal_body(kid="k"), b"s")
        + good
    )
    items = list(fj.iter_records(io.BytesIO(data)))
    assert items[0] == "X"
    assert [type(i).__name__ for i in items[1:]] == ["RecordError", "RecordError", "JournalEntry"]
    assert "not [body, sig]" in items[1].message
    assert items[3].seq == 2 and items[3].offset == len(data) - len(good)


def test_every_prefix_of_the_golden_journal():
    """Cut anywhere: either a shorter valid journal (cut between records) or malformed."""
    boundaries = {len(GOLDEN_JOURNAL)}
    reader_offsets = [e.offset for e in _consume_journal(GOLDEN_JOURNAL)[1:]]
    boundaries.update(reader_offsets)
    for cut in range(len(GOLDEN_JOURNAL)):
        prefix = GOLDEN_JOURNAL[:cut]
        if cut in boundaries:
            items = _consume_journal(prefix)
            assert len(items) == 1 + reader_offsets.index(cut)
        else:
            with pytest.raises(MalformedError):
                _consume_journal(prefix)


@pytest.mark.parametrize(
    "name, data",
    [("archive", GOLDEN_ARCHIVE), ("body", GOLDEN_BODY), ("head", GOLDEN_HEAD)],
)
def test_every_truncation_of_golden_documents_is_malformed(name, data):
    parse = {"archive": fa.parse_envelope, "body": fa.parse_body, "head": fj.parse_head}[name]
    for cut in range(len(data)):
        with pytest.raises(MalformedError):
            parse(data[:cut])


HOSTILE_JSON = {
    "not UTF-8": b"\xff\xfe{}",
    "not JSON": b"{format: 1}",
    "a list": b"[]",
    "NaN": b'{"format": NaN}',
    "over 1 MiB": b'{"format": "' + b"x" * (1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("parse", [parse_identity, parse_profile])
@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_json_is_malformed(parse, name):
    with pytest.raises(MalformedError):
        parse(HOSTILE_JSON[name])


@pytest.mark.parametrize(
    "parse, data",
    [
        pytest.param(parse_identity, b"[" * 100_000 + b"]" * 100_000, id="identity-deep"),
        pytest.param(parse_profile, b"[" * 100_000 + b"]" * 100_000, id="profile-deep"),
        pytest.param(parse_identity, b'{"format": ' + b"1" * 5000 + b"}", id="identity-bigint"),
        pytest.param(parse_profile, b'{"format": ' + b"1" * 5000 + b"}", id="profile-bigint"),
    ],
)
def test_hostile_json_limits_are_malformed(parse, data):
    """Deep nesting (RecursionError) and integers over Python's 4300-digit limit
    (ValueError) must not escape as anything but MalformedError."""
    with pytest.raises(MalformedError):
        parse(data)


def _identity(**change) -> bytes:
    doc = DossierIdentity("X", "s", "1", "Europe/Paris", (1, 1)).to_json() | change
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    "change",
    [
        {"format": "fiscalsafe-profile"},
        {"tz": "Mars/Olympus"},
        {"tz": "../../etc/passwd"},
        {"tz": ""},
        {"fiscal_year_start": "02-29"},
        {"fiscal_year_start": "13-01"},
        {"fiscal_year_start": "01-01-01"},
        {"fiscal_year_start": "0101"},
        {"fiscal_year_start": 101},
        {"id": 7},
        {"siret": None},
        {"shop": ...},
    ],
)
def test_wrong_identity_is_malformed(change):
    with pytest.raises(MalformedError):
        parse_identity(_identity(**change))


@pytest.mark.parametrize(
    "change",
    [
        {"format": "fiscalsafe-dossier"},
        {"categories": {}},
        {"categories": [["lock", ["*.lck"]]]},
        {"categories": [{"name": "lock", "patterns": [""]}]},
        {"categories": [{"name": "lock", "patterns": [1]}]},
        {"categories": [{"name": 1, "patterns": []}]},
        {"journal": None},
    ],
)
def test_wrong_profile_is_malformed(change):
    doc = DEFAULT_PROFILE.to_json() | change
    with pytest.raises(MalformedError):
        parse_profile(json.dumps(doc).encode())


# --- property tests: anything hostile is MalformedError, nothing else --------------------


def _only_malformed(parse, data: bytes) -> None:
    """Parse, or fail with MalformedError; any other exception fails the test."""
    with contextlib.suppress(MalformedError):
        parse(data)


@pytest.mark.parametrize("parser", sorted(PARSERS))
@SETTINGS
@given(data=st.binary(max_size=512))
def test_random_bytes_only_raise_malformed(parser, data):
    _only_malformed(PARSERS[parser], data)


GOLDEN_INPUTS = {
    "parse_envelope": GOLDEN_ARCHIVE,
    "parse_body": GOLDEN_BODY,
    "parse_head": GOLDEN_HEAD,
    "iter_records": GOLDEN_JOURNAL,
    "parse_identity": (GOLDEN / "dossier.json").read_bytes(),
    "parse_profile": json.dumps(DEFAULT_PROFILE.to_json()).encode(),
}


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """A valid document damaged a little: bytes changed, cut, inserted or deleted."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["set", "cut", "insert", "delete"]))
        where = draw(st.integers(0, max(len(out) - 1, 0)))
        if action == "set" and out:
            out[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del out[where:]
        elif action == "insert":
            out[where:where] = draw(st.binary(min_size=1, max_size=9))
        elif out:
            del out[where]
    return bytes(out)


@pytest.mark.parametrize("parser", sorted(GOLDEN_INPUTS))
@SETTINGS
@given(st.data())
def test_damaged_documents_only_raise_malformed(parser, data):
    damaged = data.draw(mutations(GOLDEN_INPUTS[parser]))
    _only_malformed(PARSERS[parser], damaged)


# --- the crypto policy (schemas/keys.md) -------------------------------------------------


def _pem(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("name", sorted(crypto.ACCEPTED_ALGORITHMS))
def test_accepted_algorithm_names(name):
    crypto.check_algorithm(name)


@pytest.mark.parametrize(
    "name",
    sorted(crypto.REFUSED_ALGORITHMS)
    + ["RSA-SHA1", "ecdsa-sha1-p256", "MD5withRSA", "hmac-md5", "Sha1"],
)
def test_sha1_and_md5_names_are_refused(name):
    with pytest.raises(WeakAlgorithmError, match="SHA-1/MD5"):
        crypto.check_algorithm(name)


@pytest.mark.parametrize(
    "name", ["ecdsa-p384-sha384", "rsa-pkcs1-sha256", "ECDSA-P256-SHA256", "", "none"]
)
def test_unknown_algorithm_names_are_refused(name):
    with pytest.raises(WeakAlgorithmError, match="not an accepted"):
        crypto.check_algorithm(name)


@pytest.fixture(scope="module")
def rsa_2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa_1024_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(WeakAlgorithmError, match="1024 bits"):
        crypto.load_public_key_pem(_pem(key.public_key()))


def test_rsa_2048_is_accepted_for_pss_verification(rsa_2048):
    public = crypto.load_public_key_pem(_pem(rsa_2048.public_key()))
    assert public.algorithm == crypto.RSA_PSS_SHA256
    data = b"signed bytes"
    for salt in (32, padding.PSS.MAX_LENGTH):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
        assert public.verify(rsa_2048.sign(data, pss, hashes.SHA256()), data)
    pkcs1 = rsa_2048.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert not public.verify(pkcs1, data)
    sha1_pss = rsa_2048.sign(
        data, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1()
    )
    assert not public.verify(sha1_pss, data)


def test_rsa_private_keys_cannot_sign(rsa_2048):
    pem = rsa_2048.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(WeakAlgorithmError):
        crypto.load_signing_key_pem(pem)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1(), ec.SECP256K1()])
def test_other_ec_curves_are_refused(curve):
    key = ec.generate_private_key(curve)
    with pytest.raises(WeakAlgorithmError, match="P-256 only"):
        crypto.load_public_key_pem(_pem(key.public_key()))


@pytest.mark.parametrize(
    "make", [lambda: ed448.Ed448PrivateKey.generate(), lambda: x25519.X25519PrivateKey.generate()]
)
def test_other_key_types_are_refused(make):
    with pytest.raises(WeakAlgorithmError, match="not accepted"):
        crypto.load_public_key_pem(_pem(make().public_key()))


@pytest.mark.parametrize(
    "data",
    [b"", b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"],
)
def test_garbage_public_keys_are_malformed(data):
    with pytest.raises(MalformedError):
        crypto.load_public_key_pem(data)


def test_oversized_key_file_is_malformed():
    with pytest.raises(MalformedError, match="too large"):
        crypto.load_public_key_pem(b"x" * (crypto.MAX_KEY_FILE_BYTES + 1))


def test_ecdsa_signatures_are_raw_deterministic_and_checked():
    signer = crypto.derive_signing_key(b"format tests")
    public = signer.public_key()
    assert public.algorithm == crypto.ECDSA_P256_SHA256
    data = b"exact stored bytes"
    sig = signer.sign(data)
    assert len(sig) == 64 and signer.sign(data) == sig  # r || s, RFC 6979
    assert public.verify(sig, data)
    assert not public.verify(sig, data + b"\x00")
    assert not public.verify(sig[:63], data)
    assert not public.verify(bytes(64), data)
    flipped = bytearray(sig)
    flipped[10] ^= 1
    assert not public.verify(bytes(flipped), data)
    # No low-S rule (schemas/keys.md): (r, n - s) is valid too.
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s = int.from_bytes(sig[32:], "big")
    assert public.verify(sig[:32] + (n - s).to_bytes(32, "big"), data)
    # Key identifiers as documented.
    assert public.key_id == hashlib.sha256(public.der).digest()[:8]
    assert public.fingerprint == "SHA256:" + hashlib.sha256(public.der).hexdigest()
    assert crypto.load_public_key_pem(public.to_pem()).der == public.der


@given(
    st.binary(min_size=64, max_size=64)
    | st.tuples(st.integers(0, 31), st.integers(0, 32), st.binary(min_size=64, max_size=64)).map(
        lambda t: bytes(t[0]) + b"\x80" + t[2][t[0] + 1 : 32] + bytes(t[1]) + t[2][32 + t[1] :]
    )
)
def test_p1363_to_der_matches_the_integer_encoding(sig):
    # The hot-loop DER builder must give exactly cryptography's encoding, including the
    # edge cases: leading zero bytes stripped, a 0x00 pad before a high bit, r or s zero.
    assert len(sig) == 64
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    assert crypto.p1363_to_der(sig) == encode_dss_signature(r, s)


@pytest.mark.parametrize("sig", [bytes(64), b"\xff" * 64, bytes(31) + b"\x01" + bytes(32)])
def test_p1363_to_der_edge_cases(sig):
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    assert crypto.p1363_to_der(sig) == encode_dss_signature(r, s)
    assert not crypto.derive_signing_key(b"edge").public_key().verifier()(sig, b"data")


@pytest.mark.parametrize("algorithm", [crypto.ECDSA_P256_SHA256, crypto.ED25519])
def test_verify_many_says_exactly_which_signatures_fail(algorithm):
    # The ECDSA fast path verifies a whole batch at once; one bad signature anywhere in it
    # (a forged one, a wrong length, a signature with a leading zero of s dropped) must
    # still be reported at its own position and nowhere else.
    signer = crypto.derive_signing_key(b"batch", algorithm)
    public = signer.public_key()
    messages = [b"ticket %d" % i for i in range(40)]
    signatures = [signer.sign(m) for m in messages]
    assert public.verify_many(signatures, messages) == [True] * 40
    bad = list(signatures)
    bad[0] = bytes(64)
    bad[17] = signatures[17][:-1]
    bad[39] = signatures[38]
    expected = [i not in (0, 17, 39) for i in range(40)]
    assert public.verify_many(bad, messages) == expected
    assert public.verify_many([], []) == []
    # One list shorter than the other is a caller's bug, never a shorter answer.
    with pytest.raises(ValueError):
        public.verify_many(signatures[:2], messages[:1])
    # A signature whose s starts with a zero byte verifies as 64 bytes, never as 63.
    message, sig = next(
        (m, s)
        for m, s in ((b"zero %d" % i, signer.sign(b"zero %d" % i)) for i in range(5000))
        if s[32] == 0
    )
    assert public.verify_many([sig], [message]) == [True]
    assert public.verify_many([sig[:32] + sig[33:]], [message]) == [False]


def test_ed25519_keys_sign_and_verify():
    signer = crypto.derive_signing_key(b"format tests", crypto.ED25519)
    public = crypto.load_public_key_pem(signer.public_key().to_pem())
    assert public.algorithm == crypto.ED25519
    sig = signer.sign(b"data")
    assert len(sig) == 64 and public.verify(sig, b"data") and not public.verify(sig, b"dat")
    assert not public.verify(b"", b"data")
    generated = ed25519.Ed25519PrivateKey.generate()
    other = crypto.load_public_key_pem(_pem(generated.public_key()))
    assert other.verify(generated.sign(b"x"), b"x")


@pytest.mark.parametrize("ts", [-1, MAX_TIMESTAMP_US, 2**63 - 1])
def test_impossible_timestamps_are_refused_by_every_decoder(ts):
    ticket = fa.encode_ticket_body(
        seq=1, ts=ts, workstation="W", operator="O", vat=[], ttc=0, prev=b""
    )
    with pytest.raises(MalformedError, match="timestamp"):
        fa.decode_ticket(ticket, b"s", 0)
    head = fj.encode_head_body(
        dossier="D", seq=1, ts=ts, last_sig_sha256=b"", alg="ed25519", key_id=b""
    )
    with pytest.raises(MalformedError, match="timestamp"):
        fj.parse_head(pack([head, b"s"]))


@pytest.mark.parametrize("bad_id", ["", "MAG 002", "MAG002 x=y", "../x", "-lead", "é", "a" * 65])
def test_unportable_dossier_ids_are_refused(bad_id):
    doc = {
        "format": "fiscalsafe-dossier",
        "version": [1, 0],
        "id": bad_id,
        "shop": "S",
        "siret": "1",
        "tz": "Europe/Paris",
        "fiscal_year_start": "01-01",
    }
    with pytest.raises(MalformedError, match="id"):
        parse_identity(json.dumps(doc).encode())


# --- tar reader: a cut stream is a truncation, other damage is not ----------------------


def _small_tar() -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("bag/data/a.txt")
        info.size = 1000
        tf.addfile(info, io.BytesIO(b"x" * 1000))
    return out.getvalue()


def _read_all(data: bytes) -> None:
    reader = TarReader(io.BytesIO(data))
    for _member in reader.members():
        while reader.read():
            pass


@pytest.mark.parametrize("cut", [100, 512 + 200, 1024 + 500, 1024 + 1000])
def test_tar_stream_cut_inside_a_header_or_member_is_a_truncation(cut: int) -> None:
    data = _small_tar()
    with pytest.raises(TruncatedError, match="ends inside"):
        _read_all(data[:cut])


def test_tar_header_with_a_bad_checksum_is_malformed_not_truncated() -> None:
    data = bytearray(_small_tar())
    data[0] ^= 0xFF  # the first header's name: its checksum no longer matches
    with pytest.raises(MalformedError) as info:
        _read_all(bytes(data))
    assert not isinstance(info.value, TruncatedError)
    assert "checksum" in str(info.value)
