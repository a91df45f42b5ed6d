"""What fiscalsafe has proven before, kept outside every dossier and medium.

One small JSON file per dossier in a per-user state folder: the newest journal record
(sequence and signature digest) and the newest fiscal archive (number and SHA-256) that a
check, backup or verify proved with keys from outside. It only moves forward. A later
history that does not contain that record, or lacks that archive, is a rollback
(``verify/freshness.py``). The folder is ``--state DIR``, else ``$FISCALSAFE_STATE_DIR``,
else the operating system's per-user state folder (platformdirs): keep it where the people
who can write to the dossier and the media cannot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe import fsio
from fiscalsafe.errors import FiscalsafeError, OperationalError
from fiscalsafe.i18n import N_, _
from fiscalsafe.verify.freshness import KnownArchive, KnownPoint, newest_archive
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.verified import VerifiedHead

STATE_ENV = "FISCALSAFE_STATE_DIR"
STATE_FORMAT = "fiscalsafe-state"
STATE_VERSION = [1, 0]
MAX_STATE_BYTES = 64 * 1024
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def default_state_dir() -> Path:
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir("fiscalsafe", appauthor=False))


@dataclass
class StateStore:
    folder: Path

    def _path(self, dossier: str) -> Path:
        # Dossier ids come from the data: a plain id names its file, anything else is hashed
        # so that no id can name a path outside the folder.
        name = (
            dossier
            if _PLAIN_ID.fullmatch(dossier)
            else hashlib.sha256(dossier.encode()).hexdigest()
        )
        return self.folder / "dossiers" / f"{name}.json"

    def proofs_path(self, dossier: str) -> Path:
        """Where the dossier's remembered proofs are kept (``pipeline/proofs.py``)."""
        return self._path(dossier).with_suffix(".proofs.json")

    def frames_path(self, dossier: str, kind: str) -> Path:
        """Where the last backup of this kind kept its frames (``pipeline/frames.py``)."""
        return self._path(dossier).with_suffix(f".frames-{kind}")

    def load(self, dossier: str) -> KnownPoint | None:
        path = self._path(dossier)
        try:
            data = fsio.read_regular(path, MAX_STATE_BYTES, N_("state file"))
        except FiscalsafeError as exc:
            raise OperationalError(
                _("{problem}; remove it to start the state over", problem=exc)
            ) from None
        except OSError as exc:
            raise OperationalError(
                _("cannot read state file {path}: {error}", path=path, error=exc.strerror)
            ) from None
        if data is None:
            return None
        try:
            return _parse(data, dossier)
        except (ValueError, KeyError, TypeError):
            raise OperationalError(
                _(
                    "state file {path} is damaged; remove it to start the state over "
                    "(rollback detection then restarts from the next proof)",
                    path=path,
                )
            ) from None

    def advance(self, report: CheckReport, by: str, now: dt.datetime) -> bool:
        """Record the report's verified head and newest archive, if they move forward.

        Only a proof with keys from outside counts: a history checked against a key found
        inside the dossier could be anyone's, and must not become the reference."""
        history = report.history
        if report.trust.get("self_asserted") or history is None or not history.head_signed:
            return False
        if any(f.code in ("JOURNAL_ROLLBACK", "ARCHIVE_ROLLBACK") for f in report.findings):
            return False
        known = self.load(report.dossier)
        head = history.tip
        if known is not None and known.head is not None:
            if history.relation(known.head) != "extends":
                return False
            if head.seq == known.head.seq and known.archive == newest_archive(
                report.proven_archives
            ):
                return False
        archive = newest_archive(report.proven_archives)
        if (
            known is not None
            and known.archive is not None
            and (archive is None or archive.number < known.archive.number)
        ):
            archive = known.archive
        doc = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "dossier": report.dossier,
            "journal_head": {"seq": head.seq, "ts": head.ts, "sig_sha256": head.sig_sha256.hex()},
            "archive": None
            if archive is None
            else {"number": archive.number, "sha256": archive.sha256},
            "updated": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "by": by,
        }
        path = self._path(report.dossier)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fsio.atomic_write(path, (json.dumps(doc, indent=1) + "\n").encode(), mode=0o600)
        except OSError as exc:
            raise OperationalError(
                _("cannot write state file {path}: {error}", path=path, error=exc.strerror)
            ) from None
        return True


def _parse(data: bytes, dossier: str) -> KnownPoint:
    doc = json.loads(data)
    if doc["format"] != STATE_FORMAT or doc["version"][0] != STATE_VERSION[0]:
        raise ValueError("not a state file")
    if doc["dossier"] != dossier:
        raise ValueError("another dossier's state")
    h = doc["journal_head"]
    head = VerifiedHead(int(h["seq"]), int(h["ts"]), bytes.fromhex(h["sig_sha256"]))
    if len(head.sig_sha256) != 32:
        raise ValueError("bad digest")
    a = doc.get("archive")
    archive = None if a is None else KnownArchive(int(a["number"]), str(a["sha256"]))
    label = _("fiscalsafe's state of {updated} ({by})", updated=doc["updated"], by=doc["by"])
    return KnownPoint(label, head, archive)
