"""Six-year coverage, computed only from verified content.

How it is computed (also in ``schemas/coverage.md``):

1. The required range is ``[as_of - years, as_of]`` in the shop's local calendar.
2. Each proven archive covers its period ``[start, end]``.
3. The journal's verified prefix covers the not-yet-archived tail ``(last archive end,
   last record date]``. The day of the last verified record is the last operation.
4. Days before the journal's verified genesis record are not required when the first
   archive is marked first and starts on the genesis day ("complete since genesis").
5. Days after the last operation are excused only (a) after a verified end-of-activity
   record, or (b) up to ``max_idle_days`` (a shop closed for its holidays). Beyond, the
   whole idle stretch is ``COVERAGE_STALE``: an old copy of a dossier must not pass for
   a current one. Days after ``known_until`` (a backup's creation) cannot be known at all
   and are ``COVERAGE_BEYOND_BACKUP``.
6. Every other day of the required range not covered is a gap, reported as a range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from fiscalsafe import localformat
from fiscalsafe.formats import journal as fj
from fiscalsafe.i18n import _, n_
from fiscalsafe.verify import wording
from fiscalsafe.verify.archives import local_date
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.verified import ProvenArchive, VerifiedJournal

OVERDUE_DAYS = 62
#: Days without any recorded operation that still count as a shop closed for a while,
#: not as an old copy: French shops close up to five weeks for their summer holidays
#: (often all of August), and a week more covers a closure that spans two month ends.
#: A longer closure is recorded as such (an end-of-activity record), or the tolerance
#: is raised on purpose with ``--max-idle-days``.
MAX_IDLE_DAYS = 45
#: Idle days up to a week (a weekly closing day, a long weekend) are said only in the
#: coverage sentence, not as a finding.
QUIET_IDLE_DAYS = 7


@dataclass
class Coverage:
    required_start: dt.date
    required_end: dt.date
    covered: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    gaps: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    genesis: dt.date | None = None
    since_genesis: bool = False
    last_operation: dt.date | None = None
    #: Days after the last operation up to the end of the range (or what can be known).
    idle: tuple[dt.date, dt.date] | None = None
    idle_excused: str | None = None  # None | "tolerance" | "end-of-activity"
    max_idle_days: int = MAX_IDLE_DAYS
    end_of_activity: dt.date | None = None
    #: Days of the range after the backup was made: nothing can vouch for them.
    unknowable: tuple[dt.date, dt.date] | None = None

    @property
    def stale(self) -> bool:
        return self.idle is not None and self.idle_excused is None

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.stale and self.unknowable is None

    def to_json(self) -> dict:
        def span(pair):
            return [pair[0].isoformat(), pair[1].isoformat()] if pair else None

        return {
            "required": [self.required_start.isoformat(), self.required_end.isoformat()],
            "covered": [[a.isoformat(), b.isoformat()] for a, b in self.covered],
            "gaps": [[a.isoformat(), b.isoformat()] for a, b in self.gaps],
            "genesis": self.genesis.isoformat() if self.genesis else None,
            "since_genesis": self.since_genesis,
            "last_operation": self.last_operation.isoformat() if self.last_operation else None,
            "idle": span(self.idle),
            "idle_excused": self.idle_excused,
            "max_idle_days": self.max_idle_days,
            "end_of_activity": self.end_of_activity.isoformat() if self.end_of_activity else None,
            "unknowable": span(self.unknowable),
            "stale": self.stale,
            "complete": self.complete,
        }


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def compute_coverage(
    archives: Sequence[ProvenArchive],
    journal: VerifiedJournal,
    as_of: dt.datetime,
    years: int,
    tz: str,
    *,
    max_idle_days: int = MAX_IDLE_DAYS,
    known_until: dt.datetime | None = None,
) -> tuple[Coverage, list[Finding]]:
    """Coverage of ``[as_of - years, as_of]`` by proven archives and the verified journal.

    ``known_until`` is the last instant the data could know of (a backup's creation): days
    after it are never covered, whatever the tolerance."""
    zone = ZoneInfo(tz)
    end = as_of.astimezone(zone).date()
    cov = Coverage(
        required_start=years_before(end, years), required_end=end, max_idle_days=max_idle_days
    )
    findings: list[Finding] = []
    one = dt.timedelta(days=1)

    # (2) Proven archive periods.
    periods = sorted((a.period_start, a.period_end) for a in archives)
    # (3) The journal's verified prefix, after the last archive.
    last_entry = journal.last
    if last_entry is not None:
        last_journal_day = local_date(last_entry.ts, zone)
        cov.last_operation = last_journal_day
        archived_end = periods[-1][1] if periods else None
        tail_start = (
            (archived_end + one) if archived_end else local_date(journal.entries[0].ts, zone)
        )
        if tail_start <= last_journal_day:
            periods.append((tail_start, last_journal_day))
        if archived_end and (last_journal_day - archived_end).days > OVERDUE_DAYS:
            findings.append(
                finding(
                    "ARCHIVE_OVERDUE",
                    _("nothing archived since {day}", day=wording.day(archived_end)),
                    expected=f"an archive at most {OVERDUE_DAYS} days old",
                    found=str(archived_end),
                )
            )
    for start, stop in sorted(periods):
        if cov.covered and start <= cov.covered[-1][1] + one:
            cov.covered[-1] = (cov.covered[-1][0], max(stop, cov.covered[-1][1]))
        else:
            cov.covered.append((start, stop))
    if cov.last_operation is None and cov.covered:
        cov.last_operation = cov.covered[-1][1]

    required_start = _since_genesis(cov, archives, journal, zone, findings)
    required_end = _idle_days(cov, journal, zone, known_until, findings)

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
    findings.extend(_gap_finding(cov, a, b) for a, b in cov.gaps)
    return cov, findings


def _gap_finding(cov: Coverage, start: dt.date, end: dt.date) -> Finding:
    return finding(
        "COVERAGE_GAP",
        _(
            "no verified record covers {start} to {end}",
            start=wording.day(start),
            end=wording.day(end),
        ),
        expected=f"{cov.required_start}..{cov.required_end}",
        found=f"gap {start}..{end}",
    )


def _since_genesis(
    cov: Coverage,
    archives: Sequence[ProvenArchive],
    journal: VerifiedJournal,
    zone: ZoneInfo,
    findings: list[Finding],
) -> dt.date:
    """(4) A dossier younger than the range is complete since its verified genesis."""
    first = min(archives, key=lambda a: a.number, default=None)
    if journal.genesis_ts is not None:
        cov.genesis = local_date(journal.genesis_ts, zone)
    if (
        cov.genesis is not None
        and cov.genesis > cov.required_start
        and first is not None
        and first.first
        and first.period_start == cov.genesis
    ):
        cov.since_genesis = True
        findings.append(
            finding(
                "COVERAGE_SINCE_GENESIS",
                _(
                    "dossier began on {day}: complete since its genesis",
                    day=wording.day(cov.genesis),
                ),
                expected=str(cov.required_start),
                found=str(cov.genesis),
            )
        )
        return cov.genesis
    return cov.required_start


def _idle_days(
    cov: Coverage,
    journal: VerifiedJournal,
    zone: ZoneInfo,
    known_until: dt.datetime | None,
    findings: list[Finding],
) -> dt.date:
    """(5) The days after the last operation: excused, stale or unknowable. Returns the
    last day that must be covered by records."""
    one = dt.timedelta(days=1)
    end = cov.required_end
    if known_until is not None:
        known = known_until.astimezone(zone).date()
        if known < end:
            cov.unknowable = (max(known + one, cov.required_start), end)
            findings.append(
                finding(
                    "COVERAGE_BEYOND_BACKUP",
                    _(
                        "the backup was made on {day}: it cannot show {start} to {end}",
                        day=wording.day(known),
                        start=wording.day(known + one),
                        end=wording.day(end),
                    ),
                    expected=str(end),
                    found=str(known),
                )
            )
            end = known
    last = cov.last_operation
    if last is None or last >= end:
        return end
    if journal.unverified_after:
        # Records follow a break in the chain: the days after the last verified one are not
        # idle, they are unproven, and (6) reports them as a gap.
        return end
    cov.idle = (last + one, end)
    # Only a closing recorded on the last day of activity ends it: a shop that reopened
    # after an old closing record is idle again, not closed.
    closing = next(
        (
            e
            for e in reversed(journal.entries)
            if e.code == fj.END_OF_ACTIVITY_CODE and local_date(e.ts, zone) == last
        ),
        None,
    )
    idle_days = (end - last).days
    if closing is not None:
        cov.end_of_activity = local_date(closing.ts, zone)
        cov.idle_excused = "end-of-activity"
        findings.append(_end_of_activity_finding(cov.end_of_activity, last))
    elif idle_days <= cov.max_idle_days:
        cov.idle_excused = "tolerance"
        if idle_days > QUIET_IDLE_DAYS:
            findings.append(
                finding(
                    "COVERAGE_IDLE",
                    n_(
                        "no operation recorded after {last} ({n} day to {end}): "
                        "within the {tolerance}-day tolerance for a closed shop",
                        "no operation recorded after {last} ({n} days to {end}): "
                        "within the {tolerance}-day tolerance for a closed shop",
                        idle_days,
                        last=wording.day(last),
                        end=wording.day(end),
                        tolerance=localformat.count(cov.max_idle_days),
                    ),
                    expected=f"at most {cov.max_idle_days} days",
                    found=idle_days,
                )
            )
    else:
        findings.append(_stale_finding(cov, last, end, idle_days))
    return last


def _end_of_activity_finding(closed: dt.date, last: dt.date) -> Finding:
    return finding(
        "COVERAGE_END_OF_ACTIVITY",
        _(
            "the journal records the end of activity on {day}: nothing is required after {last}",
            day=wording.day(closed),
            last=wording.day(last),
        ),
        found=str(closed),
    )


def _stale_finding(cov: Coverage, last: dt.date, end: dt.date, idle_days: int) -> Finding:
    return finding(
        "COVERAGE_STALE",
        _(
            "the last recorded operation is of {last}, {idle} days before {end}: "
            "more than the {tolerance}-day tolerance, so this is not a current "
            "history (an old copy, or a journal cut short; a shop closed longer on "
            "purpose: --max-idle-days)",
            last=wording.day(last),
            idle=localformat.count(idle_days),
            end=wording.day(end),
            tolerance=localformat.count(cov.max_idle_days),
        ),
        expected=f"an operation after {end - dt.timedelta(days=cov.max_idle_days)}",
        found=str(last),
    )
