"""Findings: every problem fiscalsafe reports, with a stable code.

A finding says what is wrong (``code``), how bad it is (``severity``), where (file, record
sequence, byte offset) and what was expected versus found. Codes are a contract: scripts
match on them, so a code is never renamed or reused. The table lives in ``codes.py`` and
is documented in ``schemas/findings.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fiscalsafe.verify.codes import CODES


class Severity(StrEnum):
    ERROR = "error"  # the evidence is not proven: exit 1
    WARNING = "warning"  # proven, but someone should look: exit 0
    INFO = "info"  # context for the reader: exit 0


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    file: str | None = None
    record: int | None = None
    offset: int | None = None
    expected: Any = None
    found: Any = None
    severity: Severity = field(default=Severity.ERROR)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"code": self.code, "severity": str(self.severity)}
        doc["message"] = self.message
        for name in ("file", "record", "offset", "expected", "found"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = value if isinstance(value, str | int | float | bool) else str(value)
        return doc


def finding(code: str, message: str, **where: Any) -> Finding:
    """Build a finding whose severity comes from the code table."""
    try:
        severity = Severity(CODES[code][0])
    except KeyError:
        raise ValueError(f"unknown finding code {code!r}; add it to codes.py") from None
    return Finding(code=code, message=message, severity=severity, **where)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
