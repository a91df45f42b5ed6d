"""Closures of one fiscal archive: step (8) of ``archives.py`` (nesting, per-VAT-rate
sums, period totals, grand totals), and the per-rate sums the archive chain also uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from fiscalsafe.formats import archive as fa
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
                    f"two day closures for {c.start}",
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
                    f"day closure {c.start}: ticket count differs",
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
                    f"day {day} has tickets but no day closure",
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
        where = f"day closure {closure.start}"
        if closure.end != closure.start or not (
            body.period_start <= closure.start <= body.period_end
        ):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} is not a single day of the archive period",
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
                    f"{where}: grand total is not previous + day",
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
                "an archive needs exactly one month closure",
                file=file,
                expected=1,
                found=len(months),
            )
        )
    for month in months:
        where = f"month closure {month.start}..{month.end}"
        if month.tickets != result.ticket_count:
            add(
                finding(
                    "CLOSURE_TOTAL_MISMATCH",
                    f"{where}: ticket count differs",
                    file=file,
                    expected=result.ticket_count,
                    found=month.tickets,
                )
            )
        if (month.start, month.end) != (body.period_start, body.period_end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} does not match the archive period",
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
                    f"{where}: total is not the sum of its days",
                    file=file,
                    expected=day_total,
                    found=month.ttc,
                )
            )
        if month.gt != body.gt_open + month.ttc:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    f"{where}: grand total is not previous + month",
                    file=file,
                    expected=body.gt_open + month.ttc,
                    found=month.gt,
                )
            )


def _check_year_closures(
    add: Callable[[Finding], None], file: str, body: fa.ArchiveBody, years: list[fa.Closure]
) -> None:
    for year in years:
        where = f"year closure {year.start}..{year.end}"
        if not (year.start <= body.period_start and body.period_end == year.end):
            add(
                finding(
                    "CLOSURE_NESTING",
                    f"{where} does not end with this archive's month",
                    file=file,
                    expected=str(body.period_end),
                    found=str(year.end),
                )
            )
        if year.gt != body.gt_close:
            add(
                finding(
                    "GRAND_TOTAL_MISMATCH",
                    f"{where}: grand total differs from the archive's",
                    file=file,
                    expected=body.gt_close,
                    found=year.gt,
                )
            )


def compare_sums(add, file: str, where: str, expected: VatSums, closure: fa.Closure) -> None:
    found = closure_sums(closure)
    if found != expected:
        add(
            finding(
                "CLOSURE_VAT_MISMATCH",
                f"{where}: per-VAT-rate totals differ from tickets",
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
                f"{where}: total differs from its VAT lines",
                file=file,
                expected=line_total,
                found=closure.ttc,
            )
        )


def _fmt(sums: VatSums) -> str:
    return "; ".join(f"{r / 100:g}%: {v[2]}" for r, v in sorted(sums.items(), reverse=True))
