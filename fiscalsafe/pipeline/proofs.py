"""Remembered proofs: what a backup proved about each sealed fiscal archive, kept in the
per-dossier state folder, so that the next backup does not check the same signatures again.

One file per dossier beside its state file (``dossiers/<id>.proofs.json``). A record says:
the archive ``file`` whose bytes hash to ``sha256``, checked against the trusted editor
keys ``trust``, by checker version ``checker`` reading archive format ``archive_format``,
in time zone ``tz``, for dossier ``dossier``, proved ``result`` (what the chain, cross-check
and coverage steps need). Each record carries an HMAC-SHA256 under a key derived with
HKDF-SHA256 from the shop's secret key (``HKDF_INFO``): nobody without that key can write
a record that is accepted. A record is used only when it authenticates, parses and matches
all of the above; otherwise the archive is proven in full, and nothing is said but the count.

The same file keeps one record of the event journal, under the same context and key: the
length, SHA-256 and record count of the journal as the last run proved it in full
(``journal_prefix.py``). A journal that starts with those bytes has those records'
signatures taken as verified; what follows is verified in full.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscalsafe import fsio
from fiscalsafe.errors import FiscalsafeError, OperationalError
from fiscalsafe.formats import archive as fa
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.journal_prefix import JournalPrefix
from fiscalsafe.verify.archive_codec import decode_result, encode_result
from fiscalsafe.verify.archives import CHECKER_VERSION, ArchiveResult
from fiscalsafe.verify.trust import TrustedKeys

PROOFS_FORMAT = "fiscalsafe-proofs"
#: 1.1 adds the ``journal`` record; a 1.0 reader ignores it, and a 1.1 reader of a 1.0
#: file finds no journal record and verifies the whole journal.
PROOFS_VERSION = [1, 1]
#: Fixed label of the key derivation: this key authenticates remembered proofs only.
HKDF_INFO = b"fiscalsafe remembered archive proofs v1"
MAX_RECORDS = 2048  # 170 years of monthly archives
MAX_PROOFS_BYTES = 32 * 1024 * 1024


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """HKDF (RFC 5869) with SHA-256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), length, salt or None, info).derive(secret)


@dataclass(frozen=True)
class ProofContext:
    """What a remembered proof must have been made under to be reused."""

    dossier: str
    tz: str
    trust: tuple[str, ...]  # the trusted editor keys' fingerprints, sorted
    checker: int  # CHECKER_VERSION of the run
    archive_format: tuple[int, int]  # the archive format version this fiscalsafe reads

    def fields(self) -> dict[str, Any]:
        return {
            "dossier": self.dossier,
            "tz": self.tz,
            "trust": list(self.trust),
            "checker": self.checker,
            "archive_format": list(self.archive_format),
        }


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class RememberedProofs:
    """The authenticated records of one dossier, under one context."""

    def __init__(self, path: Path, mac_key: bytes, context: ProofContext):
        self.path = path
        self._mac_key = mac_key
        self.context = context
        self._records: dict[tuple[str, str], dict[str, Any]] | None = None
        self._journal: dict[str, Any] | None = None
        self._by_file: dict[str, list[str]] | None = None

    @classmethod
    def open(
        cls, path: Path, seed: bytes, dossier: str, tz: str, keys: TrustedKeys
    ) -> RememberedProofs | None:
        """The records kept in ``path``, authenticated with a key derived from the shop's
        secret key ``seed``; None when the trust is the dossier's own key (nothing proven
        with it is worth remembering)."""
        if keys.self_asserted or not keys.keys:
            return None
        trust = tuple(sorted(keys.fingerprints))
        context = ProofContext(dossier, tz, trust, CHECKER_VERSION, (fa.MAJOR, fa.MINOR))
        return cls(path, hkdf_sha256(seed, HKDF_INFO), context)

    def _mac(self, record: dict[str, Any]) -> str:
        return hmac.new(self._mac_key, _canonical(record), hashlib.sha256).hexdigest()

    def _load(self) -> dict[tuple[str, str], dict[str, Any]]:
        if self._records is None:
            self._records = {}
            archives, journal = self._read_records()
            for record in archives:
                try:
                    self._records[(record["file"], record["sha256"])] = record["result"]
                except (KeyError, TypeError):
                    continue
            self._journal = journal
        return self._records

    def _read_records(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """The archive records and the journal record that authenticate and match this
        context; none if the file is missing, unreadable or does not parse."""
        try:
            data = fsio.read_regular(self.path, MAX_PROOFS_BYTES, N_("remembered proofs"))
            doc = json.loads(data) if data is not None else None
            if doc is None or doc["format"] != PROOFS_FORMAT:
                return [], None
            if doc["version"][0] != PROOFS_VERSION[0]:
                return [], None
            entries = doc["records"][:MAX_RECORDS]
            journal = doc.get("journal")
        except (
            OSError,
            FiscalsafeError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,
        ):
            return [], None
        good = [record for record in map(self._authentic, entries) if record is not None]
        return good, self._authentic(journal)

    def _authentic(self, entry: Any) -> dict[str, Any] | None:
        """The record of ``entry`` if its MAC verifies and it was made under this context."""
        try:
            record, mac = entry["record"], entry["mac"]
            if not hmac.compare_digest(self._mac(record), str(mac)):
                return None
            if all(record[k] == v for k, v in self.context.fields().items()):
                return record
        except (KeyError, TypeError, ValueError):
            pass
        return None

    def journal_prefix(self, file: str) -> JournalPrefix | None:
        """The remembered proof of journal ``file``'s first records, or None."""
        self._load()
        record = self._journal
        try:
            if record is None or record["file"] != file:
                return None
            return JournalPrefix.from_json(record["prefix"])
        except (KeyError, TypeError, ValueError):
            return None

    def lookup(self, file: str, sha256: str) -> ArchiveResult | None:
        """The remembered result of these exact bytes under this context, or None."""
        doc = self._load().get((file, sha256))
        if doc is None:
            return None
        try:
            result = decode_result(file, sha256, doc)
        except (ValueError, KeyError, TypeError):
            return None
        return result if result.dossier == self.context.dossier else None

    def remembered_digest(self, file: str) -> str | None:
        """The SHA-256 of ``file``'s bytes when they were proven, whatever they are now:
        ``lookup`` with the digest of the bytes as they are gives the proof. None unless
        exactly one record names the file."""
        if self._by_file is None:
            self._by_file = {}
            for name, sha256 in self._load():
                self._by_file.setdefault(name, []).append(sha256)
        digests = self._by_file.get(file, [])
        return digests[0] if len(digests) == 1 else None

    def save(
        self,
        results: Iterable[ArchiveResult],
        journal: tuple[str, JournalPrefix] | None = None,
    ) -> int:
        """Replace the records with those of ``results`` that are proven, and the journal's
        with ``journal`` (its file and proven prefix); how many archive records."""
        proven = sorted((r for r in results if r.proven and r.sha256), key=lambda r: -r.number)
        entries = []
        for r in proven[:MAX_RECORDS]:
            try:
                result = encode_result(r)
            except ValueError:
                continue
            record = {**self.context.fields(), "file": r.file, "sha256": r.sha256}
            record["result"] = result
            entries.append({"record": record, "mac": self._mac(record)})
        doc: dict[str, Any] = {"format": PROOFS_FORMAT, "version": PROOFS_VERSION}
        doc["records"] = entries
        if journal is not None:
            file, prefix = journal
            record = {**self.context.fields(), "file": file, "prefix": prefix.to_json()}
            doc["journal"] = {"record": record, "mac": self._mac(record)}
        data = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fsio.atomic_write(self.path, data, mode=0o600)
        except OSError as exc:
            raise OperationalError(
                _(
                    "cannot write remembered proofs {path}: {error}",
                    path=self.path,
                    error=exc.strerror,
                )
            ) from None
        self._records = self._journal = self._by_file = None
        return len(entries)
