"""fiscalsafe's own backup manifest (``fiscalsafe/manifest.json`` inside the bag).

A JSON document listing every backed-up file (path, category, size, mode, mtime, SHA-256),
every file deliberately left out, the tag files' digests, the pre-flight check summary,
and the tool and format versions. It is signed with the shop key in minisign format
(``fiscalsafe/manifest.json.minisig``); the signature covers the exact stored bytes.
Layout: ``schemas/manifest.md`` and ``schemas/manifest.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats import paths
from fiscalsafe.formats.packing import Phrase, check_version
from fiscalsafe.i18n import N_, _

MANIFEST_FORMAT = "fiscalsafe-manifest"
MAJOR, MINOR = 1, 0
MAX_MANIFEST_BYTES = 128 * 1024 * 1024  # ~600,000 files; writer and reader agree
KINDS = ("full", "no-index", "photos")


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative to the dossier (the bag holds it under data/)
    category: str
    size: int
    mode: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class OmittedFile:
    path: str
    category: str
    size: int
    reason: str  # "no-index" | "photos-excluded" | "not-photo" | "lock" | "temporary"


@dataclass(frozen=True)
class Manifest:
    version: tuple[int, int]
    tool: str
    created: str  # ISO 8601 UTC: the backup's signed creation time
    bag: str
    kind: str
    dossier: dict[str, Any]
    profile: str
    forced: bool
    allow_findings: bool
    files: tuple[ManifestFile, ...]
    omitted: tuple[OmittedFile, ...]
    tag_files: dict[str, str]
    check: dict[str, Any]
    shop_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "version": list(self.version),
            "tool": self.tool,
            "created": self.created,
            "bag": self.bag,
            "kind": self.kind,
            "dossier": self.dossier,
            "profile": self.profile,
            "forced": self.forced,
            "allow_findings": self.allow_findings,
            "shop_key": self.shop_key,
            "tag_files": self.tag_files,
            "check": self.check,
            "files": [
                {
                    "path": f.path,
                    "category": f.category,
                    "size": f.size,
                    "mode": f.mode,
                    "mtime_ns": f.mtime_ns,
                    "sha256": f.sha256,
                }
                for f in self.files
            ],
            "omitted": [
                {"path": o.path, "category": o.category, "size": o.size, "reason": o.reason}
                for o in self.omitted
            ],
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def safe_relpath(path: Any, what: str) -> str:
    """A relative POSIX path that cannot escape its root, or ``MalformedError``."""
    if not isinstance(path, str) or not path or "\0" in path or "\\" in path:
        raise MalformedError(
            _("{what}: path {path} is not a safe relative path", what=what, path=repr(path))
        )
    norm = posixpath.normpath(path)
    if path.startswith("/") or norm != path or norm == ".." or norm.startswith("../"):
        raise MalformedError(
            _("{what}: path {path} is not a safe relative path", what=what, path=repr(path))
        )
    reason = paths.unsafe_reason(path)
    if reason is not None:
        raise MalformedError(
            _("{what}: path {path} is refused: {reason}", what=what, path=repr(path), reason=reason)
        )
    return path


def _get(doc: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise MalformedError(_("{what}: missing field {key}", what=what, key=repr(key)))
    value = doc[key]
    if isinstance(value, bool) and kind is int:
        raise MalformedError(_("{what}: field {key} must be an integer", what=what, key=repr(key)))
    if not isinstance(value, kind):
        raise MalformedError(_("{what}: field {key} has the wrong type", what=what, key=repr(key)))
    return value


_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)


def _created(text: str, what: str) -> str:
    """The signed creation time: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), a real instant."""
    if not _CREATED.fullmatch(text):
        raise MalformedError(
            _("{what}: created {text} is not YYYY-MM-DDTHH:MM:SSZ", what=what, text=repr(text))
        )
    try:
        dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise MalformedError(
            _("{what}: created {text} is not a real date and time", what=what, text=repr(text))
        ) from None
    return text


def parse_manifest(data: bytes) -> Manifest:
    what = Phrase(N_("manifest"))
    if len(data) > MAX_MANIFEST_BYTES:
        raise MalformedError(
            _("{what}: larger than {limit} bytes", what=what, limit=MAX_MANIFEST_BYTES)
        )
    try:
        doc = json.loads(data.decode("utf-8"))
    # ValueError also covers integers longer than Python's digit limit.
    except (ValueError, RecursionError) as exc:
        raise MalformedError(
            _("{what}: not valid UTF-8 JSON ({error})", what=what, error=exc.__class__.__name__)
        ) from None
    if _get(doc, "format", str, what) != MANIFEST_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe manifest", what=what))
    version = check_version(_get(doc, "version", list, what), MAJOR, what)
    kind = _get(doc, "kind", str, what)
    if kind not in KINDS:
        raise MalformedError(_("{what}: unknown backup kind {kind}", what=what, kind=repr(kind)))
    files = []
    seen: set[str] = set()
    for i, item in enumerate(_get(doc, "files", list, what)):
        where = Phrase(N_("manifest file #{i}"), i=i)
        path = safe_relpath(_get(item, "path", str, where), where)
        if path in seen:
            raise MalformedError(
                _("{where}: path {path} listed twice", where=where, path=repr(path))
            )
        seen.add(path)
        digest = _get(item, "sha256", str, where)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise MalformedError(_("{where}: sha256 is not 64 lowercase hex digits", where=where))
        files.append(
            ManifestFile(
                path=path,
                category=_get(item, "category", str, where),
                size=_get(item, "size", int, where),
                mode=_get(item, "mode", int, where),
                mtime_ns=_get(item, "mtime_ns", int, where),
                sha256=digest,
            )
        )
    omitted = []
    for i, item in enumerate(_get(doc, "omitted", list, what)):
        where = Phrase(N_("manifest omitted #{i}"), i=i)
        omitted.append(
            OmittedFile(
                path=safe_relpath(_get(item, "path", str, where), where),
                category=_get(item, "category", str, where),
                size=_get(item, "size", int, where),
                reason=_get(item, "reason", str, where),
            )
        )
    tag_files = _get(doc, "tag_files", dict, what)
    for name, digest in tag_files.items():
        safe_relpath(name, Phrase(N_("manifest tag file")))
        if not isinstance(digest, str):
            raise MalformedError(
                _("{what}: tag file digest for {name} is not a string", what=what, name=repr(name))
            )
    return Manifest(
        version=version,
        tool=_get(doc, "tool", str, what),
        created=_created(_get(doc, "created", str, what), what),
        bag=safe_relpath(_get(doc, "bag", str, what), what),
        kind=kind,
        dossier=_get(doc, "dossier", dict, what),
        profile=_get(doc, "profile", str, what),
        forced=_get(doc, "forced", bool, what),
        allow_findings=_get(doc, "allow_findings", bool, what),
        files=tuple(files),
        omitted=tuple(omitted),
        tag_files=tag_files,
        check=_get(doc, "check", dict, what),
        shop_key=_get(doc, "shop_key", str, what),
    )
