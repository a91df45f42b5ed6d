"""Minisign signature files: making them (prehashed ``ED`` signatures) and parsing them."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from fiscalsafe.errors import MalformedError, UsageError
from fiscalsafe.i18n import _
from fiscalsafe.minisign.fileformat import (
    DEFAULT_SIGNATURE_COMMENT,
    MAX_TRUSTED_COMMENT_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    PREHASH_SIZE,
    SIG_ALG,
    SIG_ALG_PREHASHED,
    SIGNATURE_BLOB_SIZE,
    SIGNATURE_SIZE,
    TRUSTED_PREFIX,
    UNTRUSTED_PREFIX,
    b64decode_exact,
    check_comment,
    fingerprint_of,
    read_comment,
    split_lines,
)
from fiscalsafe.minisign.keys import SecretKey


@dataclass(frozen=True)
class Signature:
    """A parsed minisign signature file."""

    algorithm: bytes  # b"ED" (prehashed with BLAKE2b-512) or b"Ed" (legacy, whole file)
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes
    untrusted_comment: str

    @property
    def fingerprint(self) -> str:
        """The signer's key id as minisign displays it."""
        return fingerprint_of(self.key_id)

    @property
    def prehashed(self) -> bool:
        """True for the modern ``ED`` signatures, made over BLAKE2b-512 of the file."""
        return self.algorithm == SIG_ALG_PREHASHED


def new_prehash() -> hashlib.blake2b:
    """A BLAKE2b-512 hasher: feed it the file, pass ``.digest()`` to sign/verify."""
    return hashlib.blake2b(digest_size=PREHASH_SIZE)


def sign_stream(
    secret: SecretKey,
    hasher_digest: bytes,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_SIGNATURE_COMMENT,
) -> bytes:
    """A ``.minisig`` file for a file whose BLAKE2b-512 digest is ``hasher_digest``.

    Taking the digest rather than the data lets callers hash a file while writing it.
    """
    if len(hasher_digest) != PREHASH_SIZE:
        raise UsageError(_("expected a {size}-byte BLAKE2b-512 digest", size=PREHASH_SIZE))
    tc = check_comment(trusted_comment, _("trusted comment"), MAX_TRUSTED_COMMENT_BYTES)
    uc = check_comment(untrusted_comment, _("untrusted comment"), MAX_UNTRUSTED_COMMENT_BYTES)
    key = secret.signing_key
    sig = key.sign(bytes(hasher_digest)).signature
    global_sig = key.sign(sig + tc).signature
    return b"".join(
        [
            UNTRUSTED_PREFIX.encode(),
            uc,
            b"\n",
            base64.b64encode(SIG_ALG_PREHASHED + secret.key_id + sig),
            b"\n",
            TRUSTED_PREFIX.encode(),
            tc,
            b"\n",
            base64.b64encode(global_sig),
            b"\n",
        ]
    )


def sign_bytes(
    secret: SecretKey,
    data: bytes,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_SIGNATURE_COMMENT,
) -> bytes:
    """A ``.minisig`` file (prehashed ``ED`` signature) for ``data``."""
    hasher = new_prehash()
    hasher.update(data)
    return sign_stream(secret, hasher.digest(), trusted_comment, untrusted_comment)


class Signer:
    """Incremental signing: ``update()`` with the file's bytes, then ``finish()``."""

    def __init__(self, secret: SecretKey) -> None:
        self._secret = secret
        self._hasher = new_prehash()

    def update(self, data: bytes) -> None:
        """Feed the next chunk of the signed file."""
        self._hasher.update(data)

    def finish(
        self, trusted_comment: str, untrusted_comment: str = DEFAULT_SIGNATURE_COMMENT
    ) -> bytes:
        """The ``.minisig`` file for everything fed so far."""
        return sign_stream(self._secret, self._hasher.digest(), trusted_comment, untrusted_comment)


def parse_signature(data: bytes) -> Signature:
    """Parse a ``.minisig`` file (structure only: nothing is verified here)."""
    what = _("signature file")
    uc_line, sig_line, tc_line, global_line = split_lines(data, 4, what)
    untrusted = read_comment(uc_line, UNTRUSTED_PREFIX, what)
    blob = b64decode_exact(sig_line.strip(), SIGNATURE_BLOB_SIZE, _("signature"))
    trusted = read_comment(tc_line, TRUSTED_PREFIX, what)
    global_sig = b64decode_exact(global_line.strip(), SIGNATURE_SIZE, _("global signature"))
    algorithm = blob[:2]
    if algorithm not in (SIG_ALG_PREHASHED, SIG_ALG):
        raise MalformedError(
            _("signature: unsupported signature algorithm {algorithm}", algorithm=algorithm)
        )
    return Signature(
        algorithm=algorithm,
        key_id=blob[2:10],
        signature=blob[10:],
        trusted_comment=trusted,
        global_signature=global_sig,
        untrusted_comment=untrusted,
    )
