"""Minisign key and signature files (Ed25519), byte-compatible with the stock ``minisign``.

Backups are signed with minisign so that anyone can check them with the stock tool, years
later, without fiscalsafe. This module implements the file formats only (no CLI):

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

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import nacl.exceptions
import nacl.pwhash.scrypt
import nacl.signing

from fiscalsafe import fsio
from fiscalsafe.errors import (
    KeyMismatchError,
    MalformedError,
    OperationalError,
    UsageError,
    VerificationError,
)

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
_KEYNUM_SK_SIZE: Final = KEY_ID_SIZE + SECRET_KEY_SIZE + CHECKSUM_SIZE  # 104
_PUBLIC_BLOB_SIZE: Final = 2 + KEY_ID_SIZE + PUBLIC_KEY_SIZE  # 42
_SECRET_BLOB_SIZE: Final = 2 + 2 + 2 + SALT_SIZE + 8 + 8 + _KEYNUM_SK_SIZE  # 158
_SIGNATURE_BLOB_SIZE: Final = 2 + KEY_ID_SIZE + SIGNATURE_SIZE  # 74

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

# Personalisation of the BLAKE2b that derives a key id from a fixed seed (16 bytes max).
_KEY_ID_PERSON: Final = b"fiscalsafe-keyid"


class PassphraseRequiredError(UsageError):
    """The secret key file is encrypted and no passphrase was given."""


class WrongPassphraseError(UsageError):
    """The decrypted secret key fails its checksum: wrong passphrase (or a damaged file)."""


def _fingerprint(key_id: bytes) -> str:
    # minisign loads the key id as a little-endian uint64 and prints it in hex.
    return key_id[::-1].hex().upper()


def _check_comment(comment: str, what: str, max_bytes: int) -> bytes:
    """Encode a comment we are about to write, refusing what minisign could not read back."""
    if any(c in comment for c in "\r\n\x00"):
        raise UsageError(f"{what} must be a single line without NUL: {comment!r}")
    raw = comment.encode("utf-8")
    if len(raw) > max_bytes:
        raise UsageError(f"{what} is {len(raw)} bytes long, minisign reads at most {max_bytes}")
    return raw


def _b64decode(line: bytes, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what}: invalid base64 ({exc})") from None
    if len(raw) != size:
        raise MalformedError(f"{what}: {len(raw)} bytes once decoded, expected {size}")
    return raw


def _split_lines(data: bytes, count: int, what: str) -> list[bytes]:
    """Return the first ``count`` lines of ``data``; only blank lines may follow them.

    Accepts CRLF endings (minisign trims ``\\r``) but no other ``\\r`` and no NUL, because
    minisign's C strings would silently cut a line there and we would disagree on what
    was signed.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UsageError(f"{what}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise MalformedError(f"{what}: {len(data)} bytes, more than the {MAX_FILE_BYTES} cap")
    parts = data.split(b"\n")
    lines = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    if len(lines) < count:
        raise MalformedError(f"{what}: {len(lines)} line(s), expected {count}")
    for i, line in enumerate(lines):
        if b"\r" in line or b"\x00" in line:
            raise MalformedError(f"{what}: stray carriage return or NUL on line {i + 1}")
    if any(line.strip() for line in lines[count:]):
        raise MalformedError(f"{what}: unexpected content after line {count}")
    return lines[:count]


def _comment(line: bytes, prefix: str, what: str) -> str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError(f"{what}: comment line is not UTF-8") from None
    if not text.startswith(prefix):
        raise MalformedError(f"{what}: line should start with {prefix!r}")
    return text[len(prefix) :]


def _checksum(key_id: bytes, secret_key: bytes) -> bytes:
    return hashlib.blake2b(SIG_ALG + key_id + secret_key, digest_size=CHECKSUM_SIZE).digest()


def _scrypt_stream(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    """The 104-byte stream that minisign XORs over ``key_id || sk || checksum``."""
    try:
        return nacl.pwhash.scrypt.kdf(
            _KEYNUM_SK_SIZE, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
        )
    except (nacl.exceptions.CryptoError, ValueError, MemoryError) as exc:
        raise MalformedError(
            f"cannot derive the key stream with opslimit={opslimit} memlimit={memlimit}: {exc}"
        ) from None


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class PublicKey:
    """A minisign public key: an 8-byte key id and a raw Ed25519 public key."""

    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_SIZE or len(self.public_key) != PUBLIC_KEY_SIZE:
            raise UsageError(
                f"a public key needs a {KEY_ID_SIZE}-byte key id and {PUBLIC_KEY_SIZE} bytes"
            )

    @property
    def fingerprint(self) -> str:
        """The key id as minisign displays it: 16 uppercase hex digits, little-endian."""
        return _fingerprint(self.key_id)

    def to_string(self) -> str:
        """The base64 line, as given to ``minisign -P``."""
        return base64.b64encode(SIG_ALG + self.key_id + self.public_key).decode("ascii")

    def to_file_bytes(self, comment: str | None = None) -> bytes:
        """The content of a ``.pub`` file (default comment: minisign's own)."""
        if comment is None:
            comment = f"minisign public key {self.fingerprint}"
        raw = _check_comment(comment, "public key comment", MAX_UNTRUSTED_COMMENT_BYTES)
        return UNTRUSTED_PREFIX.encode() + raw + b"\n" + self.to_string().encode() + b"\n"

    @classmethod
    def from_string(cls, b64: str | bytes) -> PublicKey:
        """Parse the base64 form of a public key (what ``minisign -P`` takes)."""
        if isinstance(b64, str):
            try:
                b64 = b64.encode("ascii")
            except UnicodeEncodeError:
                raise MalformedError("public key: not base64 (non-ASCII characters)") from None
        if len(b64) > MAX_FILE_BYTES:
            raise MalformedError("public key: far too long")
        blob = _b64decode(b64.strip(), _PUBLIC_BLOB_SIZE, "public key")
        if blob[:2] != SIG_ALG:
            raise MalformedError(f"public key: unsupported signature algorithm {blob[:2]!r}")
        return cls(key_id=blob[2:10], public_key=blob[10:])

    @classmethod
    def from_file_bytes(cls, data: bytes) -> PublicKey:
        """Parse the content of a minisign ``.pub`` file."""
        comment_line, key_line = _split_lines(data, 2, "public key file")
        _comment(comment_line, UNTRUSTED_PREFIX, "public key file")
        return cls.from_string(key_line)


@dataclass(frozen=True)
class SecretKey:
    """A minisign secret key: key id and the 32-byte Ed25519 seed (never in ``repr``)."""

    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_SIZE or len(self.seed) != SEED_SIZE:
            raise UsageError(f"a secret key needs a {KEY_ID_SIZE}-byte key id and a 32-byte seed")

    @property
    def fingerprint(self) -> str:
        """The key id as minisign displays it."""
        return _fingerprint(self.key_id)

    @property
    def signing_key(self) -> nacl.signing.SigningKey:
        """The PyNaCl signing key (derived on demand, so nothing else holds the seed)."""
        return nacl.signing.SigningKey(self.seed)

    def public_key(self) -> PublicKey:
        """The matching public key."""
        return PublicKey(self.key_id, bytes(self.signing_key.verify_key))

    def to_file_bytes(
        self,
        passphrase: str | None,
        comment: str | None = None,
        opslimit: int = DEFAULT_OPSLIMIT,
        memlimit: int = DEFAULT_MEMLIMIT,
        *,
        salt: bytes | None = None,
    ) -> bytes:
        """The content of a minisign secret key file.

        ``passphrase=None`` writes an unencrypted key (what ``minisign -G -W`` writes).
        Otherwise the key is encrypted with scrypt at ``opslimit``/``memlimit``, which are
        stored in the file; the defaults are minisign's (1 GiB, a few seconds). ``salt`` is
        random unless given, which only reproducible test fixtures should do.
        """
        pk = self.public_key().public_key
        sk = self.seed + pk  # libsodium's 64-byte secret key layout
        keynum_sk = self.key_id + sk + _checksum(self.key_id, sk)
        if passphrase is None:
            # Same layout as minisign 0.11 -W: zero salt and limits, plaintext payload.
            # Unlike 0.11 (which leaves it zero) we fill the checksum in: it costs nothing
            # and lets a reader detect a damaged file.
            header = SIG_ALG + KDF_NONE + CHK_BLAKE2B + bytes(SALT_SIZE) + bytes(16)
            payload = keynum_sk
            if comment is None:
                comment = DEFAULT_UNENCRYPTED_SECRET_COMMENT
        else:
            pw = passphrase.encode("utf-8")
            if not pw or len(pw) > MAX_PASSPHRASE_BYTES or any(b in pw for b in b"\r\n\x00"):
                raise UsageError(
                    "the passphrase must be 1 to 1023 bytes on one line "
                    "(use None for an unencrypted key)"
                )
            if not (0 < opslimit <= MAX_OPSLIMIT and 0 < memlimit <= MAX_MEMLIMIT):
                raise UsageError(
                    f"opslimit must be in 1..{MAX_OPSLIMIT}, memlimit in 1..{MAX_MEMLIMIT}"
                )
            if salt is None:
                salt = secrets.token_bytes(SALT_SIZE)
            elif len(salt) != SALT_SIZE:
                raise UsageError(f"the salt must be {SALT_SIZE} bytes")
            limits = struct.pack("<QQ", opslimit, memlimit)
            header = SIG_ALG + KDF_SCRYPT + CHK_BLAKE2B + salt + limits
            try:
                payload = _xor(keynum_sk, _scrypt_stream(passphrase, salt, opslimit, memlimit))
            except MalformedError as exc:  # our own parameters: the caller's mistake
                raise UsageError(str(exc)) from None
            if comment is None:
                comment = DEFAULT_ENCRYPTED_SECRET_COMMENT
        raw = _check_comment(comment, "secret key comment", MAX_UNTRUSTED_COMMENT_BYTES)
        blob = base64.b64encode(header + payload)
        return UNTRUSTED_PREFIX.encode() + raw + b"\n" + blob + b"\n"

    @classmethod
    def from_file_bytes(cls, data: bytes, passphrase: str | None) -> SecretKey:
        """Parse (and decrypt if needed) the content of a minisign secret key file.

        Raises :class:`PassphraseRequiredError` if the key is encrypted and ``passphrase``
        is None, :class:`WrongPassphraseError` if the decrypted checksum does not match.
        A passphrase given for an unencrypted key is ignored.
        """
        comment_line, key_line = _split_lines(data, 2, "secret key file")
        _comment(comment_line, UNTRUSTED_PREFIX, "secret key file")
        blob = _b64decode(key_line.strip(), _SECRET_BLOB_SIZE, "secret key")
        sig_alg, kdf_alg, chk_alg = blob[0:2], blob[2:4], blob[4:6]
        salt = blob[6:38]
        opslimit, memlimit = struct.unpack("<QQ", blob[38:54])
        payload = blob[54:]
        if sig_alg != SIG_ALG:
            raise MalformedError(f"secret key: unsupported signature algorithm {sig_alg!r}")
        if chk_alg != CHK_BLAKE2B:
            raise MalformedError(f"secret key: unsupported checksum algorithm {chk_alg!r}")
        if kdf_alg == KDF_SCRYPT:
            if passphrase is None:
                raise PassphraseRequiredError(
                    "this secret key is encrypted: a passphrase is needed"
                )
            if opslimit > MAX_OPSLIMIT or memlimit > MAX_MEMLIMIT:
                raise MalformedError(
                    f"secret key: scrypt limits opslimit={opslimit} memlimit={memlimit} "
                    f"exceed the caps ({MAX_OPSLIMIT}, {MAX_MEMLIMIT})"
                )
            payload = _xor(payload, _scrypt_stream(passphrase, salt, opslimit, memlimit))
        elif kdf_alg != KDF_NONE:
            raise MalformedError(f"secret key: unsupported key derivation function {kdf_alg!r}")
        key_id, sk, chk = payload[:8], payload[8:72], payload[72:]
        if not hmac.compare_digest(chk, _checksum(key_id, sk)):
            if kdf_alg == KDF_SCRYPT:
                raise WrongPassphraseError(
                    "wrong passphrase for this secret key (or the key file is damaged)"
                )
            # minisign 0.11 -G -W leaves the checksum of unencrypted keys all zero.
            if chk != bytes(CHECKSUM_SIZE):
                raise MalformedError("secret key: checksum mismatch, the key file is damaged")
        secret = cls(key_id=key_id, seed=sk[:SEED_SIZE])
        # The second half of libsodium's secret key is the public key: if it disagrees
        # with the seed, signatures would not verify against the published key.
        if not hmac.compare_digest(secret.public_key().public_key, sk[SEED_SIZE:]):
            raise MalformedError("secret key: the embedded public key does not match the seed")
        return secret


def generate_keypair(seed: bytes | None = None) -> SecretKey:
    """A new secret key (its public key is ``.public_key()``).

    Random unless ``seed`` (32 bytes) is given; then the key id is derived from the seed
    as well, so a fixed seed gives the same key files every time (test fixtures).
    """
    if seed is None:
        return SecretKey(key_id=secrets.token_bytes(KEY_ID_SIZE), seed=secrets.token_bytes(32))
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise UsageError(f"the seed must be {SEED_SIZE} bytes")
    key_id = hashlib.blake2b(seed, digest_size=KEY_ID_SIZE, person=_KEY_ID_PERSON).digest()
    return SecretKey(key_id=key_id, seed=seed)


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
        return _fingerprint(self.key_id)

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
        raise UsageError(f"expected a {PREHASH_SIZE}-byte BLAKE2b-512 digest")
    tc = _check_comment(trusted_comment, "trusted comment", MAX_TRUSTED_COMMENT_BYTES)
    uc = _check_comment(untrusted_comment, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES)
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
    what = "signature file"
    uc_line, sig_line, tc_line, global_line = _split_lines(data, 4, what)
    untrusted = _comment(uc_line, UNTRUSTED_PREFIX, what)
    blob = _b64decode(sig_line.strip(), _SIGNATURE_BLOB_SIZE, "signature")
    trusted = _comment(tc_line, TRUSTED_PREFIX, what)
    global_sig = _b64decode(global_line.strip(), SIGNATURE_SIZE, "global signature")
    algorithm = blob[:2]
    if algorithm not in (SIG_ALG_PREHASHED, SIG_ALG):
        raise MalformedError(f"signature: unsupported signature algorithm {algorithm!r}")
    return Signature(
        algorithm=algorithm,
        key_id=blob[2:10],
        signature=blob[10:],
        trusted_comment=trusted,
        global_signature=global_sig,
        untrusted_comment=untrusted,
    )


def _ed25519_verify(public: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public.public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def verify_digest(
    public: PublicKey, sig: Signature, prehash_digest: bytes, message: bytes | None = None
) -> None:
    """Check ``sig`` against a file's BLAKE2b-512 digest, then the trusted comment.

    Legacy ``Ed`` signatures are made over the whole file, so they need ``message``;
    without it they are refused. Raises :class:`VerificationError` on any failure.
    """
    if not hmac.compare_digest(sig.key_id, public.key_id):
        raise KeyMismatchError(f"signed by key {sig.fingerprint}, expected {public.fingerprint}")
    if sig.algorithm == SIG_ALG_PREHASHED:
        if len(prehash_digest) != PREHASH_SIZE:
            raise UsageError(f"expected a {PREHASH_SIZE}-byte BLAKE2b-512 digest")
        signed = prehash_digest
    elif sig.algorithm == SIG_ALG:
        if message is None:
            raise VerificationError(
                "legacy (non-prehashed 'Ed') signature: it can only be checked against the "
                "whole file, not a digest"
            )
        signed = message
    else:
        raise MalformedError(f"signature: unsupported signature algorithm {sig.algorithm!r}")
    if not _ed25519_verify(public, bytes(signed), sig.signature):
        raise VerificationError(
            f"bad signature: the data does not match the signature by key {sig.fingerprint}"
        )
    # Same order as minisign: the global signature binds the trusted comment to `sig`.
    if not _ed25519_verify(
        public, sig.signature + sig.trusted_comment.encode(), sig.global_signature
    ):
        raise VerificationError(
            f"bad global signature: the trusted comment was altered (key {sig.fingerprint})"
        )


def verify_trusted_comment(public: PublicKey, sig: Signature) -> None:
    """Check only that ``public`` signed ``sig``'s trusted comment (its global signature).

    This authenticates what a signature *claims* (file name, dates...) without reading the
    file it covers; the file itself still needs :func:`verify_digest`.
    """
    if not hmac.compare_digest(sig.key_id, public.key_id):
        raise KeyMismatchError(f"signed by key {sig.fingerprint}, expected {public.fingerprint}")
    if not _ed25519_verify(
        public, sig.signature + sig.trusted_comment.encode(), sig.global_signature
    ):
        raise VerificationError("bad global signature: the trusted comment was altered")


def verify_bytes(public: PublicKey, sig_file_bytes: bytes, data: bytes) -> Signature:
    """Parse a ``.minisig`` file and verify it against ``data``; returns the signature."""
    sig = parse_signature(sig_file_bytes)
    hasher = new_prehash()
    hasher.update(data)
    verify_digest(public, sig, hasher.digest(), message=data)
    return sig


def _read_capped(path: str | os.PathLike[str], what: str) -> bytes:
    # A key is read as a regular file only: a FIFO or device would block or never end.
    try:
        fh = fsio.open_regular(Path(path), what, UsageError)
    except (UsageError, OperationalError) as exc:
        raise UsageError(f"cannot read {exc}") from None
    if fh is None:
        raise UsageError(f"cannot read {what} {os.fspath(path)!r}: No such file or directory")
    with fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise MalformedError(f"{what} {os.fspath(path)!r} is larger than {MAX_FILE_BYTES} bytes")
    return data


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read a minisign ``.pub`` file."""
    return PublicKey.from_file_bytes(_read_capped(path, "public key file"))


def load_secret_key(path: str | os.PathLike[str], passphrase: str | None) -> SecretKey:
    """Read (and decrypt) a minisign secret key file."""
    return SecretKey.from_file_bytes(_read_capped(path, "secret key file"), passphrase)
