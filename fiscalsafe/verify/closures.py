"""Closures of one fiscal archive: step (8) of ``archives.py`` (nesting, per-VAT-rate
sums, period totals, grand totals), and the per-rate sums the archive chain also uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from fiscalsafe.formats import archive as fa
from fiscalsafe.i18n import _
from fiscalsafe.verify import wording
from fiscalsafe.verify.findings import Finding, finding

if TYPE_CHECKING:
    from fiscalsafe.verify.archives import ArchiveResult

VatSums = dict[int, tuple[int, int, int]]


def closure_sums(closure: fa.Closure) -> VatSums:
    return {v.rate_bp: (v.ht, v.tva, v.ttc) for v in closure.vat}


def merge_sums(target: dict[int, list[int]], sums: VatSums) -> None:
    for rate, (ht, tva, ttc) in sums.items():
        a = target.setdefault(rate, [0, 0, 0])
        a[0] += ht
        a[1] += tva
        a[2] += ttc


def verify_closures(result: ArchiveResult, body: fa.ArchiveBody) -> None:
    # (8) Closures: day within month within year, sums and grand totals.
    add = result.findings.append
    file = result.file
    days = _check_day_closures(add, file, result, body)
    months = [c for c in body.closures if c.kind == "month"]
    years = [c for c in body.closures if c.kind == "year"]
    _check_days_closed(add, file, result, days)
    _check_day_totals(add, file, result, body, days)
    _check_month_closures(add, file, result, body, days, months)
    _check_year_closures(add, file, body, years)


def _check_day_closures(
    add: Callable[[Finding], None], file: str, result: ArchiveResult, body: fa.ArchiveBody
) -> dict[dt.date, fa.Closure]:
    """One day closure per day, each counting that day's tickets; returns them by day."""
    days: dict[dt.date, fa.Closure] = {}
    for c in body.closures:
        if c.kind != "day":
            continue
        if c.start in days:
            add(
                finding(
                    "CLOSURE_NESTING",
                    _("two day closures for {day}", day=wording.day(c.start)),
                    file=file,
                    found=str(c.start),
                )
            )
        days[c.start] = c
        expected_count = result.day_counts.get(c.start, 0)
        if c.tickets != expected_count:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    _("day closure {day}: ticket count differs", day=wording.day(c.start)),
                    file=file,
                    expected=expected_count,
                    found=c.tickets,
                )
            )
    return days


def _check_days_closed(
    add: Callable[[Finding], None],
    file: str,
    result: ArchiveResult,
    days: dict[dt.date, fa.Closure],
) -> None:
    for day in sorted(result.day_sums):
        if day not in days:
            add(
                finding(
                    "CLOSURE_MISSING",
                    _("day {day} has tickets but no day closure", day=wording.day(day)),
                    file=file,
                    found=str(day),
                )
            )


def _check_day_totals(
    add: Callable[[Finding], None],
    file: str,
    result: ArchiveResult,
    body: fa.ArchiveBody,
    days: dict[dt.date, fa.Closure],
) -> None:
    running = body.gt_open
    for closure in sorted(days.values(), key=lambda c: c.start):
        where = _("day closure {day}", day=wording.day(closure.start))
        if closure.end != closure.start or not (
            body.period_start <= closure.start <= body.period_end
        ):
            add(
                finding(
                    "CLOSURE_NESTING",
                    _("{closure} is not a single day of the archive period", closure=where),
                    file=file,
                    expected=f"{body.period_start}..{body.period_end}",
                    found=f"{closure.start}..{closure.end}",
                )
            )
        expected = result.day_sums.get(closure.start, {})
        compare_sums(add, file, where, expected, closure)
        running += closure.ttc
        if closure.gt != running:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    _("{closure}: grand total is not previous + day", closure=where),
                    file=file,
                    expected=running,
                    found=closure.gt,
                )
            )


def _check_month_closures(
    add: Callable[[Finding], None],
    file: str,
    result: ArchiveResult,
    body: fa.ArchiveBody,
    days: dict[dt.date, fa.Closure],
    months: list[fa.Closure],
) -> None:
    if len(months) != 1:
        add(
            finding(
                "CLOSURE_MISSING",
                _("an archive needs exactly one month closure"),
                file=file,
                expected=1,
                found=len(months),
            )
        )
    for month in months:
        where = _(
            "month closure {start}..{end}",
            start=wording.day(month.start),
            end=wording.day(month.end),
        )
        if month.tickets != result.ticket_count:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    _("{closure}: ticket count differs", closure=where),
                    file=file,
                    expected=result.ticket_count,
                    found=month.tickets,
                )
            )
        if (month.start, month.end) != (body.period_start, body.period_end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    _("{closure} does not match the archive period", closure=where),
                    file=file,
                    expected=f"{body.period_start}..{body.period_end}",
                    found=f"{month.start}..{month.end}",
                )
            )
        expected_sums: dict[int, list[int]] = {}
        for sums in result.day_sums.values():
            merge_sums(expected_sums, sums)
        compare_sums(add, file, where, {r: tuple(v) for r, v in expected_sums.items()}, month)
        day_total = sum(c.ttc for c in days.values())
        if month.ttc != day_total:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    _("{closure}: total is not the sum of its days", closure=where),
                    file=file,
                    expected=day_total,
                    found=month.ttc,
                )
            )
        if month.gt != body.gt_open + month.ttc:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    _("{closure}: grand total is not previous + month", closure=where),
                    file=file,
                    expected=body.gt_open + month.ttc,
                    found=month.gt,
                )
            )


def _check_year_closures(
    add: Callable[[Finding], None], file: str, body: fa.ArchiveBody, years: list[fa.Closure]
) -> None:
    for year in years:
        where = _(
            "year closure {start}..{end}", start=wording.day(year.start), end=wording.day(year.end)
        )
        if not (year.start <= body.period_start and body.period_end == year.end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    _("{closure} does not end with this archive's month", closure=where),
                    file=file,
                    expected=str(body.period_end),
                    found=str(year.end),
                )
            )
        if year.gt != body.gt_close:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    _("{closure}: grand total differs from the archive's", closure=where),
                    file=file,
                    expected=body.gt_close,
                    found=year.gt,
                )
            )


def compare_sums(add, file: str, where: str, expected: VatSums, closure: fa.Closure) -> None:
    """``where`` names the closure in the reader's language (a whole noun phrase)."""
    found = closure_sums(closure)
    if found != expected:
        add(
            finding(
                "CLOSURE_VAT_MISMATCH",
                _("{closure}: per-VAT-rate totals differ from tickets", closure=where),
                file=file,
                expected=_fmt(expected),
                found=_fmt(found),
            )
        )
    line_total = sum(v[2] for v in found.values())
    if closure.ttc != line_total:
        add(
            finding(
                "CLOSURE_TOTAL_MISMATCH",
                _("{closure}: total differs from its VAT lines", closure=where),
                file=file,
                expected=line_total,
                found=closure.ttc,
            )
        )


def _fmt(sums: VatSums) -> str:
    return "; ".join(f"{r / 100:g}%: {v[2]}" for r, v in sorted(sums.items(), reverse=True))
