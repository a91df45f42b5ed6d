"""Verifying minisign signatures: over a file's BLAKE2b-512 digest (or, for legacy ``Ed``
signatures, the whole file), then the global signature that binds the trusted comment."""

from __future__ import annotations

import hmac

import nacl.exceptions
import nacl.signing

from fiscalsafe.errors import KeyMismatchError, MalformedError, UsageError, VerificationError
from fiscalsafe.i18n import _
from fiscalsafe.minisign.fileformat import PREHASH_SIZE, SIG_ALG, SIG_ALG_PREHASHED
from fiscalsafe.minisign.keys import PublicKey
from fiscalsafe.minisign.signatures import Signature, new_prehash, parse_signature


def _ed25519_verify(public: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public.public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def _key_mismatch(sig: Signature, public: PublicKey) -> KeyMismatchError:
    return KeyMismatchError(
        _(
            "signed by key {found}, expected {expected}",
            found=sig.fingerprint,
            expected=public.fingerprint,
        )
    )


def verify_digest(
    public: PublicKey, sig: Signature, prehash_digest: bytes, message: bytes | None = None
) -> None:
    """Check ``sig`` against a file's BLAKE2b-512 digest, then the trusted comment.

    Legacy ``Ed`` signatures are made over the whole file, so they need ``message``;
    without it they are refused. Raises :class:`VerificationError` on any failure.
    """
    if not hmac.compare_digest(sig.key_id, public.key_id):
        raise _key_mismatch(sig, public)
    if sig.algorithm == SIG_ALG_PREHASHED:
        if len(prehash_digest) != PREHASH_SIZE:
            raise UsageError(_("expected a {size}-byte BLAKE2b-512 digest", size=PREHASH_SIZE))
        signed = prehash_digest
    elif sig.algorithm == SIG_ALG:
        if message is None:
            raise VerificationError(
                _(
                    "legacy (non-prehashed 'Ed') signature: it can only be checked against the "
                    "whole file, not a digest"
                )
            )
        signed = message
    else:
        raise MalformedError(
            _("signature: unsupported signature algorithm {algorithm}", algorithm=sig.algorithm)
        )
    if not _ed25519_verify(public, bytes(signed), sig.signature):
        raise VerificationError(
            _(
                "bad signature: the data does not match the signature by key {key}",
                key=sig.fingerprint,
            )
        )
    # Same order as minisign: the global signature binds the trusted comment to `sig`.
    if not _ed25519_verify(
        public, sig.signature + sig.trusted_comment.encode(), sig.global_signature
    ):
        raise VerificationError(
            _(
                "bad global signature: the trusted comment was altered (key {key})",
                key=sig.fingerprint,
            )
        )


def verify_trusted_comment(public: PublicKey, sig: Signature) -> None:
    """Check only that ``public`` signed ``sig``'s trusted comment (its global signature).

    This authenticates what a signature *claims* (file name, dates...) without reading the
    file it covers; the file itself still needs :func:`verify_digest`.
    """
    if not hmac.compare_digest(sig.key_id, public.key_id):
        raise _key_mismatch(sig, public)
    if not _ed25519_verify(
        public, sig.signature + sig.trusted_comment.encode(), sig.global_signature
    ):
        raise VerificationError(_("bad global signature: the trusted comment was altered"))


def verify_bytes(public: PublicKey, sig_file_bytes: bytes, data: bytes) -> Signature:
    """Parse a ``.minisig`` file and verify it against ``data``; returns the signature."""
    sig = parse_signature(sig_file_bytes)
    hasher = new_prehash()
    hasher.update(data)
    verify_digest(public, sig, hasher.digest(), message=data)
    return sig
