"""The minisign file format's constants and the line, comment and base64 rules shared by
key and signature files."""

from __future__ import annotations

import base64
import binascii
from typing import Final

from fiscalsafe.errors import MalformedError, UsageError
from fiscalsafe.i18n import _

SIG_ALG: Final = b"Ed"
SIG_ALG_PREHASHED: Final = b"ED"
KDF_SCRYPT: Final = b"Sc"
KDF_NONE: Final = b"\x00\x00"
CHK_BLAKE2B: Final = b"B2"

KEY_ID_SIZE: Final = 8
PUBLIC_KEY_SIZE: Final = 32
SEED_SIZE: Final = 32
SECRET_KEY_SIZE: Final = 64
SIGNATURE_SIZE: Final = 64
CHECKSUM_SIZE: Final = 32
SALT_SIZE: Final = 32
PREHASH_SIZE: Final = 64
KEYNUM_SK_SIZE: Final = KEY_ID_SIZE + SECRET_KEY_SIZE + CHECKSUM_SIZE  # 104
PUBLIC_BLOB_SIZE: Final = 2 + KEY_ID_SIZE + PUBLIC_KEY_SIZE  # 42
SECRET_BLOB_SIZE: Final = 2 + 2 + 2 + SALT_SIZE + 8 + 8 + KEYNUM_SK_SIZE  # 158
SIGNATURE_BLOB_SIZE: Final = 2 + KEY_ID_SIZE + SIGNATURE_SIZE  # 74

#: minisign's own defaults (libsodium's scryptsalsa208sha256 "sensitive" limits: 1 GiB).
DEFAULT_OPSLIMIT: Final = 33_554_432
DEFAULT_MEMLIMIT: Final = 1_073_741_824
#: Refuse to run scrypt with more than this, whatever an untrusted key file declares:
#: a forged file must not be able to make us allocate 2**60 bytes or spin for hours.
MAX_OPSLIMIT: Final = 4 * DEFAULT_OPSLIMIT
MAX_MEMLIMIT: Final = DEFAULT_MEMLIMIT

#: Cap on any key or signature file we parse: real ones are under 1 KiB, plus at most
#: 8 KiB of trusted comment for signatures.
MAX_FILE_BYTES: Final = 64 * 1024

UNTRUSTED_PREFIX: Final = "untrusted comment: "
TRUSTED_PREFIX: Final = "trusted comment: "
#: minisign reads each line with a fixed-size ``fgets`` buffer (1024 bytes for the
#: untrusted comment line, 8192 for the trusted comment line, terminator included). A
#: longer line is split and the file no longer parses, so we refuse to *write* one.
MAX_UNTRUSTED_COMMENT_BYTES: Final = 1024 - len(UNTRUSTED_PREFIX) - 2
MAX_TRUSTED_COMMENT_BYTES: Final = 8192 - len(TRUSTED_PREFIX) - 2
#: minisign reads passphrases into a 1024-byte buffer.
MAX_PASSPHRASE_BYTES: Final = 1023

DEFAULT_SIGNATURE_COMMENT: Final = "signature from fiscalsafe secret key"
DEFAULT_ENCRYPTED_SECRET_COMMENT: Final = "fiscalsafe encrypted secret key"
DEFAULT_UNENCRYPTED_SECRET_COMMENT: Final = "fiscalsafe unencrypted secret key"


def fingerprint_of(key_id: bytes) -> str:
    # minisign loads the key id as a little-endian uint64 and prints it in hex.
    return key_id[::-1].hex().upper()


def check_comment(comment: str, what: str, max_bytes: int) -> bytes:
    """Encode a comment we are about to write, refusing what minisign could not read back.

    ``what`` names the comment (or, below, the file) in the reader's language."""
    if any(c in comment for c in "\r\n\x00"):
        raise UsageError(
            _(
                "{what} must be a single line without NUL: {comment}",
                what=what,
                comment=repr(comment),
            )
        )
    raw = comment.encode("utf-8")
    if len(raw) > max_bytes:
        raise UsageError(
            _(
                "{what} is {size} bytes long, minisign reads at most {limit}",
                what=what,
                size=len(raw),
                limit=max_bytes,
            )
        )
    return raw


def b64decode_exact(line: bytes, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(_("{what}: invalid base64 ({error})", what=what, error=exc)) from None
    if len(raw) != size:
        raise MalformedError(
            _(
                "{what}: {size} bytes once decoded, expected {expected}",
                what=what,
                size=len(raw),
                expected=size,
            )
        )
    return raw


def split_lines(data: bytes, count: int, what: str) -> list[bytes]:
    """Return the first ``count`` lines of ``data``; only blank lines may follow them.

    Accepts CRLF endings (minisign trims ``\\r``) but no other ``\\r`` and no NUL, because
    minisign's C strings would silently cut a line there and we would disagree on what
    was signed.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UsageError(
            _("{what}: expected bytes, got {type}", what=what, type=type(data).__name__)
        )
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise MalformedError(
            _(
                "{what}: {size} bytes, more than the {limit} cap",
                what=what,
                size=len(data),
                limit=MAX_FILE_BYTES,
            )
        )
    parts = data.split(b"\n")
    lines = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    if len(lines) < count:
        raise MalformedError(
            _("{what}: {found} line(s), expected {count}", what=what, found=len(lines), count=count)
        )
    for i, line in enumerate(lines):
        if b"\r" in line or b"\x00" in line:
            raise MalformedError(
                _("{what}: stray carriage return or NUL on line {line}", what=what, line=i + 1)
            )
    if any(line.strip() for line in lines[count:]):
        raise MalformedError(
            _("{what}: unexpected content after line {count}", what=what, count=count)
        )
    return lines[:count]


def read_comment(line: bytes, prefix: str, what: str) -> str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError(_("{what}: comment line is not UTF-8", what=what)) from None
    if not text.startswith(prefix):
        raise MalformedError(
            _("{what}: line should start with {prefix}", what=what, prefix=repr(prefix))
        )
    return text[len(prefix) :]
