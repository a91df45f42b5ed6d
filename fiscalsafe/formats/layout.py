"""The backup's layout, shared by the writer and every reader (schemas/backup-format.md).

File and member names, and the trusted comments of the sidecar and of the manifest's
signature: ``pipeline/backup.py`` writes them, ``verify_backup``, ``bindings``, ``listing``
and ``contents`` read them, and none of them defines its own copy.
"""

from __future__ import annotations

import re

EXTENSION = ".tar.zst"
SIDECAR = ".minisig"
MANIFEST_PATH = "fiscalsafe/manifest.json"
REPORT_PATH = "fiscalsafe/check-report.json"
TAG_MANIFEST = "tagmanifest-sha256.txt"
COMMENT_PREFIX = "fiscalsafe-backup v1 "
_FIELD = re.compile(r"(\w+)=(\S*)")
_PART = re.compile(r"[0-9]{1,4}/[0-9]{1,4}")


def sidecar_comment(
    *,
    file: str,
    bag: str,
    dossier: str,
    kind: str,
    created: str,
    part: int,
    parts: int,
    set_id: str,
    coverage: str,
    head: str | None,
) -> str:
    """The sidecar's trusted comment: signed with the archive, read by list and verify."""
    text = (
        f"{COMMENT_PREFIX}file={file} bag={bag} dossier={dossier} kind={kind} "
        f"created={created} part={part}/{parts} set={set_id} coverage={coverage}"
    )
    return text + (f" head={head}" if head else "")


def manifest_comment(*, bag: str, dossier: str, created: str, sha256: str) -> str:
    """The trusted comment of the manifest's own signature (inside the bag)."""
    return f"fiscalsafe-manifest v1 bag={bag} dossier={dossier} created={created} sha256={sha256}"


def parse_comment(comment: str) -> dict[str, str] | None:
    """A sidecar comment's fields; None when it is not fiscalsafe's."""
    if not comment.startswith(COMMENT_PREFIX):
        return None
    fields = dict(_FIELD.findall(comment[len(COMMENT_PREFIX) :]))
    # The comment is read before its signature is checked: a part number must be plain
    # ASCII digits of sane length before anyone calls int() on it.
    if "part" in fields and not _PART.fullmatch(fields["part"]):
        fields["part"] = "?/?"
    return fields
