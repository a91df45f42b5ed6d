"""The check report: everything a check proved, as one document (schemas/check-report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fiscalsafe import __version__
from fiscalsafe.verify.coverage import Coverage
from fiscalsafe.verify.findings import Finding, Severity, has_errors

REPORT_FORMAT = "fiscalsafe-check-report"
REPORT_VERSION = [1, 0]


@dataclass
class CheckReport:
    dossier: str
    path: str
    as_of: str
    years: int
    trust: dict[str, Any]
    coverage: Coverage | None
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    journal_head: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for f in self.findings if f.severity is s) for s in Severity}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "tool": f"fiscalsafe {__version__}",
            "dossier": self.dossier,
            "path": self.path,
            "verdict": "proven" if self.ok else "findings",
            "as_of": self.as_of,
            "years": self.years,
            "trust": self.trust,
            "coverage": self.coverage.to_json() if self.coverage else None,
            "journal_head": self.journal_head,
            "stats": self.stats,
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
        }
