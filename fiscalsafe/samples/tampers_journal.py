"""Tampers of the event journal: records deleted, inserted, edited or cut without the key,
and single rules broken by the shop software, which re-signs the journal after the change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fiscalsafe import localformat
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.formats.packing import pack
from fiscalsafe.i18n import N_, _
from fiscalsafe.localformat import local
from fiscalsafe.samples.signed_files import EditableJournal, rewrite
from fiscalsafe.samples.tamper_registry import attacker, editor, fake_signature, register

HOUR_US = 3600 * 1_000_000
TRUNCATED_RECORDS = 5
LOGIN_CODE = 80
UNKNOWN_CODE = 999


@register(
    "journal-entry-deleted",
    N_("Without the key: remove a record (the middle user login) from the journal."),
)
def journal_entry_deleted(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    seq = journal.bodies[index]["seq"]
    journal.delete(index)
    journal.write()
    return _("journal record {seq} deleted", seq=seq)


@register(
    "journal-entry-inserted",
    N_("Without the key: insert a forged login, linked and signed with an untrusted key."),
)
def journal_entry_inserted(dossier: Path, keys: dict[str, Path]) -> str:
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
    return _("forged journal record inserted after record {seq}", seq=before["seq"])


@register(
    "journal-entry-edited",
    N_("Without the key: change a record's text (the middle login) and keep its signature."),
)
def journal_entry_edited(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    journal.write()
    return _(
        "journal record {seq}: text {old} -> {new}",
        seq=journal.bodies[index]["seq"],
        old=repr(old),
        new=repr(old + " (ADMIN)"),
    )


@register(
    "journal-entry-edited-rehashed",
    N_("Without the key: edit a record, give it a fake signature, re-link the next record."),
)
def journal_entry_edited_rehashed(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    old = journal.bodies[index]["text"]
    journal.edit(index, text=old + " (ADMIN)")
    fake = fake_signature(journal.raw[index], len(journal.sigs[index]))
    journal.sigs[index] = fake
    journal.edit(index + 1, prev=fake)
    journal.write()
    seq = journal.bodies[index]["seq"]
    return _(
        "journal record {seq} edited, fake signature, record {next} re-linked to it",
        seq=seq,
        next=seq + 1,
    )


@register(
    "journal-tail-truncated",
    N_("Without the key: drop the journal's last 5 records and keep the old signed head."),
)
def journal_tail_truncated(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _unused in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write()
    return _(
        "journal records {first}..{last} dropped, head kept",
        first=last - TRUNCATED_RECORDS + 1,
        last=last,
    )


@register(
    "journal-rolled-back",
    N_(
        "Shop owner: cut the journal's last 5 records and put back the signed head that named "
        "the record before them (an older genuine head, as an older backup holds it)."
    ),
)
def journal_rolled_back(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    last = journal.bodies[-1]["seq"]
    for _unused in range(TRUNCATED_RECORDS):
        journal.delete(len(journal.bodies) - 1)
    journal.write(head_signer=editor(keys))
    return _(
        "journal rolled back to record {seq}, with its signed head",
        seq=last - TRUNCATED_RECORDS,
    )


@register(
    "journal-cut-mid-record",
    N_("Without the key: cut the journal file in the middle of its last record."),
)
def journal_cut_mid_record(dossier: Path, keys: dict[str, Path]) -> str:
    path = dossier / DEFAULT_PROFILE.journal
    data = path.read_bytes()
    journal = EditableJournal.load(dossier)
    last_size = len(fj.encode_record(journal.raw[-1], journal.sigs[-1]))
    cut = len(data) - last_size // 2
    rewrite(path, data[:cut])
    return _(
        "journal cut from {before} to {after} bytes",
        before=localformat.count(len(data)),
        after=localformat.count(cut),
    )


@register(
    "journal-head-missing",
    N_("Without the key: delete the journal's signed head."),
)
def journal_head_missing(dossier: Path, keys: dict[str, Path]) -> str:
    path = dossier / DEFAULT_PROFILE.journal_head
    path.unlink()
    return _("{file}: deleted", file=DEFAULT_PROFILE.journal_head)


@register(
    "journal-genesis-removed",
    N_("Without the key: remove the journal's first (genesis) record."),
)
def journal_genesis_removed(dossier: Path, keys: dict[str, Path]) -> str:
    journal = EditableJournal.load(dossier)
    journal.delete(0)
    journal.write()
    return _("journal genesis record 1 deleted")


@register(
    "decreasing-timestamp",
    N_("Shop software: back-date a record before its predecessor, re-sign the journal after it."),
)
def decreasing_timestamp(dossier: Path, keys: dict[str, Path]) -> str:
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
    return _(
        "journal record {seq} back-dated one hour before record {previous}; "
        "journal and head re-signed with the editor key",
        seq=body["seq"],
        previous=body["seq"] - 1,
    )


@register(
    "archive-event-missing",
    N_("Shop software: remove the middle 'archive created' event, re-sign the journal after it."),
)
def archive_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(20)
    number = journal.bodies[index]["data"]["archive"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return _(
        "journal event for archive {number} removed; journal and head re-signed", number=number
    )


@register(
    "closure-event-missing",
    N_("Shop software: remove the middle day-closing event, re-sign the journal after it."),
)
def closure_event_missing(dossier: Path, keys: dict[str, Path]) -> str:
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(50, kind="day")
    day = journal.bodies[index]["data"]["start"]
    journal.delete(index)
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    return _(
        "journal closing event for {day} removed; journal and head re-signed",
        day=local().day(day),
    )


@register(
    "unknown-event-code",
    N_("Shop software: log the middle login under code 999 (not in the JET list), re-signed."),
)
def unknown_event_code(dossier: Path, keys: dict[str, Path]) -> str:
    signer = editor(keys)
    journal = EditableJournal.load(dossier)
    index = journal.pick(LOGIN_CODE)
    journal.bodies[index]["code"] = UNKNOWN_CODE
    journal.resign_from(index, signer)
    journal.write(head_signer=signer)
    seq = journal.bodies[index]["seq"]
    return _(
        "journal record {seq}: code {old} -> {new}; journal and head re-signed",
        seq=seq,
        old=LOGIN_CODE,
        new=UNKNOWN_CODE,
    )
