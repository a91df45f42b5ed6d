"""The one coverage sentence of check, backup, verify and list.

It says which window is required and why it ends where it does (today, the ``--as-of``
date, or the backup's creation), what the records cover, and the last recorded
operation. Each part is one whole format string, ready for translation. It never calls a
day covered that no record covers.
"""

from __future__ import annotations

import datetime as dt

from fiscalsafe.verify.coverage import Coverage, years_before

#: Why the required window ends where it does.
ANCHOR_TODAY = "today"
ANCHOR_AS_OF = "as-of"
ANCHOR_BACKUP = "backup"

_ANCHOR_TEXT = {
    ANCHOR_TODAY: "up to today",
    ANCHOR_AS_OF: "up to the --as-of date",
    ANCHOR_BACKUP: "up to the day the backup was made",
}
#: Years the law requires by default: the window list assumes for a sidecar's claim.
DEFAULT_YEARS = 6


def _span(pair: tuple[dt.date, dt.date]) -> str:
    return f"{pair[0]} to {pair[1]}"


def _years(cov: Coverage) -> int:
    years = cov.required_end.year - cov.required_start.year
    return years if years_before(cov.required_end, years) == cov.required_start else years + 1


def required_part(cov: Coverage, anchor: str) -> str:
    years = _years(cov)
    text = (
        "{years} years required, {start} to {end}, {why}"
        if years != 1
        else "1 year required, {start} to {end}, {why}"
    )
    return text.format(
        years=years, start=cov.required_start, end=cov.required_end, why=_ANCHOR_TEXT[anchor]
    )


def covered_part(cov: Coverage, claimed: bool) -> str:
    spans = ", ".join(_span(pair) for pair in cov.covered)
    if claimed:
        return "the signed sidecar claims records covering {spans} (not verified by list)".format(
            spans=spans or "nothing"
        )
    if not spans:
        return "no verified record covers any of it"
    return f"verified records cover {spans}"


def idle_part(cov: Coverage) -> str | None:
    if cov.idle is None:
        return None
    days = (cov.idle[1] - cov.idle[0]).days + 1
    if cov.idle_excused == "end-of-activity":
        return f"activity ended on {cov.end_of_activity}"
    if cov.idle_excused == "tolerance":
        limit = cov.max_idle_days
        return f"{days} day(s) without operation after it, within the {limit}-day tolerance"
    return f"STALE: nothing recorded for {days} days up to {cov.idle[1]}"


def coverage_sentence(cov: Coverage, anchor: str, *, claimed: bool = False) -> str:
    """What is required (and why that window), what is covered, the last operation."""
    parts = [required_part(cov, anchor), covered_part(cov, claimed)]
    parts.append(
        f"last recorded operation {cov.last_operation}"
        if cov.last_operation
        else "no recorded operation"
    )
    if cov.since_genesis:
        parts.append(f"the dossier began on {cov.genesis}: complete since then")
    idle = idle_part(cov)
    if idle:
        parts.append(idle)
    if cov.unknowable is not None:
        parts.append(
            f"{cov.unknowable[0]} to {cov.unknowable[1]} is after the backup was made: unknown"
        )
    if cov.gaps:
        parts.append("gaps {spans}".format(spans=", ".join(_span(g) for g in cov.gaps)))
    return "; ".join(parts)


def claimed_coverage(claim: str, created: str) -> str:
    """A sidecar's ``coverage=FIRST..LAST`` claim, as the same sentence: the required window
    is the default six years up to the backup's creation, and the records it claims end on
    the last recorded operation."""
    try:
        made = dt.date.fromisoformat(created[:10])
        first, sep, last = claim.partition("..")
        covered = [(dt.date.fromisoformat(first), dt.date.fromisoformat(last))] if sep else []
    except ValueError:
        return "coverage not claimed by the sidecar"
    cov = Coverage(
        required_start=years_before(made, DEFAULT_YEARS),
        required_end=made,
        covered=covered,
        last_operation=covered[-1][1] if covered else None,
    )
    return coverage_sentence(cov, ANCHOR_BACKUP, claimed=True)
