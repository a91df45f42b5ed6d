"""A dossier's signed fiscal files as editable data: the archives and the event journal.

Read through ``fiscalsafe.formats``, changed field by field, and written back either as they
are (a forger without the key) or signed again with the editor key, with every later record
re-linked (the shop software itself, which holds the key). Each file keeps its
modification time, so the same input always gives the same bytes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscalsafe.crypto import FiscalSigningKey
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile
from fiscalsafe.formats.packing import pack, unpack


def middle(items: list) -> Any:
    return items[len(items) // 2]


def rewrite(path: Path, data: bytes) -> None:
    """Replace a file's bytes and keep its modification time (a careful forger would)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns))


def archive_paths(dossier: Path, profile: Profile = DEFAULT_PROFILE) -> list[Path]:
    """The dossier's fiscal archive files, oldest first (names are zero-padded numbers)."""
    return sorted(
        p
        for p in dossier.rglob("*")
        if p.is_file() and fnmatch.fnmatchcase(p.relative_to(dossier).as_posix(), profile.archives)
    )


def read_archive(path: Path) -> tuple[fa.Envelope, dict[str, Any]]:
    env = fa.parse_envelope(path.read_bytes())
    return env, unpack(env.body, path.name)


def write_archive(path: Path, body: bytes, alg: str, key_id: bytes, signature: bytes) -> str:
    data = fa.encode_envelope(body, alg, key_id, signature)
    rewrite(path, data)
    return hashlib.sha256(data).hexdigest()


def resign_archives(
    dossier: Path, signer: FiscalSigningKey, target: Path, mutate: Callable[[dict], None]
) -> dict[int, str]:
    """Change one archive's body, re-sign it, then re-link and re-sign every later archive.

    Returns the new file digests by archive number, for the journal's archive events.
    """
    paths = archive_paths(dossier)
    digests: dict[int, str] = {}
    prev: bytes | None = None
    for path in paths[paths.index(target) :]:
        _, body = read_archive(path)
        if prev is None:
            mutate(body)
        else:
            body["prev"] = prev
        raw = pack(body)
        prev = signer.sign(raw)
        digests[body["number"]] = write_archive(
            path, raw, signer.algorithm, signer.public_key().key_id, prev
        )
    return digests


@dataclass
class EditableJournal:
    """The event journal as editable records: decoded bodies, stored bytes, signatures."""

    dossier: Path
    header: bytes
    dossier_id: str
    bodies: list[dict[str, Any]]
    raw: list[bytes]
    sigs: list[bytes]
    profile: Profile = DEFAULT_PROFILE

    @classmethod
    def load(cls, dossier: Path, profile: Profile = DEFAULT_PROFILE) -> EditableJournal:
        data = (dossier / profile.journal).read_bytes()
        items = list(fj.iter_records(io.BytesIO(data)))
        dossier_id = items[0]
        entries = [e for e in items[1:] if isinstance(e, fj.JournalEntry)]
        return cls(
            dossier=dossier,
            header=data[: entries[0].offset],
            dossier_id=dossier_id,
            bodies=[unpack(e.body, "journal record") for e in entries],
            raw=[e.body for e in entries],
            sigs=[e.signature for e in entries],
            profile=profile,
        )

    def pick(self, code: int, kind: str | None = None) -> int:
        """Index of the middle record with this event code (and closure kind)."""
        found = [
            i
            for i, b in enumerate(self.bodies)
            if b["code"] == code and (kind is None or b["data"].get("kind") == kind)
        ]
        return middle(found)

    def edit(self, index: int, **fields: Any) -> None:
        """Change fields of a record's body; its signature is left as it was."""
        self.bodies[index].update(fields)
        self.raw[index] = pack(self.bodies[index])

    def delete(self, index: int) -> None:
        del self.bodies[index], self.raw[index], self.sigs[index]

    def insert(self, index: int, body: dict[str, Any], signature: bytes) -> None:
        self.bodies.insert(index, body)
        self.raw.insert(index, pack(body))
        self.sigs.insert(index, signature)

    def append(self, signer: FiscalSigningKey, **fields: Any) -> None:
        """A new last record like the current last one, with ``fields`` changed, signed."""
        body = dict(self.bodies[-1]) | {"data": {}} | fields
        self.insert(len(self.bodies), body, b"")
        self.resign_from(len(self.bodies) - 1, signer)

    def resign_from(self, start: int, signer: FiscalSigningKey) -> None:
        """Renumber, re-link and re-sign every record from ``start`` on."""
        for i in range(start, len(self.bodies)):
            body = self.bodies[i]
            body["seq"] = i + 1
            body["prev"] = self.sigs[i - 1] if i else b""
            self.sign(i, signer)

    def sign(self, index: int, signer: FiscalSigningKey) -> None:
        """Sign one record as it is now (its ``seq`` and ``prev`` left as they are)."""
        body = self.bodies[index]
        body["alg"] = signer.algorithm
        body["kid"] = signer.public_key().key_id
        self.raw[index] = pack(body)
        self.sigs[index] = signer.sign(self.raw[index])

    def rewrite_record(self, index: int, signer: FiscalSigningKey, **fields: Any) -> None:
        """Record ``index`` changed and signed again, the records after it re-linked to it
        and signed again: the journal breaks a rule only where ``fields`` do."""
        self.bodies[index].update(fields)
        self.sign(index, signer)
        for i in range(index + 1, len(self.bodies)):
            self.bodies[i]["prev"] = self.sigs[i - 1]
            self.sign(i, signer)

    def record_digests(self, digests: dict[int, str]) -> int:
        """Write new archive digests into the archive events; the first index changed."""
        first = len(self.bodies)
        for i, body in enumerate(self.bodies):
            number = body["data"].get("archive")
            if body["code"] in fj.ARCHIVE_CODES and number in digests:
                body["data"]["sha256"] = digests[number]
                first = min(first, i)
        return first

    def write(self, head_signer: FiscalSigningKey | None = None) -> None:
        """Write the journal; with a signer, also a new signed head naming its last record."""
        records = b"".join(fj.encode_record(b, s) for b, s in zip(self.raw, self.sigs, strict=True))
        rewrite(self.dossier / self.profile.journal, self.header + records)
        if head_signer is None:
            return
        last = self.bodies[-1]
        body = fj.encode_head_body(
            dossier=self.dossier_id,
            seq=last["seq"],
            ts=last["ts"],
            last_sig_sha256=hashlib.sha256(self.sigs[-1]).digest(),
            alg=head_signer.algorithm,
            key_id=head_signer.public_key().key_id,
        )
        rewrite(self.dossier / self.profile.journal_head, pack([body, head_signer.sign(body)]))


def resign_archive_and_journal(
    dossier: Path,
    signer: FiscalSigningKey,
    target: Path,
    mutate: Callable[[dict], None],
    journal_edit: Callable[[EditableJournal], int] | None = None,
) -> None:
    """The shop software changes the archive ``target`` and re-signs everything after it.

    Later archives are re-linked, the journal's archive digests (and whatever
    ``journal_edit`` changes; it returns the first index it touched) are updated and the
    journal is re-signed from the first changed record, with a new head.
    """
    digests = resign_archives(dossier, signer, target, mutate)
    journal = EditableJournal.load(dossier)
    start = journal.record_digests(digests)
    if journal_edit is not None:
        start = min(start, journal_edit(journal))
    journal.resign_from(start, signer)
    journal.write(head_signer=signer)
