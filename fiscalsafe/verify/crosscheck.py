"""Journal <-> archives: every archive and every closure must be logged in the journal.

Both sides are verified data only: proven archives and the journal's verified prefix. An
archive that did not verify has its own finding; a record after a break in the journal
vouches for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fiscalsafe import localformat
from fiscalsafe.formats import journal as fj
from fiscalsafe.i18n import N_, _
from fiscalsafe.verify import wording
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.verified import ProvenArchive, VerifiedJournal

#: One sentence per kind of closure: French agrees the adjective with "clôture".
CLOSURE_NOT_LOGGED = {
    "day": N_("day closure {start}..{end} is not in the journal"),
    "month": N_("month closure {start}..{end} is not in the journal"),
    "year": N_("year closure {start}..{end} is not in the journal"),
}


def cross_check(
    archives: Sequence[ProvenArchive],
    journal: VerifiedJournal,
    journal_file: str,
    unproven_files: Iterable[str] = (),
) -> list[Finding]:
    """``unproven_files`` are archive files present but not proven: the journal's record of
    them is not reported missing, since their own findings say what is wrong."""
    out: list[Finding] = []
    created, closings = _logged_events(journal)
    # With a break in the journal, records after it vouch for nothing: an archive made
    # after the last verified record cannot be expected in it (the break is reported).
    last_ts = journal.last.ts if journal.last is not None else -1
    broken = journal.unverified_after > 0
    for r in archives:
        if broken and r.created_ts > last_ts:
            continue
        _check_archive_event(r, created.get(r.number), out)
        _check_closure_events(r, closings, out)
    numbers = {r.number for r in archives}
    _check_recorded_archives(created, numbers, list(unproven_files), journal_file, out)
    return out


def _logged_events(journal: VerifiedJournal) -> tuple[dict[int, fj.JournalEntry], set[tuple]]:
    """The journal's 'archive created' events by archive number, and its closings."""
    created: dict[int, fj.JournalEntry] = {}
    closings: set[tuple] = set()
    for e in journal.entries:
        if e.code in fj.ARCHIVE_CODES and isinstance(e.data.get("archive"), int):
            created[e.data["archive"]] = e
        elif e.code in fj.CLOSING_CODES:
            d = e.data
            # Year closings are logged with code 60, day and month closings with 50.
            if (e.code == 60) == (d.get("kind") == "year"):
                closings.add(
                    (d.get("kind"), d.get("start"), d.get("end"), d.get("ttc"), d.get("gt"))
                )
    return created, closings


def _check_archive_event(
    r: ProvenArchive, event: fj.JournalEntry | None, out: list[Finding]
) -> None:
    """The archive's creation is logged, with its digest and under its file name."""
    if event is None:
        out.append(
            finding(
                "ARCHIVE_EVENT_MISSING",
                _(
                    "archive {number} has no 'archive created' journal entry",
                    number=localformat.count(r.number),
                ),
                file=r.file,
                record=r.number,
            )
        )
    elif event.data.get("sha256") != r.sha256:
        out.append(
            finding(
                "ARCHIVE_DIGEST_MISMATCH",
                _("archive file differs from the digest the journal recorded"),
                file=r.file,
                record=event.seq,
                expected=event.data.get("sha256"),
                found=r.sha256,
            )
        )
    elif not _same_file(r.file, event.data.get("file")):
        # Right content under another name: files swapped, renamed or copied. The
        # journal's digest for this file name is then not this file's digest.
        out.append(
            finding(
                "ARCHIVE_DIGEST_MISMATCH",
                _(
                    "archive {number} is not in the file the journal recorded for it",
                    number=localformat.count(r.number),
                ),
                file=r.file,
                record=event.seq,
                expected=event.data.get("file"),
                found=r.file,
            )
        )


def _check_closure_events(r: ProvenArchive, closings: set[tuple], out: list[Finding]) -> None:
    for c in r.closures:
        key = (c.kind, c.start.isoformat(), c.end.isoformat(), c.ttc, c.gt)
        if key not in closings:
            out.append(
                finding(
                    "CLOSURE_EVENT_MISSING",
                    _(
                        CLOSURE_NOT_LOGGED[c.kind],
                        start=wording.day(c.start),
                        end=wording.day(c.end),
                    ),
                    file=r.file,
                    expected=f"ttc {c.ttc}, gt {c.gt}",
                )
            )


def _check_recorded_archives(
    created: dict[int, fj.JournalEntry],
    numbers: set[int],
    unproven: list[str],
    journal_file: str,
    out: list[Finding],
) -> None:
    """Every archive the journal records exists."""
    for number, event in sorted(created.items()):
        if number in numbers:
            continue
        # The file is there but did not parse or verify: its own finding says why.
        recorded = event.data.get("file")
        if any(_same_file(f, recorded) for f in unproven):
            continue
        out.append(
            finding(
                "ARCHIVE_FILE_MISSING",
                _(
                    "journal records archive {number} but no such archive exists",
                    number=localformat.count(number),
                ),
                file=journal_file,
                record=event.seq,
                expected=event.data.get("file"),
            )
        )


def _same_file(path: str, recorded: object) -> bool:
    """Whether ``path`` (relative, POSIX) is the file a journal event names.

    Events name the archive file by its name or by a relative path; an event that names
    no file matches any path.
    """
    if not isinstance(recorded, str):
        return True
    return path == recorded or path.endswith("/" + recorded)
