"""The chain of fiscal archives: numbering, first mark, links, periods, grand totals and
the ticket chain across archives, then the year closures, which span several archives."""

from __future__ import annotations

import datetime as dt

from fiscalsafe import localformat
from fiscalsafe.i18n import _
from fiscalsafe.verify import wording
from fiscalsafe.verify.archives import ArchiveResult
from fiscalsafe.verify.closures import VatSums, compare_sums, merge_sums
from fiscalsafe.verify.findings import Finding, finding


def verify_archive_chain(results: list[ArchiveResult], dossier_id: str, tz: str) -> list[Finding]:
    """Across archives: numbering, first mark, links, periods, grand and ticket chains."""
    out: list[Finding] = []
    parsed = sorted((r for r in results if r.parsed), key=lambda r: (r.number, r.file))
    seen: dict[int, str] = {}
    previous: ArchiveResult | None = None
    last_seq: int | None = None  # last ticket sequence so far, across archives without tickets
    for index, r in enumerate(parsed):
        _check_dossier(out, r, dossier_id)
        if r.number in seen:
            out.append(
                finding(
                    "ARCHIVE_NUMBER_REPEATED",
                    _("archive number {number} repeated", number=localformat.count(r.number)),
                    file=r.file,
                    expected=f"only in {seen[r.number]}",
                    found=r.number,
                )
            )
            continue
        seen[r.number] = r.file
        if index == 0 and r.first:
            _check_genesis(out, r)
        _check_first_mark(out, r, index == 0)
        if previous is not None:
            _check_numbering_and_link(out, r, previous)
            _check_period(out, r, previous)
            _check_carried(out, r, previous, last_seq)
        previous = r
        if r.last_ticket_seq is not None:
            last_seq = r.last_ticket_seq
    out.extend(_verify_year_closures(parsed))
    return out


def _check_dossier(out: list[Finding], r: ArchiveResult, dossier_id: str) -> None:
    if r.dossier != dossier_id:
        out.append(
            finding(
                "ARCHIVE_DOSSIER_MISMATCH",
                _("archive belongs to another dossier"),
                file=r.file,
                expected=dossier_id,
                found=r.dossier,
            )
        )


def _check_genesis(out: list[Finding], r: ArchiveResult) -> None:
    # The genesis archive starts everything from zero.
    if r.number != 1:
        out.append(
            finding(
                "ARCHIVE_NUMBER_GAP",
                _("the first archive is not number 1"),
                file=r.file,
                expected=1,
                found=r.number,
            )
        )
    if r.gt_open != 0:
        out.append(
            finding(
                "GRAND_TOTAL_NOT_CARRIED",
                _("the first archive's opening grand total is not zero"),
                file=r.file,
                expected=0,
                found=r.gt_open,
            )
        )
    if r.ticket_prev:
        out.append(
            finding(
                "TICKET_CHAIN_BROKEN",
                _("the first archive's first ticket links to a predecessor"),
                file=r.file,
                record=r.first_ticket_seq,
            )
        )


def _check_first_mark(out: list[Finding], r: ArchiveResult, is_first: bool) -> None:
    if r.first != is_first or (is_first and r.prev):
        out.append(
            finding(
                "ARCHIVE_FIRST_MARK",
                _("only the oldest archive may be marked first, and it must be"),
                file=r.file,
                expected=is_first,
                found=r.first,
            )
        )


def _check_numbering_and_link(
    out: list[Finding], r: ArchiveResult, previous: ArchiveResult
) -> None:
    if r.number != previous.number + 1:
        out.append(
            finding(
                "ARCHIVE_NUMBER_GAP",
                _("archive numbers are not consecutive"),
                file=r.file,
                expected=previous.number + 1,
                found=r.number,
            )
        )
    if r.prev != previous.signature:
        out.append(
            finding(
                "ARCHIVE_CHAIN_BROKEN",
                _("archive does not link to the previous archive's signature"),
                file=r.file,
                expected=previous.signature[:8].hex(),
                found=r.prev[:8].hex(),
            )
        )


def _check_period(out: list[Finding], r: ArchiveResult, previous: ArchiveResult) -> None:
    if previous.period_end and r.period_start:
        expected_start = previous.period_end + dt.timedelta(days=1)
        if r.period_start > expected_start:
            out.append(
                finding(
                    "ARCHIVE_PERIOD_GAP",
                    _("archive periods leave a gap"),
                    file=r.file,
                    expected=str(expected_start),
                    found=str(r.period_start),
                )
            )
        elif r.period_start < expected_start:
            out.append(
                finding(
                    "ARCHIVE_PERIOD_OVERLAP",
                    _("archive periods overlap"),
                    file=r.file,
                    expected=str(expected_start),
                    found=str(r.period_start),
                )
            )


def _check_carried(
    out: list[Finding], r: ArchiveResult, previous: ArchiveResult, last_seq: int | None
) -> None:
    """What the previous archive hands on: the grand total and the ticket chain."""
    if r.gt_open != previous.gt_close:
        out.append(
            finding(
                "GRAND_TOTAL_NOT_CARRIED",
                _("opening grand total is not the previous archive's closing"),
                file=r.file,
                expected=previous.gt_close,
                found=r.gt_open,
            )
        )
    if r.ticket_prev != previous.last_ticket_sig:
        out.append(
            finding(
                "TICKET_CHAIN_BROKEN",
                _("first ticket does not link to the previous archive's last"),
                file=r.file,
                record=r.first_ticket_seq,
                expected=previous.last_ticket_sig[:8].hex(),
                found=r.ticket_prev[:8].hex(),
            )
        )
    if (
        r.first_ticket_seq is not None
        and last_seq is not None
        and r.first_ticket_seq != last_seq + 1
    ):
        out.append(
            finding(
                "TICKET_SEQUENCE_GAP",
                _("ticket sequence is not carried across archives"),
                file=r.file,
                record=r.first_ticket_seq,
                expected=last_seq + 1,
                found=r.first_ticket_seq,
            )
        )


def _verify_year_closures(parsed: list[ArchiveResult]) -> list[Finding]:
    """Year closures sum tickets from up to twelve archives: checked once all are read."""
    out: list[Finding] = []
    all_days: dict[dt.date, VatSums] = {}
    all_counts: dict[dt.date, int] = {}
    for r in parsed:
        all_days.update(r.day_sums)
        all_counts.update(r.day_counts)
    spans = sorted(
        (r.period_start, r.period_end) for r in parsed if r.period_start and r.period_end
    )
    genesis = min((r.period_start for r in parsed if r.first and r.period_start), default=None)
    for r in parsed:
        for year in (c for c in r.closures if c.kind == "year"):
            start = max(year.start, genesis) if genesis else year.start
            if not _spans_cover(spans, start, year.end):
                # A month of this year is missing or unreadable (reported on its own): its
                # tickets cannot be summed, which says nothing about the closure.
                continue
            expected: dict[int, list[int]] = {}
            for day, sums in all_days.items():
                if year.start <= day <= year.end:
                    merge_sums(expected, sums)
            compare_sums(
                out.append,
                r.file,
                _(
                    "year closure {start}..{end}",
                    start=wording.day(year.start),
                    end=wording.day(year.end),
                ),
                {k: tuple(v) for k, v in expected.items()},
                year,
            )
            count = sum(n for day, n in all_counts.items() if year.start <= day <= year.end)
            if year.tickets != count:
                out.append(
                    finding(
                        "CLOSURE_TOTAL_MISMATCH",
                        _(
                            "year closure {start}..{end}: ticket count differs",
                            start=wording.day(year.start),
                            end=wording.day(year.end),
                        ),
                        file=r.file,
                        expected=count,
                        found=year.tickets,
                    )
                )
    return out


def _spans_cover(spans: list[tuple[dt.date, dt.date]], start: dt.date, end: dt.date) -> bool:
    """Whether the sorted periods ``spans`` leave no day of ``[start, end]`` uncovered."""
    cursor = start
    for a, b in spans:
        if b < cursor:
            continue
        if a > cursor:
            return False
        cursor = b + dt.timedelta(days=1)
        if cursor > end:
            return True
    return cursor > end
