"""The check report: everything a check proved, as one document (schemas/check-report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fiscalsafe import __version__
from fiscalsafe.verify.coverage import Coverage
from fiscalsafe.verify.findings import Finding, Severity, has_errors
from fiscalsafe.verify.verified import JournalHistory, ProvenArchive

REPORT_FORMAT = "fiscalsafe-check-report"
#: 1.1: the verdict ``consistent``; ``journal_head.sig_sha256``; coverage's idle days.
REPORT_VERSION = [1, 1]


def verdict_of(findings: list[Finding], trust: dict[str, Any] | None) -> str:
    """``proven`` needs no error and keys from outside; with no error but a key that came
    from inside what was checked, the data is only ``consistent``: its origin is unproven."""
    if has_errors(findings):
        return "findings"
    if trust is not None and trust.get("self_asserted"):
        return "consistent"
    return "proven"


#: Worst first: the verdict of several results is the worst of theirs.
VERDICT_ORDER = ("findings", "consistent", "valid", "proven")


def combine_verdicts(verdicts: list[str]) -> str:
    return min(verdicts, key=VERDICT_ORDER.index, default="proven")


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
    #: Verified data for the freshness checks; not part of the JSON document.
    proven_archives: tuple[ProvenArchive, ...] = field(default=(), repr=False)
    history: JournalHistory | None = field(default=None, repr=False)
    #: Archives verified by this run, and taken from a proof of the same bytes already
    #: made ("remembered"); the commands add it to their own JSON.
    archive_proofs: dict[str, int] = field(default_factory=dict, repr=False)
    #: The SHA-256 of the journal's and its signed head's bytes as the check read them,
    #: by path: a backup must package these very bytes. Not part of the JSON document.
    read_digests: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        return verdict_of(self.findings, self.trust)

    @property
    def ok(self) -> bool:
        return self.verdict == "proven"

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for f in self.findings if f.severity is s) for s in Severity}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "tool": f"fiscalsafe {__version__}",
            "dossier": self.dossier,
            "path": self.path,
            "verdict": self.verdict,
            "as_of": self.as_of,
            "years": self.years,
            "trust": self.trust,
            "coverage": self.coverage.to_json() if self.coverage else None,
            "journal_head": self.journal_head,
            "stats": self.stats,
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
        }
