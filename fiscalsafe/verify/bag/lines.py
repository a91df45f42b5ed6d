"""Findings for the bad lines of a tag file, capped per file."""

from __future__ import annotations

from collections.abc import Iterable

from fiscalsafe import localformat
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import n_
from fiscalsafe.verify.findings import Finding, finding

#: Bad lines reported one by one per tag file; the rest are counted in one finding.
MAX_LINE_FINDINGS = 100


def report_line_problems(
    out: list[Finding], name: str, problems: Iterable[fmt.LineProblem], code: str
) -> None:
    """One finding per bad line, up to :data:`MAX_LINE_FINDINGS` per file (a hostile
    manifest may have millions), then one that counts the rest."""
    problems = list(problems)
    for problem in problems[:MAX_LINE_FINDINGS]:
        kind = "BAG_PATH_UNSAFE" if problem.unsafe else code
        out.append(finding(kind, problem.message, file=name, record=problem.line))
    rest = problems[MAX_LINE_FINDINGS:]
    if rest:
        kind = "BAG_PATH_UNSAFE" if any(p.unsafe for p in rest) else code
        out.append(
            finding(
                kind,
                n_(
                    "{name}: {count} more invalid line not listed one by one (from line {line})",
                    "{name}: {count} more invalid lines not listed one by one (from line {line})",
                    len(rest),
                    name=name,
                    count=localformat.count(len(rest)),
                    line=localformat.count(rest[0].line),
                ),
                file=name,
                record=rest[0].line,
            )
        )
