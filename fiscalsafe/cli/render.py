"""Text rendering for people: a verdict line first, then findings grouped by file."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape

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


def finding_line(f: Finding) -> str:
    parts = [f"[{SEVERITY_STYLE[str(f.severity)]}]{f.severity}[/] {f.code}: {f.message}"]
    where = []
    if f.record is not None:
        where.append(f"record {f.record}")
    if f.offset is not None:
        where.append(f"byte {f.offset}")
    if where:
        parts.append(f" ({', '.join(where)})")
    detail = []
    if f.expected is not None:
        detail.append(f"expected: {f.expected}")
    if f.found is not None:
        detail.append(f"found: {f.found}")
    if detail:
        parts.append("\n      " + "  ".join(detail))
    return "".join(parts)


def print_findings(findings: list[Finding], limit_per_file: int = 20) -> None:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.file or "(dossier)"].append(f)
    for file in sorted(groups):
        items = groups[file]
        console.print(f"  [bold]{file}[/]", markup=True)
        for f in items[:limit_per_file]:
            console.print("    " + finding_line(f), markup=True)
        if len(items) > limit_per_file:
            console.print(f"    ... and {len(items) - limit_per_file} more (see --json)")


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)


def print_warning(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", markup=True)


def proofs_sentence(proofs: dict[str, int]) -> str:
    """How many fiscal archives a run verified, and how many it took from remembered
    proofs of the same bytes."""
    return (
        f"fiscal archives: {proofs.get('verified', 0)} proven in full, "
        f"{proofs.get('remembered', 0)} remembered (same bytes, trust, versions and time "
        "zone as an earlier proof)"
    )
