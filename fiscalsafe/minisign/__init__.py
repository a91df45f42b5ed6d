"""Minisign key and signature files (Ed25519), byte-compatible with the stock ``minisign``.

Backups are signed with minisign so that anyone can check them with the stock tool, years
later, without fiscalsafe. This package implements the file formats only (no CLI):

- public key: ``untrusted comment: ...`` line, then base64 of
  ``"Ed" || key_id[8] || ed25519_pk[32]``;
- secret key: comment line, then base64 of ``"Ed" || kdf_alg[2] || "B2" || salt[32] ||
  opslimit[8 LE] || memlimit[8 LE] || (key_id[8] || sk[64] || checksum[32])``, the last
  104 bytes XOR'ed with a scrypt (crypto_pwhash_scryptsalsa208sha256) stream when
  ``kdf_alg`` is ``"Sc"``; ``kdf_alg`` is two zero bytes for an unencrypted key. The
  checksum is ``BLAKE2b-256("Ed" || key_id || sk)``;
- signature: ``untrusted comment: ...`` line, base64 of ``"ED" || key_id || sig`` where
  ``sig`` is Ed25519 over ``BLAKE2b-512(file)`` (legacy ``"Ed"``: over the file itself),
  ``trusted comment: ...`` line, then base64 of the "global" Ed25519 signature over
  ``sig || trusted_comment``, which is what makes the trusted comment trusted.

Every parser caps its input at :data:`MAX_FILE_BYTES` and raises
:class:`~fiscalsafe.errors.MalformedError` on anything it cannot decode.
"""

from __future__ import annotations

from fiscalsafe.errors import MalformedError, VerificationError
from fiscalsafe.minisign.fileformat import (
    CHECKSUM_SIZE,
    CHK_BLAKE2B,
    DEFAULT_ENCRYPTED_SECRET_COMMENT,
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    DEFAULT_SIGNATURE_COMMENT,
    DEFAULT_UNENCRYPTED_SECRET_COMMENT,
    KDF_NONE,
    KDF_SCRYPT,
    KEY_ID_SIZE,
    MAX_FILE_BYTES,
    MAX_MEMLIMIT,
    MAX_OPSLIMIT,
    MAX_PASSPHRASE_BYTES,
    MAX_TRUSTED_COMMENT_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    PREHASH_SIZE,
    PUBLIC_KEY_SIZE,
    SALT_SIZE,
    SECRET_KEY_SIZE,
    SEED_SIZE,
    SIG_ALG,
    SIG_ALG_PREHASHED,
    SIGNATURE_SIZE,
    TRUSTED_PREFIX,
    UNTRUSTED_PREFIX,
)
from fiscalsafe.minisign.keys import (
    PassphraseRequiredError,
    PublicKey,
    SecretKey,
    WrongPassphraseError,
    _checksum,
    generate_keypair,
    load_public_key,
    load_secret_key,
)
from fiscalsafe.minisign.signatures import (
    Signature,
    Signer,
    new_prehash,
    parse_signature,
    sign_bytes,
    sign_stream,
)
from fiscalsafe.minisign.verification import verify_bytes, verify_digest, verify_trusted_comment

__all__ = [
    "CHECKSUM_SIZE",
    "CHK_BLAKE2B",
    "DEFAULT_ENCRYPTED_SECRET_COMMENT",
    "DEFAULT_MEMLIMIT",
    "DEFAULT_OPSLIMIT",
    "DEFAULT_SIGNATURE_COMMENT",
    "DEFAULT_UNENCRYPTED_SECRET_COMMENT",
    "KDF_NONE",
    "KDF_SCRYPT",
    "KEY_ID_SIZE",
    "MAX_FILE_BYTES",
    "MAX_MEMLIMIT",
    "MAX_OPSLIMIT",
    "MAX_PASSPHRASE_BYTES",
    "MAX_TRUSTED_COMMENT_BYTES",
    "MAX_UNTRUSTED_COMMENT_BYTES",
    "MalformedError",
    "PREHASH_SIZE",
    "PUBLIC_KEY_SIZE",
    "PassphraseRequiredError",
    "PublicKey",
    "SALT_SIZE",
    "SECRET_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "SIG_ALG",
    "SIG_ALG_PREHASHED",
    "SecretKey",
    "Signature",
    "Signer",
    "TRUSTED_PREFIX",
    "UNTRUSTED_PREFIX",
    "VerificationError",
    "WrongPassphraseError",
    "_checksum",
    "generate_keypair",
    "load_public_key",
    "load_secret_key",
    "new_prehash",
    "parse_signature",
    "sign_bytes",
    "sign_stream",
    "verify_bytes",
    "verify_digest",
    "verify_trusted_comment",
]
