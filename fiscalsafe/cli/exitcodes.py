"""The exit-code table: one place maps outcomes and error families to codes (README)."""

from __future__ import annotations

from fiscalsafe.errors import (
    FiscalsafeError,
    MalformedError,
    OperationalError,
    UsageError,
    VerificationError,
)

OK = 0  # everything proven
FINDINGS = 1  # ran to the end; at least one error finding (or the input is bad)
USAGE = 2  # bad command line, missing key or file named by the user
OPERATIONAL = 3  # I/O error, locked dossier, no space, interrupted


def for_error(exc: BaseException) -> int:
    if isinstance(exc, UsageError):
        return USAGE
    if isinstance(exc, OperationalError | OSError | KeyboardInterrupt):
        return OPERATIONAL
    if isinstance(exc, MalformedError | VerificationError | FiscalsafeError):
        return FINDINGS
    return OPERATIONAL
