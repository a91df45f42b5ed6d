"""``report-check``: do a report, its evidence record and its signature belong together?

1. the report holds one readable data block (``REPORT_MALFORMED`` otherwise);
2. the evidence it embeds has the SHA-256 it states, and so does the evidence file given
   with ``--evidence`` (``REPORT_EVIDENCE_MISMATCH``);
3. drawing the report again from its data gives the same bytes: nothing visible was
   changed (``REPORT_CONTENT_MISMATCH``); a report made by another version of fiscalsafe
   cannot be drawn again here (``REPORT_OTHER_VERSION``, a warning);
4. with ``--auditor-pub``, ``REPORT.minisig`` verifies with that key
   (``REPORT_SIGNATURE_MISSING``, ``REPORT_SIGNATURE_INVALID``); without it, nothing says
   who made the report (``REPORT_SIGNATURE_UNCHECKED``, a warning).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fiscalsafe import fsio, minisign
from fiscalsafe.errors import FiscalsafeError, MalformedError, UsageError
from fiscalsafe.report.datablock import document_bytes, extract_data, sha256
from fiscalsafe.report.write import TOOL, render
from fiscalsafe.verify.findings import Finding, finding

MAX_REPORT_BYTES = 256 * 1024 * 1024
MAX_EVIDENCE_BYTES = 256 * 1024 * 1024


@dataclass
class ReportCheck:
    report: str
    findings: list[Finding] = field(default_factory=list)
    evidence_sha256: str | None = None
    verdict: str | None = None  # the evidence's own verdict, as the report states it
    auditor: str | None = None

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "fiscalsafe-report-check",
            "version": [1, 0],
            "tool": TOOL,
            "report": self.report,
            "ok": self.ok,
            "evidence_sha256": self.evidence_sha256,
            "evidence_verdict": self.verdict,
            "auditor": self.auditor,
            "findings": [f.to_json() for f in self.findings],
        }


def _read(path: Path, limit: int, what: str) -> bytes:
    data = fsio.read_regular(path, limit, what, UsageError)
    if data is None:
        raise UsageError(f"{what} {path} does not exist")
    return data


def check_evidence(data: dict[str, Any], evidence: Path | None, out: ReportCheck) -> None:
    stated = str(data["evidence"].get("sha256"))
    out.evidence_sha256 = stated if re.fullmatch(r"[0-9a-f]{64}", stated) else None
    embedded = sha256(document_bytes(data["document"]))
    if embedded != stated:
        out.findings.append(
            finding(
                "REPORT_EVIDENCE_MISMATCH",
                "the evidence embedded in the report is not the one its SHA-256 names",
                expected=stated,
                found=embedded,
            )
        )
    if evidence is None:
        return
    actual = sha256(_read(evidence, MAX_EVIDENCE_BYTES, "evidence record"))
    if actual != stated:
        out.findings.append(
            finding(
                "REPORT_EVIDENCE_MISMATCH",
                "the evidence record given is not the one the report was made from",
                file=str(evidence),
                expected=stated,
                found=actual,
            )
        )


def check_content(data: dict[str, Any], content: bytes, path: Path, out: ReportCheck) -> None:
    if data.get("tool") != TOOL:
        out.findings.append(
            finding(
                "REPORT_OTHER_VERSION",
                f"made by {data.get('tool')!s:.60}, checked by {TOOL}: its visible content "
                "was not compared with its evidence",
            )
        )
        return
    kind = "pdf" if content.startswith(b"%PDF-") else "html"
    try:
        again = render(data, kind)
    # The data comes from the report under check: whatever it holds that cannot be drawn
    # (a wrong type, an unknown time zone...) is a report that was not drawn from it.
    except Exception:  # noqa: BLE001
        again = None
    if again != content:
        out.findings.append(
            finding(
                "REPORT_CONTENT_MISMATCH",
                "the report's text differs from what its evidence and context give: it was "
                "edited after it was made",
                file=path.name,
            )
        )


def check_signature(content: bytes, path: Path, pub: Path | None, out: ReportCheck) -> None:
    sidecar = Path(str(path) + ".minisig")
    if pub is None:
        out.findings.append(
            finding(
                "REPORT_SIGNATURE_UNCHECKED",
                "no --auditor-pub given: nothing proves who made this report",
            )
        )
        return
    try:
        key = minisign.load_public_key(pub)
    except MalformedError as exc:
        raise UsageError(f"key file {pub}: {exc}") from None
    sig = fsio.read_regular(sidecar, minisign.MAX_FILE_BYTES, "signature", UsageError)
    if sig is None:
        out.findings.append(
            finding("REPORT_SIGNATURE_MISSING", "the report has no signature", file=sidecar.name)
        )
        return
    try:
        minisign.verify_bytes(key, sig, content)
    except FiscalsafeError as exc:
        out.findings.append(
            finding(
                "REPORT_SIGNATURE_INVALID",
                f"the report's signature does not verify with {key.fingerprint}: {exc}",
                file=sidecar.name,
            )
        )


def check_report(path: Path, evidence: Path | None, auditor_pub: Path | None) -> ReportCheck:
    content = _read(path, MAX_REPORT_BYTES, "report")
    out = ReportCheck(report=str(path))
    try:
        data = extract_data(content)
    except MalformedError as exc:
        out.findings.append(finding("REPORT_MALFORMED", str(exc), file=path.name))
        check_signature(content, path, auditor_pub, out)
        return out
    doc = data["document"]
    out.verdict = doc.get("verdict") if isinstance(doc.get("verdict"), str) else None
    auditor = data["context"].get("auditor")
    out.auditor = auditor if isinstance(auditor, str) else None
    check_evidence(data, evidence, out)
    check_content(data, content, path, out)
    check_signature(content, path, auditor_pub, out)
    return out
