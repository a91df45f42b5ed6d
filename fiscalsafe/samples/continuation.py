"""A dossier's history continued: more days, closures and monthly archives after the last
archive, signed by the editor key, chained to what the dossier's files end with (the last
archive's signature, grand total and last ticket, the journal's last record).

A builder resumed with a chain changed on purpose (a number skipped, a grand total not
carried, a period that starts a day late) writes a dossier that breaks exactly that rule of
the archive chain, everything else signed and consistent.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from fiscalsafe.crypto import FiscalSigningKey
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, DossierIdentity, Profile, parse_identity
from fiscalsafe.formats.packing import unpack
from fiscalsafe.samples.history import HistoryBuilder, JournalWriter, MonthInProgress, from_us
from fiscalsafe.samples.signed_files import EditableJournal, archive_paths, read_archive


def resume(
    dossier: Path,
    signer: FiscalSigningKey,
    rng: random.Random,
    tickets_per_day: int = 1,
    profile: Profile = DEFAULT_PROFILE,
) -> HistoryBuilder:
    """A builder that continues the dossier's history the day after its last archive."""
    identity = parse_identity((dossier / profile.identity).read_bytes())
    paths = archive_paths(dossier, profile)
    envelope, last = read_archive(paths[-1])
    ticket_body, ticket_sig = last["tickets"][-1]
    gt = last["gt_close"]
    next_day = dt.date.fromisoformat(last["period"][1]) + dt.timedelta(days=1)
    builder = HistoryBuilder(
        identity,
        signer,
        rng,
        tickets_per_day,
        _journal_writer(dossier, identity, signer, profile),
        MonthInProgress(next_day, gt, ticket_sig),
        ticket_prev=ticket_sig,
        ticket_seq=unpack(ticket_body, "ticket")["seq"],
        gt=gt,
        archive_prev=envelope.signature,
        next_number=last["number"] + 1,
    )
    _count_year_so_far(builder, paths, next_day)
    return builder


def _journal_writer(
    dossier: Path, identity: DossierIdentity, signer: FiscalSigningKey, profile: Profile
) -> JournalWriter:
    journal = EditableJournal.load(dossier, profile)
    last = journal.bodies[-1]
    return JournalWriter(
        identity,
        signer,
        records=[fj.encode_record(b, s) for b, s in zip(journal.raw, journal.sigs, strict=True)],
        seq=last["seq"],
        prev=journal.sigs[-1],
        last_ts=last["ts"],
    )


def _count_year_so_far(builder: HistoryBuilder, paths: list[Path], day: dt.date) -> None:
    """The fiscal year's tickets already archived, as the year closure will sum them."""
    fy_start, _ = builder.identity.fiscal_year_of(day)
    for path in paths:
        for closure in fa.parse_body(fa.parse_envelope(path.read_bytes()).body).closures:
            if closure.kind == "month" and closure.start >= fy_start:
                builder.year_vat.append(closure.vat)
                builder.year_count += closure.tickets


def write_continuation(
    dossier: Path, builder: HistoryBuilder, profile: Profile = DEFAULT_PROFILE
) -> list[Path]:
    """Write the builder's new archives next to the dossier's last one, the journal and its
    signed head; the paths written."""
    folder = archive_paths(dossier, profile)[-1].parent
    written = []
    for name, data in builder.archives:
        (folder / name).write_bytes(data)
        written.append(folder / name)
    for rel, data in (
        (profile.journal, builder.journal.file_bytes()),
        (profile.journal_head, builder.journal.head_bytes()),
    ):
        (dossier / rel).write_bytes(data)
        written.append(dossier / rel)
    return written


def add_journal_day(
    dossier: Path, signer: FiscalSigningKey, profile: Profile = DEFAULT_PROFILE
) -> dt.date:
    """The journal of a day of trading before its month is closed, appended: the opening
    and a log-in, signed with the editor key, and the signed head moved. The sealed
    archives do not change. The day after the journal's last record; which day it was."""
    identity = parse_identity((dossier / profile.identity).read_bytes())
    journal = EditableJournal.load(dossier, profile)
    last = journal.bodies[-1]
    writer = JournalWriter(
        identity, signer, seq=last["seq"], prev=journal.sigs[-1], last_ts=last["ts"]
    )
    day = (from_us(last["ts"]).astimezone(identity.zone) + dt.timedelta(days=1)).date()
    opening = dt.datetime(day.year, day.month, day.day, 8, 50, tzinfo=identity.zone)
    writer.add(opening, 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    writer.add(opening + dt.timedelta(minutes=5), 80, "POSTE-01", "MARIE", "Connexion", {})
    with (dossier / profile.journal).open("ab") as fh:
        fh.write(b"".join(writer.records))
    (dossier / profile.journal_head).write_bytes(writer.head_bytes())
    return day
