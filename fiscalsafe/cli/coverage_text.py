"""The one coverage sentence of check, backup, verify and list.

It says which window is required and why it ends where it does (today, the ``--as-of``
date, or the backup's creation), what the records cover, and the last recorded
operation. Each part is one whole format string, ready for translation. It never calls a
day covered that no record covers.
"""

from __future__ import annotations

import datetime as dt

from fiscalsafe.cli.localtext import day
from fiscalsafe.i18n import N_, _, n_
from fiscalsafe.verify.coverage import Coverage, years_before

#: Why the required window ends where it does.
ANCHOR_TODAY = "today"
ANCHOR_AS_OF = "as-of"
ANCHOR_BACKUP = "backup"

_ANCHOR_TEXT = {
    ANCHOR_TODAY: N_("up to today"),
    ANCHOR_AS_OF: N_("up to the --as-of date"),
    ANCHOR_BACKUP: N_("up to the day the backup was made"),
}
#: Years the law requires by default: the window list assumes for a sidecar's claim.
DEFAULT_YEARS = 6


def _span(pair: tuple[dt.date, dt.date]) -> str:
    return _("{start} to {end}", start=day(pair[0]), end=day(pair[1]))


def _years(cov: Coverage) -> int:
    years = cov.required_end.year - cov.required_start.year
    return years if years_before(cov.required_end, years) == cov.required_start else years + 1


def required_part(cov: Coverage, anchor: str) -> str:
    return n_(
        "{n} year required, {start} to {end}, {why}",
        "{n} years required, {start} to {end}, {why}",
        _years(cov),
        start=day(cov.required_start),
        end=day(cov.required_end),
        why=_(_ANCHOR_TEXT[anchor]),
    )


def covered_part(cov: Coverage, claimed: bool) -> str:
    spans = ", ".join(_span(pair) for pair in cov.covered)
    if claimed:
        return _(
            "the signed sidecar claims records covering {spans} (not verified by list)",
            spans=spans or _("nothing"),
        )
    if not spans:
        return _("no verified record covers any of it")
    return _("verified records cover {spans}", spans=spans)


def idle_part(cov: Coverage) -> str | None:
    if cov.idle is None:
        return None
    days = (cov.idle[1] - cov.idle[0]).days + 1
    if cov.idle_excused == "end-of-activity":
        return _("activity ended on {day}", day=day(cov.end_of_activity))
    if cov.idle_excused == "tolerance":
        return n_(
            "{n} day without operation after it, within the {limit}-day tolerance",
            "{n} days without operation after it, within the {limit}-day tolerance",
            days,
            limit=cov.max_idle_days,
        )
    return n_(
        "STALE: nothing recorded for {n} day up to {day}",
        "STALE: nothing recorded for {n} days up to {day}",
        days,
        day=day(cov.idle[1]),
    )


def coverage_sentence(cov: Coverage, anchor: str, *, claimed: bool = False) -> str:
    """What is required (and why that window), what is covered, the last operation."""
    parts = [required_part(cov, anchor), covered_part(cov, claimed)]
    parts.append(
        _("last recorded operation {day}", day=day(cov.last_operation))
        if cov.last_operation
        else _("no recorded operation")
    )
    if cov.since_genesis:
        parts.append(_("the dossier began on {day}: complete since then", day=day(cov.genesis)))
    idle = idle_part(cov)
    if idle:
        parts.append(idle)
    if cov.unknowable is not None:
        parts.append(
            _(
                "{start} to {end} is after the backup was made: unknown",
                start=day(cov.unknowable[0]),
                end=day(cov.unknowable[1]),
            )
        )
    if cov.gaps:
        parts.append(_("gaps {spans}", spans=", ".join(_span(g) for g in cov.gaps)))
    return _("; ").join(parts)


def claimed_coverage(claim: str, created: str) -> str:
    """A sidecar's ``coverage=FIRST..LAST`` claim, as the same sentence: the required window
    is the default six years up to the backup's creation, and the records it claims end on
    the last recorded operation."""
    try:
        made = dt.date.fromisoformat(created[:10])
        first, sep, last = claim.partition("..")
        covered = [(dt.date.fromisoformat(first), dt.date.fromisoformat(last))] if sep else []
    except ValueError:
        return _("coverage not claimed by the sidecar")
    cov = Coverage(
        required_start=years_before(made, DEFAULT_YEARS),
        required_end=made,
        covered=covered,
        last_operation=covered[-1][1] if covered else None,
    )
    return coverage_sentence(cov, ANCHOR_BACKUP, claimed=True)
