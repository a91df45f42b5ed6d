"""Six-year coverage, computed only from verified content.

How it is computed (also in ``schemas/coverage.md``):

1. The required range is ``[as_of - years, as_of]`` in the shop's local calendar.
2. Each archive whose signature verified with a trusted key and whose content has no
   error covers its period ``[start, end]``.
3. The journal covers the not-yet-archived tail ``(last archive end, last record date]``,
   but only as far as its chain is verified.
4. Days before the journal's verified genesis record are not required when the first
   archive is marked first and starts on the genesis day: the dossier is younger than the
   required range ("complete since genesis").
5. Days after the last recorded operation are not a gap: the law counts six years back
   from the last operation, and nothing was recorded after it.
6. Every other day of the required range not covered is a gap, reported as a range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from fiscalsafe.verify.archives import ArchiveResult, local_date
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.journal import JournalResult

OVERDUE_DAYS = 62


@dataclass
class Coverage:
    required_start: dt.date
    required_end: dt.date
    covered: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    gaps: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    genesis: dt.date | None = None
    since_genesis: bool = False
    last_operation: dt.date | None = None

    @property
    def complete(self) -> bool:
        return not self.gaps

    def to_json(self) -> dict:
        return {
            "required": [self.required_start.isoformat(), self.required_end.isoformat()],
            "covered": [[a.isoformat(), b.isoformat()] for a, b in self.covered],
            "gaps": [[a.isoformat(), b.isoformat()] for a, b in self.gaps],
            "genesis": self.genesis.isoformat() if self.genesis else None,
            "since_genesis": self.since_genesis,
            "last_operation": self.last_operation.isoformat() if self.last_operation else None,
            "complete": self.complete,
        }


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def compute_coverage(
    archives: list[ArchiveResult],
    journal: JournalResult,
    as_of: dt.datetime,
    years: int,
    tz: str,
) -> tuple[Coverage, list[Finding]]:
    zone = ZoneInfo(tz)
    end = as_of.astimezone(zone).date()
    cov = Coverage(required_start=years_before(end, years), required_end=end)
    findings: list[Finding] = []
    one = dt.timedelta(days=1)

    # (2) Proven archive periods, merged into contiguous segments.
    periods = sorted(
        (r.period_start, r.period_end)
        for r in archives
        if r.proven and r.period_start is not None and r.period_end is not None
    )
    # (3) The journal's verified tail after the last archive.
    verified = [e for e in journal.entries if e.seq <= journal.verified_until]
    if verified:
        last_journal_day = local_date(verified[-1].ts, zone)
        cov.last_operation = last_journal_day
        archived_end = periods[-1][1] if periods else None
        tail_start = (archived_end + one) if archived_end else local_date(verified[0].ts, zone)
        if tail_start <= last_journal_day:
            periods.append((tail_start, last_journal_day))
        if archived_end and (last_journal_day - archived_end).days > OVERDUE_DAYS:
            findings.append(
                finding(
                    "ARCHIVE_OVERDUE",
                    f"nothing archived since {archived_end}",
                    expected=f"an archive at most {OVERDUE_DAYS} days old",
                    found=str(archived_end),
                )
            )
    for start, stop in periods:
        if cov.covered and start <= cov.covered[-1][1] + one:
            cov.covered[-1] = (cov.covered[-1][0], max(stop, cov.covered[-1][1]))
        else:
            cov.covered.append((start, stop))
    if cov.last_operation is None and periods:
        cov.last_operation = periods[-1][1]

    # (4) A dossier younger than the range: complete since its verified genesis.
    first = min((r for r in archives if r.proven), key=lambda r: r.number, default=None)
    if journal.genesis_ts is not None and journal.verified_until >= 1:
        cov.genesis = local_date(journal.genesis_ts, zone)
    required_start = cov.required_start
    if (
        cov.genesis is not None
        and cov.genesis > required_start
        and first is not None
        and first.first
        and first.period_start == cov.genesis
    ):
        cov.since_genesis = True
        required_start = cov.genesis
        findings.append(
            finding(
                "COVERAGE_SINCE_GENESIS",
                f"dossier began on {cov.genesis}: complete since its genesis",
                expected=str(cov.required_start),
                found=str(cov.genesis),
            )
        )

    # (5) Nothing is required after the last recorded operation.
    required_end = (
        min(cov.required_end, cov.last_operation) if cov.last_operation else cov.required_end
    )

    # (6) Gaps: required days not inside any covered segment.
    cursor = required_start
    for start, stop in cov.covered:
        if stop < cursor:
            continue
        if start > cursor:
            cov.gaps.append((cursor, min(start - one, required_end)))
        cursor = max(cursor, stop + one)
        if cursor > required_end:
            break
    if cursor <= required_end:
        cov.gaps.append((cursor, required_end))
    cov.gaps = [(a, b) for a, b in cov.gaps if a <= b]
    for a, b in cov.gaps:
        findings.append(
            finding(
                "COVERAGE_GAP",
                f"no verified record covers {a} to {b}",
                expected=f"{cov.required_start}..{cov.required_end}",
                found=f"gap {a}..{b}",
            )
        )
    return cov, findings
