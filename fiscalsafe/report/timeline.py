"""The coverage timeline: one cell per month of the required period, in one state each.

Built from a coverage document (``schemas/coverage.md``: ``required``, ``covered``,
``gaps``, ``genesis``, ``idle``, ``unknowable``...). A month takes the worst state of its
days, so one uncovered day is never hidden by a covered month around it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fiscalsafe.localformat import parse_day

#: The states a month can be in, worst first.
STATES = ("gap", "beyond-backup", "stale", "covered", "idle", "before-genesis")


@dataclass(frozen=True)
class MonthCell:
    month: dt.date  # the first day of the month
    state: str
    last_operation: bool = False

    @property
    def key(self) -> str:
        return f"{self.month.year:04d}-{self.month.month:02d}"


Span = tuple[dt.date, dt.date]


def _spans(pairs: Any) -> list[Span]:
    out = []
    for pair in pairs or []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            start, end = parse_day(pair[0]), parse_day(pair[1])
            if start and end:
                out.append((start, end))
    return out


def _overlaps(spans: list[Span], start: dt.date, end: dt.date) -> bool:
    return any(a <= end and b >= start for a, b in spans)


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _state(cov: dict[str, Any], start: dt.date, end: dt.date) -> str:
    genesis = parse_day(cov.get("genesis"))
    idle = _spans([cov.get("idle")] if cov.get("idle") else [])
    if _overlaps(_spans(cov.get("gaps")), start, end):
        return "gap"
    if cov.get("unknowable") and _overlaps(_spans([cov["unknowable"]]), start, end):
        return "beyond-backup"
    if cov.get("stale") and _overlaps(idle, start, end):
        return "stale"
    if _overlaps(_spans(cov.get("covered")), start, end):
        return "covered"
    if _overlaps(idle, start, end):
        return "idle"
    if genesis is not None and end < genesis:
        return "before-genesis"
    return "gap"


def month_cells(coverage: dict[str, Any] | None) -> list[MonthCell]:
    """One cell per month the required period touches, oldest first; none without one."""
    required = _spans([coverage.get("required")]) if coverage else []
    if not required:
        return []
    first, last = required[0]
    last_op = parse_day(coverage.get("last_operation"))
    cells = []
    month = first.replace(day=1)
    while month <= last:
        start, end = max(month, first), min(_month_end(month), last)
        marked = last_op is not None and (last_op.year, last_op.month) == (month.year, month.month)
        cells.append(MonthCell(month, _state(coverage, start, end), marked))
        month = _month_end(month) + dt.timedelta(days=1)
    return cells


def by_year(cells: list[MonthCell]) -> list[tuple[int, list[MonthCell]]]:
    """Rows of the drawing: each calendar year with its cells."""
    rows: dict[int, list[MonthCell]] = {}
    for cell in cells:
        rows.setdefault(cell.month.year, []).append(cell)
    return sorted(rows.items())


def counts(cells: list[MonthCell]) -> dict[str, int]:
    return {state: sum(1 for c in cells if c.state == state) for state in STATES}
