"""What a medium holds: backups found by their sidecar signatures' trusted comments.

Listing reads only the small ``.minisig`` files, so it is instant even on a slow stick;
it shows what each backup *claims* (signed by the shop key, not checked here). ``verify``
is what proves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fiscalsafe import fsio, minisign
from fiscalsafe.errors import FiscalsafeError
from fiscalsafe.formats.layout import parse_comment


def _plain_name(name: str) -> bool:
    """A file name in the listed folder itself: no path, not hidden."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


@dataclass
class BackupEntry:
    name: str  # the archive file name (without a part suffix)
    bag: str
    dossier: str
    kind: str
    created: str
    coverage: str
    parts_expected: int
    paths: list[Path] = field(default_factory=list)
    size: int = 0
    head: str = ""  # the journal head the backup's check proved: SEQ-SHA256HEX

    def to_json(self) -> dict:
        return {
            "file": self.name,
            "bag": self.bag,
            "dossier": self.dossier,
            "kind": self.kind,
            "created": self.created,
            "coverage": self.coverage,
            "parts": len(self.paths),
            "parts_expected": self.parts_expected,
            "size": self.size,
            "paths": [str(p) for p in self.paths],
        }


def list_backups(folder: Path, trusted: minisign.PublicKey | None = None) -> list[BackupEntry]:
    """Backups in ``folder``. With ``trusted``, only those whose sidecar comments that key
    signed: rotation must never delete a backup because of a planted sidecar."""
    entries: dict[str, BackupEntry] = {}
    for sidecar in sorted(folder.glob("*.minisig")):
        if sidecar.name.startswith("."):
            continue
        try:
            data = fsio.read_regular(sidecar, minisign.MAX_FILE_BYTES, "sidecar")
            if data is None:
                continue
            sig = minisign.parse_signature(data)
        except (FiscalsafeError, OSError):
            continue
        if trusted is not None:
            try:
                minisign.verify_trusted_comment(trusted, sig)
            except FiscalsafeError:
                continue
        fields = parse_comment(sig.trusted_comment)
        if not fields or not _plain_name(fields.get("file", "")):
            continue  # no file, or one elsewhere: rotation must never delete outside
        archive = folder / fields["file"]
        base = re.sub(r"\.\d{3}$", "", fields["file"])
        part, _, total = fields.get("part", "1/1").partition("/")
        entry = entries.setdefault(
            base,
            BackupEntry(
                name=base,
                bag=fields.get("bag", ""),
                dossier=fields.get("dossier", ""),
                kind=fields.get("kind", ""),
                created=fields.get("created", ""),
                coverage=fields.get("coverage", ""),
                parts_expected=int(total) if total.isdigit() else 1,
                head=fields.get("head", ""),
            ),
        )
        if archive.exists():
            entry.paths.append(archive)
            entry.size += archive.stat().st_size
    return sorted(entries.values(), key=lambda e: (e.dossier, e.created, e.name))
