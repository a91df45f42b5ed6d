"""The error families of fiscalsafe.

Imports nothing of fiscalsafe. Four families, so that callers (and the CLI's exit-code
table) can tell them apart:

- ``MalformedError``: bytes that do not parse as the format they claim to be;
- ``VerificationError``: well-formed data that fails a signature, digest or policy check;
- ``OperationalError``: the storage or the environment failed us (I/O, space, locks);
- ``UsageError``: the caller asked for something impossible (bad option, missing key).
"""

from __future__ import annotations


class FiscalsafeError(Exception):
    """Base class of every error fiscalsafe raises on purpose."""


class MalformedError(FiscalsafeError):
    """Untrusted bytes did not decode as the format they claim to be."""


class UnsupportedVersionError(MalformedError):
    """A document carries a major format version this fiscalsafe does not know."""


class TruncatedError(MalformedError):
    """The bytes stop before the end the format announces (a cut stream or file)."""


class VerificationError(FiscalsafeError):
    """Well-formed data failed a signature, digest, chain or policy check."""


class KeyMismatchError(VerificationError):
    """A signature was made by another key than the one it is checked against."""


class WeakAlgorithmError(VerificationError):
    """An algorithm refused by the policy (SHA-1, MD5, RSA < 2048 bits...)."""


class OperationalError(FiscalsafeError):
    """The environment failed: I/O error, no space, locked dossier, interruption."""


class UsageError(FiscalsafeError):
    """The caller asked for something impossible: bad option, missing key file..."""
