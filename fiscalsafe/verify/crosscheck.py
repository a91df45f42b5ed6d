"""Journal <-> archives: every archive and every closure must be logged in the journal."""

from __future__ import annotations

from fiscalsafe.formats import journal as fj
from fiscalsafe.verify.archives import ArchiveResult
from fiscalsafe.verify.findings import Finding, finding


def cross_check(
    archives: list[ArchiveResult], entries: list[fj.JournalEntry], journal_file: str
) -> list[Finding]:
    out: list[Finding] = []
    created: dict[int, fj.JournalEntry] = {}
    closings: set[tuple] = set()
    for e in entries:
        if e.code in fj.ARCHIVE_CODES and isinstance(e.data.get("archive"), int):
            created[e.data["archive"]] = e
        elif e.code in fj.CLOSING_CODES:
            d = e.data
            # Year closings are logged with code 60, day and month closings with 50.
            if (e.code == 60) == (d.get("kind") == "year"):
                closings.add(
                    (d.get("kind"), d.get("start"), d.get("end"), d.get("ttc"), d.get("gt"))
                )
    parsed = [r for r in archives if r.parsed]
    numbers = {r.number for r in parsed}
    for r in parsed:
        event = created.get(r.number)
        if event is None:
            out.append(
                finding(
                    "ARCHIVE_EVENT_MISSING",
                    f"archive {r.number} has no 'archive created' journal entry",
                    file=r.file,
                    record=r.number,
                )
            )
        elif event.data.get("sha256") != r.sha256:
            out.append(
                finding(
                    "ARCHIVE_DIGEST_MISMATCH",
                    "archive file differs from the digest the journal recorded",
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
                    f"archive {r.number} is not in the file the journal recorded for it",
                    file=r.file,
                    record=event.seq,
                    expected=event.data.get("file"),
                    found=r.file,
                )
            )
        for c in r.closures:
            key = (c.kind, c.start.isoformat(), c.end.isoformat(), c.ttc, c.gt)
            if key not in closings:
                out.append(
                    finding(
                        "CLOSURE_EVENT_MISSING",
                        f"{c.kind} closure {c.start}..{c.end} is not in the journal",
                        file=r.file,
                        expected=f"ttc {c.ttc}, gt {c.gt}",
                    )
                )
    for number, event in sorted(created.items()):
        if number in numbers:
            continue
        # The file is there but did not parse or verify: its own finding says why.
        recorded = event.data.get("file")
        if isinstance(recorded, str) and any(
            not r.parsed and _same_file(r.file, recorded) for r in archives
        ):
            continue
        out.append(
            finding(
                "ARCHIVE_FILE_MISSING",
                f"journal records archive {number} but no such archive exists",
                file=journal_file,
                record=event.seq,
                expected=event.data.get("file"),
            )
        )
    return out


def _same_file(path: str, recorded: object) -> bool:
    """Whether ``path`` (relative, POSIX) is the file a journal event names.

    Events name the archive file by its name or by a relative path; an event that names
    no file matches any path.
    """
    if not isinstance(recorded, str):
        return True
    return path == recorded or path.endswith("/" + recorded)
