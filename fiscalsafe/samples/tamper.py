"""The tamper catalogue: damage a copy of a sample dossier in one named way.

Each tamper plays one attacker and its docstring says which:

- *without the key*: bytes edited, records removed or copied, a record forged with a key
  nobody trusts, a fake signature of the right length;
- *the shop software itself*, which holds the editor key: it re-signs what it changed
  (and every record chained after it, and the journal head) so that exactly one fiscal
  rule is left broken. These prove that the rule is checked on its own, not only through
  signatures.

Tampers work on the decoded msgpack structures through ``fiscalsafe.formats``, pick their
target by position (the middle archive, the middle record of a kind), and keep each file's
modification time, so the same sample always gives the same damaged bytes. The finding
code each tamper must produce is asserted in ``tests/test_tamper.py``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fiscalsafe.crypto import FiscalSigningKey, derive_signing_key, load_signing_key_pem
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.formats.packing import pack, unpack

TamperFunc = Callable[[Path, dict[str, Path]], str]
TAMPERS: dict[str, tuple[TamperFunc, str]] = {}

#: Seed of the key a forger signs with: a valid P-256 key that no one was told to trust.
ATTACKER_SEED = b"fiscalsafe tamper: a key nobody trusts"
HOUR_US = 3600 * 1_000_000
#: How many of the oldest monthly archives ``coverage-short`` deletes (a year and a half).
PURGED_ARCHIVES = 18
TRUNCATED_RECORDS = 5
LOGIN_CODE = 80
UNKNOWN_CODE = 999


def apply_tamper(name: str, dossier: Path, keys: dict[str, Path]) -> str:
    func, _ = TAMPERS[name]
    return func(dossier, keys)


def _tamper(name: str) -> Callable[[TamperFunc], TamperFunc]:
    def register(func: TamperFunc) -> TamperFunc:
        TAMPERS[name] = (func, " ".join((func.__doc__ or "").split()))
        return func

    return register


# --- shared helpers ----------------------------------------------------------------------


def _editor(keys: dict[str, Path]) -> FiscalSigningKey:
    return load_signing_key_pem(keys["editor_secret"].read_bytes())


def _attacker() -> FiscalSigningKey:
    return derive_signing_key(ATTACKER_SEED)


def _fake_signature(seed: bytes, size: int) -> bytes:
    """What a forger without the key can put in a signature field: garbage of the right size."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]


def _rewrite(path: Path, data: bytes) -> None:
    """Replace a file's bytes and keep its modification time (a careful forger would)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns))


def _middle(items: list) -> Any:
    return items[len(items) // 2]


def _archive_paths(dossier: Path) -> list[Path]:
    """The dossier's fiscal archive files, oldest first (names are zero-padded numbers)."""
    return sorted(
        p
        for p in dossier.rglob("*")
        if p.is_file()
        and fnmatch.fnmatchcase(p.relative_to(dossier).as_posix(), DEFAULT_PROFILE.archives)
    )


def _read_archive(path: Path) -> tuple[fa.Envelope, dict[str, Any]]:
    env = fa.parse_envelope(path.read_bytes())
    return env, unpack(env.body, path.name)


def _write_archive(path: Path, body: bytes, alg: str, key_id: bytes, signature: bytes) -> str:
    data = fa.encode_envelope(body, alg, key_id, signature)
    _rewrite(path, data)
    return hashlib.sha256(data).hexdigest()


def _resign_archives(
    dossier: Path, signer: FiscalSigningKey, target: Path, mutate: Callable[[dict], None]
) -> dict[int, str]:
    """Change one archive's body, re-sign it, then re-link and re-sign every later archive.

    Returns the new file digests by archive number, for the journal's archive events.
    """
    paths = _archive_paths(dossier)
    digests: dict[int, str] = {}
    prev: bytes | None = None
    for path in paths[paths.index(target) :]:
        _, body = _read_archive(path)
        if prev is None:
            mutate(body)
        else:
            body["prev"] = prev
        raw = pack(body)
        prev = signer.sign(raw)
        digests[body["number"]] = _write_archive(
            path, raw, signer.algorithm, signer.public_key().key_id, prev
        )
    return digests


@dataclass
class _Journal:
    """The event journal as editable records: decoded bodies, stored bytes, signatures."""

    dossier: Path
    header: bytes
    dossier_id: str
    bodies: list[dict[str, Any]]
    raw: list[bytes]
    sigs: list[bytes]

    @classmethod
    def load(cls, dossier: Path) -> _Journal:
        data = (dossier / DEFAULT_PROFILE.journal).read_bytes()
        items = list(fj.iter_records(io.BytesIO(data)))
        dossier_id = items[0]
        entries = [e for e in items[1:] if isinstance(e, fj.JournalEntry)]
        return cls(
            dossier=dossier,
            header=data[: entries[0].offset],
            dossier_id=dossier_id,
            bodies=[unpack(e.body, "journal record") for e in entries],
            raw=[e.body for e in entries],
            sigs=[e.signature for e in entries],
        )

    def pick(self, code: int, kind: str | None = None) -> int:
        """Index of the middle record with this event code (and closure kind)."""
        found = [
            i
            for i, b in enumerate(self.bodies)
            if b["code"] == code and (kind is None or b["data"].get("kind") == kind)
        ]
        return _middle(found)

    def edit(self, index: int, **fields: Any) -> None:
        """Change fields of a record's body; its signature is left as it was."""
        self.bodies[index].update(fields)
        self.raw[index] = pack(self.bodies[index])

    def delete(self, index: int) -> None:
        del self.bodies[index], self.raw[index], self.sigs[index]

    def insert(self, index: int, body: dict[str, Any], signature: bytes) -> None:
        self.bodies.insert(index, body)
        self.raw.insert(index, pack(body))
        self.sigs.insert(index, signature)

    def resign_from(self, start: int, signer: FiscalSigningKey) -> None:
        """Renumber, re-link and re-sign every record from ``start`` on."""
        for i in range(start, len(self.bodies)):
            body = self.bodies[i]
            body["seq"] = i + 1
            body["prev"] = self.sigs[i - 1] if i else b""
            body["alg"] = signer.algorithm
            body["kid"] = signer.public_key().key_id
            self.raw[i] = pack(body)
            self.sigs[i] = signer.sign(self.raw[i])

    def record_digests(self, digests: dict[int, str]) -> int:
        """Write new archive digests into the archive events; the first index changed."""
        first = len(self.bodies)
        for i, body in enumerate(self.bodies):
            number = body["data"].get("archive")
            if body["code"] in fj.ARCHIVE_CODES and number in digests:
                body["data"]["sha256"] = digests[number]
                first = min(first, i)
        return first

    def write(self, head_signer: FiscalSigningKey | None = None) -> None:
        """Write the journal; with a signer, also a new signed head naming its last record."""
        records = b"".join(fj.encode_record(b, s) for b, s in zip(self.raw, self.sigs, strict=True))
        _rewrite(self.dossier / DEFAULT_PROFILE.journal, self.header + records)
        if head_signer is None:
            return
        last = self.bodies[-1]
        body = fj.encode_head_body(
            dossier=self.dossier_id,
            seq=last["seq"],
            ts=last["ts"],
            last_sig_sha256=hashlib.sha256(self.sigs[-1]).digest(),
            alg=head_signer.algorithm,
            key_id=head_signer.public_key().key_id,
        )
        _rewrite(self.dossier / DEFAULT_PROFILE.journal_head, pack([body, head_signer.sign(body)]))


def _resign_archive_and_journal(
    dossier: Path,
    keys: dict[str, Path],
    mutate: Callable[[dict], None],
    journal_edit: Callable[[_Journal], int] | None = None,
) -> str:
    """The shop software changes the middle archive and re-signs everything after it.

    Later archives are re-linked, the journal's archive digests (and whatever
    ``journal_edit`` changes; it returns the first index it touched) are updated and the
    journal is re-signed from the first changed record, with a new head.
    """
    signer = _editor(keys)
    target = _middle(_archive_paths(dossier))
    digests = _resign_archives(dossier, signer, target, mutate)
    journal = _Journal.load(dossier)
    start = journal.record_digests(digests)
    if journal_edit is not None:
        start = min(start, journal_edit(journal))
    journal.resign_from(start, signer)
    journal.write(head_signer=signer)
    return target.name


def _middle_ticket_offset(data: bytes, body: dict[str, Any]) -> tuple[int, fa.Ticket]:
    tickets = body["tickets"]
    index = len(tickets) // 2
    ticket = fa.decode_ticket(tickets[index][0], tickets[index][1], index)
    return data.index(ticket.body), ticket


# --- fiscal archives ---------------------------------------------------------------------


@_tamper("flipped-byte-archive")
def flipped_byte_archive(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: flip one bit inside a ticket of the middle archive (not re-signed)."""
    path = _middle(_archive_paths(dossier))
    data = bytearray(path.read_bytes())
    _, body = _read_archive(path)
    start, ticket = _middle_ticket_offset(bytes(data), body)
    # The last letter of the operator name: the ticket still decodes, so the check can say
    # which ticket changed, not only that the archive did.
    position = start + ticket.body.rindex(ticket.operator.encode()) + len(ticket.operator) - 1
    before = ticket.operator
    data[position] ^= 0x01
    after = before[:-1] + chr(data[position])
    _rewrite(path, bytes(data))
    return f"{path.name}: bit flipped at byte {position} (ticket {ticket.seq}: {before} -> {after})"


@_tamper("untrusted-key-archive")
def untrusted_key_archive(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: re-sign the middle archive, unchanged, with another P-256 key."""
    path = _middle(_archive_paths(dossier))
    env, _ = _read_archive(path)
    attacker = _attacker()
    key_id = attacker.public_key().key_id
    _write_archive(path, env.body, attacker.algorithm, key_id, attacker.sign(env.body))
    return f"{path.name}: re-signed with untrusted key {key_id.hex()}"


@_tamper("archive-removed")
def archive_removed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: delete the middle archive file."""
    path = _middle(_archive_paths(dossier))
    path.unlink()
    return f"{path.name}: deleted"


@_tamper("archives-swapped")
def archives_swapped(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: swap the contents of the middle archive file and the next one."""
    paths = _archive_paths(dossier)
    index = len(paths) // 2
    a, b = paths[index], paths[index + 1]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    _rewrite(a, data_b)
    _rewrite(b, data_a)
    return f"{a.name} and {b.name}: contents swapped"


@_tamper("archive-duplicated")
def archive_duplicated(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: copy the middle archive to a second file name."""
    path = _middle(_archive_paths(dossier))
    copy = path.with_name(f"{path.stem}_copie{path.suffix}")
    shutil.copy2(path, copy)
    return f"{path.name}: copied to {copy.name}"


@_tamper("archive-truncated")
def archive_truncated(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: cut the last 100 bytes of the middle archive (an interrupted copy)."""
    path = _middle(_archive_paths(dossier))
    data = path.read_bytes()
    _rewrite(path, data[:-100])
    return f"{path.name}: cut from {len(data)} to {len(data) - 100} bytes"


@_tamper("weak-algorithm")
def weak_algorithm(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: declare the middle archive's algorithm as ecdsa-p256-sha1."""
    path = _middle(_archive_paths(dossier))
    env, _ = _read_archive(path)
    _write_archive(path, env.body, "ecdsa-p256-sha1", env.key_id, env.signature)
    return f"{path.name}: algorithm {env.alg} -> ecdsa-p256-sha1"


@_tamper("ticket-removed")
def ticket_removed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: remove the middle ticket from the middle archive (not re-signed)."""
    path = _middle(_archive_paths(dossier))
    env, body = _read_archive(path)
    index = len(body["tickets"]) // 2
    ticket = fa.decode_ticket(*body["tickets"].pop(index), index)
    _write_archive(path, pack(body), env.alg, env.key_id, env.signature)
    return f"{path.name}: ticket {ticket.seq} removed ({ticket.ttc} cents)"


@_tamper("coverage-short")
def coverage_short(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: delete the oldest archives (a year and a half), as a purge would."""
    paths = _archive_paths(dossier)
    removed = paths[: min(PURGED_ARCHIVES, len(paths) - 1)]
    for path in removed:
        path.unlink()
    return f"{len(removed)} oldest archives deleted ({removed[0].name}..{removed[-1].name})"


@_tamper("grand-total-mismatch")
def grand_total_mismatch(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: raise a day closure's grand total by 1 EUR, re-sign archive and journal."""
    changed: dict[str, Any] = {}

    def mutate(body: dict) -> None:
        day = _middle([c for c in body["closures"] if c["kind"] == "day"])
        changed.update(start=day["start"], gt=day["gt"])
        day["gt"] += 100

    def journal_edit(journal: _Journal) -> int:
        # The logged closure must match the archive's, or CLOSURE_EVENT_MISSING fires too.
        for i, b in enumerate(journal.bodies):
            d = b["data"]
            if b["code"] == 50 and d.get("kind") == "day" and d.get("start") == changed["start"]:
                d["gt"] += 100
                return i
        raise LookupError(f"no closing event for {changed['start']}")

    name = _resign_archive_and_journal(dossier, keys, mutate, journal_edit)
    return (
        f"{name}: day {changed['start']} grand total {changed['gt']} -> {changed['gt'] + 100}, "
        "archive, journal and head re-signed with the editor key"
    )


@_tamper("vat-sum-mismatch")
def vat_sum_mismatch(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: declare 1 EUR less VAT (more net) in a day closure, re-sign archive."""
    changed: dict[str, Any] = {}

    def mutate(body: dict) -> None:
        day = _middle([c for c in body["closures"] if c["kind"] == "day"])
        line = max(day["vat"], key=lambda v: v[2])  # the rate with the largest VAT amount
        moved = min(100, line[2])
        line[1] += moved
        line[2] -= moved
        changed.update(start=day["start"], rate=line[0], moved=moved)

    name = _resign_archive_and_journal(dossier, keys, mutate)
    return (
        f"{name}: day {changed['start']}, rate {changed['rate'] / 100:g}%: {changed['moved']} "
        "cents moved from VAT to net; archive, journal and head re-signed"
    )


@_tamper("archive-other-dossier")
def archive_other_dossier(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: relabel the middle archive as another dossier's, re-sign everything."""

    def mutate(body: dict) -> None:
        body["dossier"] = "MAG999"

    name = _resign_archive_and_journal(dossier, keys, mutate)
    return f"{name}: dossier id set to MAG999, archive, journal and head re-signed"


# --- event journal -----------------------------------------------------------------------


@_tamper("journal-entry-deleted")
def journal_entry_deleted(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: remove a record (the middle user login) from the journal."""
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    seq = journal.bodies[index]["seq"]
    journal.delete(index)
    journal.write()
    return f"journal record {seq} deleted"


@_tamper("journal-entry-inserted")
def journal_entry_inserted(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: insert a forged login, linked and signed with an untrusted key."""
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    before = journal.bodies[index]
    attacker = _attacker()
    forged = dict(before)
    forged.update(
        seq=before["seq"] + 1,
        ts=before["ts"] + 60_000_000,
        op="ADMIN",
        text="Connexion",
        alg=attacker.algorithm,
        kid=attacker.public_key().key_id,
        prev=journal.sigs[index],
    )
    journal.insert(index + 1, forged, attacker.sign(pack(forged)))
    journal.write()
    return f"forged journal record inserted after record {before['seq']}"


@_tamper("journal-entry-edited")
def journal_entry_edited(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: change a record's text (the middle login) and keep its signature."""
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    journal.write()
    return f"journal record {journal.bodies[index]['seq']}: text {old!r} -> {old + ' (ADMIN)'!r}"


@_tamper("journal-entry-edited-rehashed")
def journal_entry_edited_rehashed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: edit a record, give it a fake signature, re-link the next record."""
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    fake = _fake_signature(journal.raw[index], len(journal.sigs[index]))
    journal.sigs[index] = fake
    journal.edit(index + 1, prev=fake)
    journal.write()
    seq = journal.bodies[index]["seq"]
    return f"journal record {seq} edited, fake signature, record {seq + 1} re-linked to it"


@_tamper("journal-tail-truncated")
def journal_tail_truncated(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: drop the journal's last 5 records and keep the old signed head."""
    journal = _Journal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _ in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write()
    return f"journal records {last - TRUNCATED_RECORDS + 1}..{last} dropped, head kept"


@_tamper("journal-rolled-back")
def journal_rolled_back(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop owner: cut the journal's last 5 records and put back the signed head that named
    the record before them (an older genuine head, as an older backup holds it)."""
    journal = _Journal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _ in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write(head_signer=_editor(keys))
    return f"journal rolled back to record {last - TRUNCATED_RECORDS}, with its signed head"


@_tamper("journal-cut-mid-record")
def journal_cut_mid_record(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: cut the journal file in the middle of its last record."""
    path = dossier / DEFAULT_PROFILE.journal
    data = path.read_bytes()
    journal = _Journal.load(dossier)
    last_size = len(fj.encode_record(journal.raw[-1], journal.sigs[-1]))
    cut = len(data) - last_size // 2
    _rewrite(path, data[:cut])
    return f"journal cut from {len(data)} to {cut} bytes"


@_tamper("journal-head-missing")
def journal_head_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: delete the journal's signed head."""
    path = dossier / DEFAULT_PROFILE.journal_head
    path.unlink()
    return f"{DEFAULT_PROFILE.journal_head} deleted"


@_tamper("journal-genesis-removed")
def journal_genesis_removed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: remove the journal's first (genesis) record."""
    journal = _Journal.load(dossier)
    journal.delete(0)
    journal.write()
    return "journal genesis record 1 deleted"


@_tamper("decreasing-timestamp")
def decreasing_timestamp(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: back-date a record before its predecessor, re-sign the journal after it."""
    signer = _editor(keys)
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    body = journal.bodies[index]
    ts = journal.bodies[index - 1]["ts"] - HOUR_US
    zone = ZoneInfo(body["tz"])
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts)
    offset = moment.astimezone(zone).utcoffset() or dt.timedelta(0)
    body.update(ts=ts, off=int(offset.total_seconds() // 60))
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return (
        f"journal record {body['seq']} back-dated one hour before record {body['seq'] - 1}; "
        "journal and head re-signed with the editor key"
    )


@_tamper("archive-event-missing")
def archive_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: remove the middle 'archive created' event, re-sign the journal after it."""
    signer = _editor(keys)
    journal = _Journal.load(dossier)
    index = journal.pick(20)
    number = journal.bodies[index]["data"]["archive"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return f"journal event for archive {number} removed; journal and head re-signed"


@_tamper("closure-event-missing")
def closure_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: remove the middle day-closing event, re-sign the journal after it."""
    signer = _editor(keys)
    journal = _Journal.load(dossier)
    index = journal.pick(50, kind="day")
    day = journal.bodies[index]["data"]["start"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return f"journal closing event for {day} removed; journal and head re-signed"


@_tamper("unknown-event-code")
def unknown_event_code(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: log the middle login under code 999 (not in the JET list), re-signed."""
    signer = _editor(keys)
    journal = _Journal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    journal.bodies[index]["code"] = UNKNOWN_CODE
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    seq = journal.bodies[index]["seq"]
    return f"journal record {seq}: code {LOGIN_CODE} -> {UNKNOWN_CODE}; journal and head re-signed"
