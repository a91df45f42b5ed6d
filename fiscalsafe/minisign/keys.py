"""Minisign key files: public keys, secret keys (optionally scrypt-encrypted), loading
them from disk and generating new ones."""

from __future__ import annotations

import base64
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
from fiscalsafe.errors import MalformedError, OperationalError, UsageError
from fiscalsafe.i18n import _
from fiscalsafe.minisign.fileformat import (
    CHECKSUM_SIZE,
    CHK_BLAKE2B,
    DEFAULT_ENCRYPTED_SECRET_COMMENT,
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    DEFAULT_UNENCRYPTED_SECRET_COMMENT,
    KDF_NONE,
    KDF_SCRYPT,
    KEY_ID_SIZE,
    KEYNUM_SK_SIZE,
    MAX_FILE_BYTES,
    MAX_MEMLIMIT,
    MAX_OPSLIMIT,
    MAX_PASSPHRASE_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    PUBLIC_BLOB_SIZE,
    PUBLIC_KEY_SIZE,
    SALT_SIZE,
    SECRET_BLOB_SIZE,
    SEED_SIZE,
    SIG_ALG,
    UNTRUSTED_PREFIX,
    b64decode_exact,
    check_comment,
    fingerprint_of,
    read_comment,
    split_lines,
)

# Personalisation of the BLAKE2b that derives a key id from a fixed seed (16 bytes max).
_KEY_ID_PERSON: Final = b"fiscalsafe-keyid"


class PassphraseRequiredError(UsageError):
    """The secret key file is encrypted and no passphrase was given."""


class WrongPassphraseError(UsageError):
    """The decrypted secret key fails its checksum: wrong passphrase (or a damaged file)."""


def _checksum(key_id: bytes, secret_key: bytes) -> bytes:
    return hashlib.blake2b(SIG_ALG + key_id + secret_key, digest_size=CHECKSUM_SIZE).digest()


def _scrypt_stream(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    """The 104-byte stream that minisign XORs over ``key_id || sk || checksum``."""
    try:
        return nacl.pwhash.scrypt.kdf(
            KEYNUM_SK_SIZE, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
        )
    except (nacl.exceptions.CryptoError, ValueError, MemoryError) as exc:
        raise MalformedError(
            _(
                "cannot derive the key stream with opslimit={opslimit} memlimit={memlimit}: "
                "{error}",
                opslimit=opslimit,
                memlimit=memlimit,
                error=exc,
            )
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
                _(
                    "a public key needs a {id_size}-byte key id and {key_size} bytes",
                    id_size=KEY_ID_SIZE,
                    key_size=PUBLIC_KEY_SIZE,
                )
            )

    @property
    def fingerprint(self) -> str:
        """The key id as minisign displays it: 16 uppercase hex digits, little-endian."""
        return fingerprint_of(self.key_id)

    def to_string(self) -> str:
        """The base64 line, as given to ``minisign -P``."""
        return base64.b64encode(SIG_ALG + self.key_id + self.public_key).decode("ascii")

    def to_file_bytes(self, comment: str | None = None) -> bytes:
        """The content of a ``.pub`` file (default comment: minisign's own)."""
        if comment is None:
            comment = f"minisign public key {self.fingerprint}"
        raw = check_comment(comment, _("public key comment"), MAX_UNTRUSTED_COMMENT_BYTES)
        return UNTRUSTED_PREFIX.encode() + raw + b"\n" + self.to_string().encode() + b"\n"

    @classmethod
    def from_string(cls, b64: str | bytes) -> PublicKey:
        """Parse the base64 form of a public key (what ``minisign -P`` takes)."""
        if isinstance(b64, str):
            try:
                b64 = b64.encode("ascii")
            except UnicodeEncodeError:
                raise MalformedError(_("public key: not base64 (non-ASCII characters)")) from None
        if len(b64) > MAX_FILE_BYTES:
            raise MalformedError(_("public key: far too long"))
        blob = b64decode_exact(b64.strip(), PUBLIC_BLOB_SIZE, _("public key"))
        if blob[:2] != SIG_ALG:
            raise MalformedError(
                _("public key: unsupported signature algorithm {algorithm}", algorithm=blob[:2])
            )
        return cls(key_id=blob[2:10], public_key=blob[10:])

    @classmethod
    def from_file_bytes(cls, data: bytes) -> PublicKey:
        """Parse the content of a minisign ``.pub`` file."""
        what = _("public key file")
        comment_line, key_line = split_lines(data, 2, what)
        read_comment(comment_line, UNTRUSTED_PREFIX, what)
        return cls.from_string(key_line)


@dataclass(frozen=True)
class SecretKey:
    """A minisign secret key: key id and the 32-byte Ed25519 seed (never in ``repr``)."""

    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_SIZE or len(self.seed) != SEED_SIZE:
            raise UsageError(
                _("a secret key needs a {size}-byte key id and a 32-byte seed", size=KEY_ID_SIZE)
            )

    @property
    def fingerprint(self) -> str:
        """The key id as minisign displays it."""
        return fingerprint_of(self.key_id)

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
                    _(
                        "the passphrase must be 1 to 1023 bytes on one line "
                        "(use None for an unencrypted key)"
                    )
                )
            if not (0 < opslimit <= MAX_OPSLIMIT and 0 < memlimit <= MAX_MEMLIMIT):
                raise UsageError(
                    _(
                        "opslimit must be in 1..{opslimit}, memlimit in 1..{memlimit}",
                        opslimit=MAX_OPSLIMIT,
                        memlimit=MAX_MEMLIMIT,
                    )
                )
            if salt is None:
                salt = secrets.token_bytes(SALT_SIZE)
            elif len(salt) != SALT_SIZE:
                raise UsageError(_("the salt must be {size} bytes", size=SALT_SIZE))
            limits = struct.pack("<QQ", opslimit, memlimit)
            header = SIG_ALG + KDF_SCRYPT + CHK_BLAKE2B + salt + limits
            try:
                payload = _xor(keynum_sk, _scrypt_stream(passphrase, salt, opslimit, memlimit))
            except MalformedError as exc:  # our own parameters: the caller's mistake
                raise UsageError(str(exc)) from None
            if comment is None:
                comment = DEFAULT_ENCRYPTED_SECRET_COMMENT
        raw = check_comment(comment, _("secret key comment"), MAX_UNTRUSTED_COMMENT_BYTES)
        blob = base64.b64encode(header + payload)
        return UNTRUSTED_PREFIX.encode() + raw + b"\n" + blob + b"\n"

    @classmethod
    def from_file_bytes(cls, data: bytes, passphrase: str | None) -> SecretKey:
        """Parse (and decrypt if needed) the content of a minisign secret key file.

        Raises :class:`PassphraseRequiredError` if the key is encrypted and ``passphrase``
        is None, :class:`WrongPassphraseError` if the decrypted checksum does not match.
        A passphrase given for an unencrypted key is ignored.
        """
        what = _("secret key file")
        comment_line, key_line = split_lines(data, 2, what)
        read_comment(comment_line, UNTRUSTED_PREFIX, what)
        blob = b64decode_exact(key_line.strip(), SECRET_BLOB_SIZE, _("secret key"))
        sig_alg, kdf_alg, chk_alg = blob[0:2], blob[2:4], blob[4:6]
        salt = blob[6:38]
        opslimit, memlimit = struct.unpack("<QQ", blob[38:54])
        payload = blob[54:]
        if sig_alg != SIG_ALG:
            raise MalformedError(
                _("secret key: unsupported signature algorithm {algorithm}", algorithm=sig_alg)
            )
        if chk_alg != CHK_BLAKE2B:
            raise MalformedError(
                _("secret key: unsupported checksum algorithm {algorithm}", algorithm=chk_alg)
            )
        if kdf_alg == KDF_SCRYPT:
            if passphrase is None:
                raise PassphraseRequiredError(
                    _("this secret key is encrypted: a passphrase is needed")
                )
            if opslimit > MAX_OPSLIMIT or memlimit > MAX_MEMLIMIT:
                raise MalformedError(
                    _(
                        "secret key: scrypt limits opslimit={opslimit} memlimit={memlimit} "
                        "exceed the caps ({max_opslimit}, {max_memlimit})",
                        opslimit=opslimit,
                        memlimit=memlimit,
                        max_opslimit=MAX_OPSLIMIT,
                        max_memlimit=MAX_MEMLIMIT,
                    )
                )
            payload = _xor(payload, _scrypt_stream(passphrase, salt, opslimit, memlimit))
        elif kdf_alg != KDF_NONE:
            raise MalformedError(
                _("secret key: unsupported key derivation function {kdf}", kdf=kdf_alg)
            )
        key_id, sk, chk = payload[:8], payload[8:72], payload[72:]
        if not hmac.compare_digest(chk, _checksum(key_id, sk)):
            if kdf_alg == KDF_SCRYPT:
                raise WrongPassphraseError(
                    _("wrong passphrase for this secret key (or the key file is damaged)")
                )
            # minisign 0.11 -G -W leaves the checksum of unencrypted keys all zero.
            if chk != bytes(CHECKSUM_SIZE):
                raise MalformedError(_("secret key: checksum mismatch, the key file is damaged"))
        secret = cls(key_id=key_id, seed=sk[:SEED_SIZE])
        # The second half of libsodium's secret key is the public key: if it disagrees
        # with the seed, signatures would not verify against the published key.
        if not hmac.compare_digest(secret.public_key().public_key, sk[SEED_SIZE:]):
            raise MalformedError(_("secret key: the embedded public key does not match the seed"))
        return secret


def generate_keypair(seed: bytes | None = None) -> SecretKey:
    """A new secret key (its public key is ``.public_key()``).

    Random unless ``seed`` (32 bytes) is given; then the key id is derived from the seed
    as well, so a fixed seed gives the same key files every time (test fixtures).
    """
    if seed is None:
        return SecretKey(key_id=secrets.token_bytes(KEY_ID_SIZE), seed=secrets.token_bytes(32))
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise UsageError(_("the seed must be {size} bytes", size=SEED_SIZE))
    key_id = hashlib.blake2b(seed, digest_size=KEY_ID_SIZE, person=_KEY_ID_PERSON).digest()
    return SecretKey(key_id=key_id, seed=seed)


def _read_capped(path: str | os.PathLike[str], what: str) -> bytes:
    # A key is read as a regular file only: a FIFO or device would block or never end.
    try:
        fh = fsio.open_regular(Path(path), what, UsageError)
    except (UsageError, OperationalError) as exc:
        raise UsageError(_("cannot read {error}", error=exc)) from None
    if fh is None:
        raise UsageError(
            _(
                "cannot read {what} {path}: No such file or directory",
                what=what,
                path=repr(os.fspath(path)),
            )
        )
    with fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise MalformedError(
            _(
                "{what} {path} is larger than {limit} bytes",
                what=what,
                path=repr(os.fspath(path)),
                limit=MAX_FILE_BYTES,
            )
        )
    return data


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read a minisign ``.pub`` file."""
    return PublicKey.from_file_bytes(_read_capped(path, _("public key file")))


def load_secret_key(path: str | os.PathLike[str], passphrase: str | None) -> SecretKey:
    """Read (and decrypt) a minisign secret key file."""
    return SecretKey.from_file_bytes(_read_capped(path, _("secret key file")), passphrase)
