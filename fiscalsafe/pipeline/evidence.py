"""The evidence record: a self-contained, optionally signed account of a verification."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fiscalsafe import __version__, fsio, minisign
from fiscalsafe.formats import archive, journal, manifest
from fiscalsafe.pipeline.verify_backup import VerifyReport
from fiscalsafe.verify.report import combine_verdicts

EVIDENCE_FORMAT = "fiscalsafe-evidence"
#: 1.1: verdicts "consistent" and "valid", the journal head's signature digest (what
#: ``verify --since`` anchors on), and each verification's clock and checks.
EVIDENCE_VERSION = [1, 1]


def build_evidence(
    reports: list[VerifyReport], *, now: dt.datetime, auditor: minisign.SecretKey | None
) -> dict[str, Any]:
    return {
        "format": EVIDENCE_FORMAT,
        "version": EVIDENCE_VERSION,
        "tool": f"fiscalsafe {__version__}",
        "format_versions": {
            "manifest": [manifest.MAJOR, manifest.MINOR],
            "fiscal_archive": [archive.MAJOR, archive.MINOR],
            "journal": [journal.MAJOR, journal.MINOR],
        },
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "auditor_key": auditor.fingerprint if auditor else None,
        "verdict": combine_verdicts([r.verdict for r in reports]),
        "verifications": [r.to_json() for r in reports],
    }


def write_evidence(
    path: Path, doc: dict[str, Any], auditor: minisign.SecretKey | None
) -> list[Path]:
    """Write the record (and its minisign signature when an auditor key is given)."""
    data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    written = [path]
    _atomic_write(path, data)
    if auditor is not None:
        sig = minisign.sign_bytes(
            auditor,
            data,
            f"fiscalsafe-evidence v1 created={doc['created']} verdict={doc['verdict']}",
        )
        sig_path = Path(str(path) + ".minisig")
        _atomic_write(sig_path, sig)
        written.append(sig_path)
    return written


def _atomic_write(path: Path, data: bytes) -> None:
    # Never through a link planted at the record's name or its partial's.
    fsio.atomic_write(path, data)
