"""Text rendering for people: a verdict line first, then findings grouped by file."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape

from fiscalsafe.i18n import _, n_
from fiscalsafe.localformat import count
from fiscalsafe.verify.findings import Finding

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False, soft_wrap=True)

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


#: The version of the command outputs that carry no version of their own (backup, verify,
#: list, restore, keys generate, sample): their schemas in ``schemas/``.
OUTPUT_VERSION = [1, 0]


def output_document(doc: dict, kind: str) -> dict:
    """``doc`` as a command prints it: first ``format`` (``fiscalsafe-KIND``, naming its
    schema) and ``version``, so a script knows what it reads."""
    return {"format": f"fiscalsafe-{kind}", "version": OUTPUT_VERSION, **doc}


def print_json(doc: Any, kind: str | None = None) -> None:
    """One JSON document on stdout; ``kind`` adds its ``format`` and ``version``."""
    if kind is not None:
        doc = output_document(doc, kind)
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def severity_word(severity: str) -> str:
    from fiscalsafe.report.texts import SEVERITIES

    return _(SEVERITIES[severity]) if severity in SEVERITIES else severity


def finding_line(f: Finding) -> str:
    style = SEVERITY_STYLE[str(f.severity)]
    parts = [f"[{style}]{severity_word(str(f.severity))}[/] {f.code}: {f.message}"]
    where = []
    if f.record is not None:
        where.append(_("record {record}", record=f.record))
    if f.offset is not None:
        where.append(_("byte {offset}", offset=f.offset))
    if where:
        parts.append(f" ({', '.join(where)})")
    detail = []
    if f.expected is not None:
        detail.append(_("expected: {value}", value=f.expected))
    if f.found is not None:
        detail.append(_("found: {value}", value=f.found))
    if detail:
        parts.append("\n      " + "  ".join(detail))
    return "".join(parts)


def print_findings(findings: list[Finding], limit_per_file: int = 20) -> None:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.file or _("(dossier)")].append(f)
    for file in sorted(groups):
        items = groups[file]
        console.print(f"  [bold]{file}[/]", markup=True)
        for f in items[:limit_per_file]:
            console.print("    " + finding_line(f), markup=True)
        if len(items) > limit_per_file:
            more = len(items) - limit_per_file
            console.print("    " + _("... and {n} more (see --json)", n=more))


def print_error(message: str) -> None:
    label = _("error:")
    err_console.print(f"[bold red]{label}[/] {escape(message)}", markup=True)


def print_warning(message: str) -> None:
    label = _("warning:")
    err_console.print(f"[yellow]{label}[/] {escape(message)}", markup=True)


def proofs_sentence(proofs: dict[str, int]) -> str:
    """How many fiscal archives a run verified, and how many it took from remembered
    proofs of the same bytes."""
    return _(
        "fiscal archives: {verified} proven in full, {remembered} remembered (same bytes, "
        "trust, versions and time zone as an earlier proof)",
        verified=proofs.get("verified", 0),
        remembered=proofs.get("remembered", 0),
    ) + _journal_sentence(proofs.get("journal_signatures_remembered", 0))


def segments_sentence(segments: dict[str, int]) -> str:
    """How many segments of large files a backup took from the frames the last one kept."""
    return _(
        "large files: {reused} segments taken from the last backup (same bytes), "
        "{compressed} compressed",
        reused=count(segments.get("reused", 0)),
        compressed=count(segments.get("compressed", 0)),
    )


def _journal_sentence(remembered: int) -> str:
    if not remembered:
        return ""
    return "; " + n_(
        "event journal: {count} record proven on an earlier run, byte for byte, the rest "
        "verified in full",
        "event journal: {count} records proven on an earlier run, byte for byte, the rest "
        "verified in full",
        remembered,
        count=count(remembered),
    )
