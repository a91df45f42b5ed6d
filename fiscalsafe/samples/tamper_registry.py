"""The tamper catalogue's registry and what its attackers share: the editor key a sample
holds, a key nobody trusts, and signatures faked without any key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from fiscalsafe.crypto import FiscalSigningKey, derive_signing_key, load_signing_key_pem

TamperFunc = Callable[[Path, dict[str, Path]], str]
TAMPERS: dict[str, tuple[TamperFunc, str]] = {}

#: Seed of the key a forger signs with: a valid P-256 key that no one was told to trust.
ATTACKER_SEED = b"fiscalsafe tamper: a key nobody trusts"


def register(name: str, description: str) -> Callable[[TamperFunc], TamperFunc]:
    """Adds a tamper under ``name``; ``description`` is an ``N_`` text, translated when shown."""

    def add(func: TamperFunc) -> TamperFunc:
        TAMPERS[name] = (func, description)
        return func

    return add


def editor(keys: dict[str, Path]) -> FiscalSigningKey:
    return load_signing_key_pem(keys["editor_secret"].read_bytes())


def attacker() -> FiscalSigningKey:
    return derive_signing_key(ATTACKER_SEED)


def fake_signature(seed: bytes, size: int) -> bytes:
    """What a forger without the key can put in a signature field: garbage of the right size."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]
