"""Tampers of the event journal: records deleted, inserted, edited or cut without the key,
and single rules broken by the shop software, which re-signs the journal after the change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.formats.packing import pack
from fiscalsafe.samples.signed_files import EditableJournal, rewrite
from fiscalsafe.samples.tamper_registry import attacker, editor, fake_signature, register

HOUR_US = 3600 * 1_000_000
TRUNCATED_RECORDS = 5
LOGIN_CODE = 80
UNKNOWN_CODE = 999


@register("journal-entry-deleted")
def journal_entry_deleted(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: remove a record (the middle user login) from the journal."""
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    seq = journal.bodies[index]["seq"]
    journal.delete(index)
    journal.write()
    return f"journal record {seq} deleted"


@register("journal-entry-inserted")
def journal_entry_inserted(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: insert a forged login, linked and signed with an untrusted key."""
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    before = journal.bodies[index]
    forger = attacker()
    forged = dict(before)
    forged.update(
        seq=before["seq"] + 1,
        ts=before["ts"] + 60_000_000,
        op="ADMIN",
        text="Connexion",
        alg=forger.algorithm,
        kid=forger.public_key().key_id,
        prev=journal.sigs[index],
    )
    journal.insert(index + 1, forged, forger.sign(pack(forged)))
    journal.write()
    return f"forged journal record inserted after record {before['seq']}"


@register("journal-entry-edited")
def journal_entry_edited(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: change a record's text (the middle login) and keep its signature."""
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    journal.write()
    return f"journal record {journal.bodies[index]['seq']}: text {old!r} -> {old + ' (ADMIN)'!r}"


@register("journal-entry-edited-rehashed")
def journal_entry_edited_rehashed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: edit a record, give it a fake signature, re-link the next record."""
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    fake = fake_signature(journal.raw[index], len(journal.sigs[index]))
    journal.sigs[index] = fake
    journal.edit(index + 1, prev=fake)
    journal.write()
    seq = journal.bodies[index]["seq"]
    return f"journal record {seq} edited, fake signature, record {seq + 1} re-linked to it"


@register("journal-tail-truncated")
def journal_tail_truncated(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: drop the journal's last 5 records and keep the old signed head."""
    journal = EditableJournal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _ in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write()
    return f"journal records {last - TRUNCATED_RECORDS + 1}..{last} dropped, head kept"


@register("journal-rolled-back")
def journal_rolled_back(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop owner: cut the journal's last 5 records and put back the signed head that named
    the record before them (an older genuine head, as an older backup holds it)."""
    journal = EditableJournal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _ in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write(head_signer=editor(keys))
    return f"journal rolled back to record {last - TRUNCATED_RECORDS}, with its signed head"


@register("journal-cut-mid-record")
def journal_cut_mid_record(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: cut the journal file in the middle of its last record."""
    path = dossier / DEFAULT_PROFILE.journal
    data = path.read_bytes()
    journal = EditableJournal.load(dossier)
    last_size = len(fj.encode_record(journal.raw[-1], journal.sigs[-1]))
    cut = len(data) - last_size // 2
    rewrite(path, data[:cut])
    return f"journal cut from {len(data)} to {cut} bytes"


@register("journal-head-missing")
def journal_head_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: delete the journal's signed head."""
    path = dossier / DEFAULT_PROFILE.journal_head
    path.unlink()
    return f"{DEFAULT_PROFILE.journal_head} deleted"


@register("journal-genesis-removed")
def journal_genesis_removed(dossier: Path, keys: dict[str, Path]) -> str:
    """Without the key: remove the journal's first (genesis) record."""
    journal = EditableJournal.load(dossier)
    journal.delete(0)
    journal.write()
    return "journal genesis record 1 deleted"


@register("decreasing-timestamp")
def decreasing_timestamp(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: back-date a record before its predecessor, re-sign the journal after it."""
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
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


@register("archive-event-missing")
def archive_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: remove the middle 'archive created' event, re-sign the journal after it."""
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(20)
    number = journal.bodies[index]["data"]["archive"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return f"journal event for archive {number} removed; journal and head re-signed"


@register("closure-event-missing")
def closure_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: remove the middle day-closing event, re-sign the journal after it."""
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(50, kind="day")
    day = journal.bodies[index]["data"]["start"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return f"journal closing event for {day} removed; journal and head re-signed"


@register("unknown-event-code")
def unknown_event_code(dossier: Path, keys: dict[str, Path]) -> str:
    """Shop software: log the middle login under code 999 (not in the JET list), re-signed."""
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    journal.bodies[index]["code"] = UNKNOWN_CODE
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    seq = journal.bodies[index]["seq"]
    return f"journal record {seq}: code {LOGIN_CODE} -> {UNKNOWN_CODE}; journal and head re-signed"
