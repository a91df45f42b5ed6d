"""Trusted editor keys, passed in by the caller and looked up by key id."""

from __future__ import annotations

from dataclasses import dataclass

from fiscalsafe.crypto import FiscalPublicKey, load_public_key_der


@dataclass(frozen=True)
class TrustedKeys:
    """The editor keys fiscal signatures are checked against.

    ``self_asserted`` is true when the only key came from inside the dossier being
    checked: it proves consistency, not origin, and reports must say so.
    """

    keys: tuple[FiscalPublicKey, ...]
    self_asserted: bool

    def lookup(self, key_id: bytes) -> FiscalPublicKey | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None

    @property
    def fingerprints(self) -> list[str]:
        return [k.fingerprint for k in self.keys]

    def to_der(self) -> tuple[tuple[bytes, ...], bool]:
        """A picklable form, for worker processes."""
        return tuple(k.der for k in self.keys), self.self_asserted

    @classmethod
    def from_der(cls, state: tuple[tuple[bytes, ...], bool]) -> TrustedKeys:
        ders, self_asserted = state
        return cls(tuple(load_public_key_der(d) for d in ders), self_asserted)
