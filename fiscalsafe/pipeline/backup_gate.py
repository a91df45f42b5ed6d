"""The fiscal check's verdict as the gate of a backup (step (4) of ``backup.py``)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from fiscalsafe.errors import VerificationError
from fiscalsafe.i18n import _, n_
from fiscalsafe.pipeline.check import PendingCheck
from fiscalsafe.verify.findings import Severity
from fiscalsafe.verify.report import CheckReport


class FindingsRefusal(VerificationError):
    """The fiscal check failed and --allow-findings was not given; nothing was written."""

    def __init__(self, message: str, report: CheckReport):
        super().__init__(message)
        self.report = report


ROLLBACK_CODES = ("JOURNAL_ROLLBACK", "ARCHIVE_ROLLBACK")


class CheckGate:
    """The fiscal check's verdict, as the gate of a backup.

    ``poll`` is cheap and runs while packaging: once the check is over, a failed one
    stops the backup at once instead of after the whole dossier is written. ``verdict``
    waits for the check; it raises ``FindingsRefusal`` unless the check passed or
    findings are allowed."""

    def __init__(
        self,
        pending: PendingCheck,
        dossier_id: str,
        allow_findings: bool,
        on_report: Callable[[CheckReport], None] | None,
    ):
        self._pending = pending
        self._dossier_id = dossier_id
        self._allow_findings = allow_findings
        self._on_report = on_report
        self._report: CheckReport | None = None
        self._polls = 0

    def done(self) -> bool:
        return self._report is not None or self._pending.done()

    def packaged(self, relpath: str, sha256: Future) -> None:
        """The future SHA-256 (hex) of a packaged file: it confirms a remembered proof."""
        self._pending.packaged(relpath, sha256)

    def poll(self) -> None:
        self._polls += 1
        if self._report is None and self._polls % 16 == 0 and self._pending.done():
            self.verdict()

    def verdict(self) -> CheckReport:
        if self._report is not None:
            return self._report
        report = self._pending.result()
        rollback = [f for f in report.findings if f.code in ROLLBACK_CODES]
        if rollback:
            # Never overridable: replacing a newer backup with an older history would
            # destroy the only copy of the newer one.
            raise FindingsRefusal(
                _(
                    "dossier {dossier} is older than a history already proven ({why}); "
                    "nothing was written and the backups already on the medium are "
                    "untouched. If this is a deliberate restore of an old state, back it up "
                    "to another medium or under another --name",
                    dossier=self._dossier_id,
                    why=rollback[0].message,
                ),
                report,
            )
        if not report.ok and not self._allow_findings:
            counts = report.counts()
            codes = sorted({f.code for f in report.findings if f.severity is Severity.ERROR})
            why = (
                n_(
                    "{n} error: {codes}",
                    "{n} errors: {codes}",
                    counts["error"],
                    codes=", ".join(codes[:8]),
                )
                if codes
                else _(
                    "the editor key is self-asserted (pass --trust, or put the editor's key "
                    "in the trust folder)"
                )
            )
            raise FindingsRefusal(
                _(
                    "dossier {dossier} failed the fiscal check ({why}); no backup was "
                    "written. Run 'fiscalsafe check' for details, or pass --allow-findings "
                    "to back it up anyway with the findings recorded in the signed manifest",
                    dossier=self._dossier_id,
                    why=why,
                ),
                report,
            )
        self._report = report
        if self._on_report:
            self._on_report(report)
        return report
