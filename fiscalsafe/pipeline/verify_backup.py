"""``verify``: prove a backup without restoring it, in one streaming pass.

The steps, numbered as in ``schemas/backup-format.md`` (Verification):
(1) parts and sidecars: the set is complete, in order, and belongs together;
(2) container: zstd frames complete, tar headers intact, end marker present;
(3) safety: no absolute path, ``..``, link, device or duplicate among the members;
(4) bag: ``bagit.txt``, ``bag-info.txt`` (Payload-Oxum), payload and tag manifests;
(5) authenticity: the manifest's signature and each sidecar's, by the given shop key;
(6) names, claims and completeness: the file name and sidecar claims agree with the
    signed manifest, its creation time is not in the verifier's future, every manifest
    entry is present once and intact, nothing unexpected, omitted files accounted for,
    and modes, times, tag files and the container's shape are exactly what the writer
    produces (``bindings``);
(7) fiscal validity: archives and journal checked again, from the streamed bytes;
(8) coverage: from the verified content, as of the backup's signed creation time.
Steps (1) and (5) need all bytes hashed, so they are settled once the stream ends.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import io
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from fiscalsafe import __version__, fsio, minisign
from fiscalsafe.errors import (
    FiscalsafeError,
    KeyMismatchError,
    MalformedError,
    OperationalError,
    TruncatedError,
    UnsupportedVersionError,
    UsageError,
    VerificationError,
)
from fiscalsafe.formats import paths
from fiscalsafe.formats.bagit import SUPPORTED_ALGORITHMS
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile, parse_identity
from fiscalsafe.formats.layout import MANIFEST_PATH, SIDECAR, parse_comment
from fiscalsafe.formats.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest
from fiscalsafe.formats.tarstream import DIRECTORY, REGULAR, TarReader
from fiscalsafe.formats.zstdframes import FrameWalker
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.check import load_trust, trust_json
from fiscalsafe.pipeline.fiscal import FiscalChecker
from fiscalsafe.pipeline.folder_members import folder_members
from fiscalsafe.verify.bag import BagValidator
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Finding, Severity, finding, has_errors
from fiscalsafe.verify.report import CheckReport

CHUNK = 1024 * 1024
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_TAG_BYTES = 64 * 1024 * 1024
MAX_FISCAL_FILE = 256 * 1024 * 1024
#: One budget for everything held in memory at once: tag files (the manifests among
#: them) and fiscal files waiting for the fiscal check. A fiscalsafe backup puts the
#: identity and the editor key first, so archives go to the checker as they arrive; a
#: hostile stream may instead declare many large tag or fiscal files that compress to
#: nothing, and must then fail with a finding, not exhaust memory.
MAX_HELD_FISCAL = 512 * 1024 * 1024
PART_SUFFIX = re.compile(r"\.(\d{3})$")

VERIFY_FORMAT = "fiscalsafe-verify-report"
#: 1.1 added ``fiscal.journal_head``; 1.2 ``verified_at`` and ``checks``.
VERIFY_VERSION = [1, 2]

#: The verification steps, in the order they run; a report lists those that ran.
CHECK_NAMES = {
    "parts": "parts and sidecars",
    "container": "container",
    "members": "members",
    "bag": "bag",
    "manifest": "signed manifest",
    "claims": "names and claims",
    "completeness": "completeness",
    "signed-container": "modes, times and container against the manifest",
    "fiscal": "fiscal",
    "coverage": "coverage",
}


@dataclass
class ArchiveFile:
    path: Path
    size: int = 0
    sha256: str = ""
    blake2b: bytes = b""


@dataclass
class VerifyReport:
    target: str
    files: list[ArchiveFile]
    findings: list[Finding] = field(default_factory=list)
    mode: str = "backup"  # "backup" (fiscalsafe, with key) | "bag" (BagIt only)
    manifest: Manifest | None = None
    shop_key: str | None = None
    fiscal: CheckReport | None = None
    members: int = 0
    payload_bytes: int = 0
    held_peak: int = 0  # most bytes of tag and fiscal files held in memory at once
    verified_at: str | None = None  # the verifier's clock, UTC
    checks: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``proven``; ``consistent`` (no error, but the editor key came from inside the
        backup); ``valid`` (a plain BagIt bag: no signature, no fiscal proof); ``findings``."""
        if has_errors(self.findings):
            return "findings"
        if self.mode == "bag":
            return "valid"
        if self.fiscal is not None:
            return self.fiscal.verdict
        return "proven"

    @property
    def ok(self) -> bool:
        return self.verdict in ("proven", "valid")

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for f in self.findings if f.severity is s) for s in Severity}

    def to_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "format": VERIFY_FORMAT,
            "version": VERIFY_VERSION,
            "tool": f"fiscalsafe {__version__}",
            "target": self.target,
            "mode": self.mode,
            "verdict": self.verdict,
            "verified_at": self.verified_at,
            "checks": list(self.checks),
            "files": [
                {"path": str(f.path), "size": f.size, "sha256": f.sha256} for f in self.files
            ],
            "shop_key": self.shop_key,
            "backup": None
            if m is None
            else {
                "bag": m.bag,
                "dossier": m.dossier,
                "kind": m.kind,
                "created": m.created,
                "tool": m.tool,
                "format_version": list(m.version),
                "forced": m.forced,
                "allow_findings": m.allow_findings,
                "files": len(m.files),
                "omitted": len(m.omitted),
            },
            "fiscal": None
            if self.fiscal is None
            else {
                "dossier": self.fiscal.dossier,
                "as_of": self.fiscal.as_of,
                "years": self.fiscal.years,
                "trust": self.fiscal.trust,
                "coverage": self.fiscal.coverage.to_json() if self.fiscal.coverage else None,
                "journal_head": self.fiscal.journal_head,
                "stats": self.fiscal.stats,
            },
            "members": self.members,
            "payload_bytes": self.payload_bytes,
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
        }


class _TeeReader(io.RawIOBase):
    """Reads the parts one after another, hashing each and walking zstd frames."""

    def __init__(self, files: list[ArchiveFile], walker: FrameWalker | None, progress):
        self._files = files
        self._index = 0
        self._fh: BinaryIO | None = None
        self._b2 = self._s2 = None
        self._walker = walker
        self._progress = progress
        self.total = 0

    def readable(self) -> bool:
        return True

    def _open(self) -> bool:
        if self._index >= len(self._files):
            return False
        path = self._files[self._index].path
        self._fh = fsio.open_regular(path, "backup file", OperationalError)
        if self._fh is None:
            raise OperationalError(f"{path} vanished while it was read")
        self._b2 = hashlib.blake2b(digest_size=64)
        self._s2 = hashlib.sha256()
        return True

    def _close(self) -> None:
        info = self._files[self._index]
        info.blake2b = self._b2.digest()
        info.sha256 = self._s2.hexdigest()
        self._fh.close()
        self._fh = None
        self._index += 1

    def readinto(self, buffer) -> int:
        while True:
            if self._fh is None and not self._open():
                return 0
            n = self._fh.readinto(buffer)
            if n:
                view = memoryview(buffer)[:n]
                self._b2.update(view)
                self._s2.update(view)
                self._files[self._index].size += n
                if self._walker is not None:
                    self._walker.feed(view)
                self.total += n
                if self._progress:
                    self._progress(self.total)
                return n
            self._close()


def _member_problem(rel: str, kind: str, name_ok: bool) -> str | None:
    if not name_ok:
        return "name is not valid UTF-8"
    if kind not in (REGULAR, DIRECTORY):
        return f"{kind} members are refused"
    name = rel.rstrip("/") if kind == DIRECTORY else rel
    inner = name.partition("/")[2]  # the path inside the bag's folder
    reason = paths.unsafe_reason(name) or (paths.bag_path_reason(inner) if inner else None)
    if reason is not None:
        return reason
    if posixpath.normpath(rel) != rel.rstrip("/"):
        return "path is not canonical"
    return None


class Extractor:
    """Where ``restore`` writes payload files while they are verified (a staging folder)."""

    def open(self, relpath: str, mode: int) -> BinaryIO:  # pragma: no cover - interface
        raise NotImplementedError

    def close(
        self, relpath: str, fh: BinaryIO, mode: int, mtime_ns: int
    ) -> None:  # pragma: no cover
        raise NotImplementedError


def verify_stream(
    files: list[Path],
    *,
    shop_key: minisign.PublicKey | None,
    trust: list[Path],
    as_of: dt.datetime | None,
    years: int,
    require_trust: bool = False,
    profile: Profile = DEFAULT_PROFILE,
    extractor: Extractor | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    now: dt.datetime | None = None,
    max_idle_days: int = MAX_IDLE_DAYS,
    key_dossiers: frozenset[str] | None = None,
) -> VerifyReport:
    """Verify one backup (one file or an ordered split set) or a tar bag, in one pass.
    ``now`` is the verifier's clock (default: the system's), which a signed creation time
    must not lie after; ``key_dossiers`` the dossiers the trust folder binds the shop key
    to (None: any)."""
    infos = [ArchiveFile(p) for p in files]
    report = VerifyReport(target=_set_name(files), files=infos)
    add = report.findings.append
    report.mode = "backup" if shop_key is not None else "bag"
    report.shop_key = shop_key.fingerprint if shop_key else None

    # (1) Sidecars: parsed now, verified once the bytes are hashed.
    # A plain BagIt tar (no key given) has no sidecar to miss.
    sidecars = _read_sidecars(files, add if shop_key is not None else (lambda _f: None))
    _check_part_set(files, sidecars, add)
    if shop_key is not None:
        report.checks.append("parts")

    try:
        head = fsio.open_regular(files[0], "backup file", UsageError)
        if head is None:
            raise UsageError(f"{files[0]} does not exist")
        with head:
            compressed = head.read(4) == ZSTD_MAGIC
    except OSError as exc:
        raise FiscalsafeError(f"cannot read {files[0]}: {exc.strerror}") from None
    walker = FrameWalker() if compressed else None
    tee = _TeeReader(infos, walker, progress)
    raw = io.BufferedReader(tee, CHUNK)
    stream = (
        zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, read_size=CHUNK)
        if compressed
        else raw
    )
    state = _StreamState(profile, extractor, trust, workers, bag_only=shop_key is None)
    tar = TarReader(stream)
    container_ok = True
    report.checks += ["container", "members"]
    # (2) and (3): one pass over the members.
    try:
        for member in tar.members():
            report.members += 1
            state.member(member, tar, add)
    except zstandard.ZstdError as exc:
        container_ok = False
        add(finding("CONTAINER_CORRUPT", f"zstd: {exc}", file=report.target, offset=tee.total))
    except MalformedError as exc:
        container_ok = False
        code = "CONTAINER_TRUNCATED" if isinstance(exc, TruncatedError) else "CONTAINER_CORRUPT"
        add(finding(code, str(exc), file=report.target, offset=tar.offset))
    except BaseException:
        state.close()  # the fiscal checker may already run worker processes
        raise
    shape = None
    if container_ok:
        # Drain what the decompressor still holds, so the frame walker sees every byte.
        try:
            while raw.read(CHUNK):
                pass
        except OSError:
            pass
        except MalformedError as exc:  # bad frames after the tar's end (a stray part...)
            add(finding("CONTAINER_CORRUPT", str(exc), file=report.target, offset=tee.total))
            walker = tee._walker = None
            while tee.readinto(bytearray(CHUNK)):
                pass
        if not tar.end_marker:
            add(
                finding(
                    "CONTAINER_TRUNCATED",
                    "the tar stream ends without its end-of-archive marker",
                    file=report.target,
                    offset=tar.offset,
                )
            )
        if tar.trailing_garbage:
            add(
                finding(
                    "CONTAINER_CORRUPT",
                    "data follows the end-of-archive marker",
                    file=report.target,
                    offset=tar.offset,
                )
            )
        if walker is not None:
            try:
                walker.finish()
            except MalformedError as exc:
                add(finding("CONTAINER_TRUNCATED", str(exc), file=report.target))
        if not tar.trailing_garbage and (walker is None or walker.error is None):
            shape = bindings.ContainerShape(
                zstd_frames=walker.frames if walker is not None else None,
                skippable_frames=walker.skippable if walker is not None else 0,
                tar_end=tar.end_offset,
                tar_length=tar.offset,
                extension_headers=tar.extension_headers,
            )
    else:
        # Keep hashing to the end, so the sidecar verdict is about the whole file. The
        # container is already reported damaged: the frame walker has nothing to add, and
        # must not raise on the rest (a missing part leaves the next one mid-frame).
        tee._walker = None
        while tee.readinto(bytearray(CHUNK)):
            pass
    report.payload_bytes = state.payload_bytes
    report.held_peak = state.peak_held
    _judge(
        report,
        state,
        _Judgement(
            shop_key,
            trust,
            require_trust,
            as_of,
            years,
            workers,
            now,
            max_idle_days,
            key_dossiers,
        ),
        sidecars=sidecars,
        shape=shape,
    )
    return report


def verify_folder(
    folder: Path,
    *,
    shop_key: minisign.PublicKey,
    trust: list[Path],
    as_of: dt.datetime | None,
    years: int,
    require_trust: bool = False,
    profile: Profile = DEFAULT_PROFILE,
    workers: int | None = None,
    now: dt.datetime | None = None,
    max_idle_days: int = MAX_IDLE_DAYS,
    key_dossiers: frozenset[str] | None = None,
) -> VerifyReport:
    """Verify an extracted backup folder as the backup it was: the same member rules, bag,
    signed manifest, completeness, fiscal and coverage checks as an archive. A folder has
    no container and no sidecar: those steps do not run (``checks`` says so), and the
    files' own modes and times are not judged (extraction tools change them)."""
    report = VerifyReport(target=str(folder), files=[], mode="backup")
    report.shop_key = shop_key.fingerprint
    add = report.findings.append
    state = _StreamState(profile, None, trust, workers)
    report.checks.append("members")
    try:
        for member, reader in folder_members(folder):
            report.members += 1
            state.member(member, reader, add)
    except MalformedError as exc:
        add(finding("MEMBER_UNSAFE", f"{exc}; not read", file=str(folder)))
    except BaseException:
        state.close()
        raise
    report.payload_bytes = state.payload_bytes
    how = _Judgement(
        shop_key, trust, require_trust, as_of, years, workers, now, max_idle_days, key_dossiers
    )
    _judge(report, state, how, sidecars=[], shape=None)
    return report


@dataclass
class _Judgement:
    """How the members, once read, are judged (the same for a stream and a folder)."""

    shop_key: minisign.PublicKey | None
    trust: list[Path]
    require_trust: bool
    as_of: dt.datetime | None
    years: int
    workers: int | None
    now: dt.datetime | None
    max_idle_days: int = MAX_IDLE_DAYS
    key_dossiers: frozenset[str] | None = None


def _judge(
    report: VerifyReport,
    state: _StreamState,
    how: _Judgement,
    *,
    sidecars: list[minisign.Signature | None],
    shape: bindings.ContainerShape | None,
) -> None:
    """Steps (4) to (8), from what the pass over the members collected."""
    add = report.findings.append
    add_all = report.findings.extend
    files = [f.path for f in report.files]
    now = how.now or dt.datetime.now(dt.UTC)
    report.verified_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # (4) BagIt, on its own terms.
    add_all(state.bag.finish())
    report.checks.append("bag")

    # (5) Authenticity.
    manifest_bytes = state.tags.get(MANIFEST_PATH)
    verified: list[minisign.Signature | None] = []
    if how.shop_key is not None:
        verified = _check_sidecars(files, report.files, sidecars, how.shop_key, manifest_bytes, add)
        report.manifest = _check_manifest(state, how.shop_key, add)
        report.checks.append("manifest")
    elif manifest_bytes is not None:
        add(
            finding(
                "MANIFEST_UNTRUSTED_KEY",
                "this is a fiscalsafe backup but no --key was given: its origin is not "
                "proven (pass the shop's public key)",
                file=MANIFEST_PATH,
            )
        )
    manifest = report.manifest
    # (6) Names, claims and completeness against the signed manifest; how it was made.
    if manifest is not None:
        if files:
            bindings.check_file_name(files, manifest, add)
            bindings.check_sidecar_claims(files, verified, manifest, add)
        bindings.check_created(manifest, now, add)
        _check_key_binding(manifest, how.shop_key, how.key_dossiers, add)
        report.checks.append("claims")
        _check_completeness(manifest, state, add)
        _note_how_made(manifest, add)
        report.checks.append("completeness")
        if shape is not None:
            bindings.check_members(manifest, state.meta, state.directories, state.tags, add)
            bindings.check_container(shape, report.target, add)
            report.checks.append("signed-container")
    # (7) and (8): fiscal content, from the verified stream. The kind only says what must
    # be present: fiscal files found in a backup of any kind are verified.
    if manifest is not None and (manifest.kind != "photos" or state.has_fiscal()):
        created = _parse_created(manifest.created)
        report.fiscal = state.finish_fiscal(
            how.trust,
            how.require_trust,
            how.as_of or created,
            how.years,
            how.workers,
            max_idle_days=how.max_idle_days,
            known_until=created,
        )
        if report.fiscal is not None:
            add_all(report.fiscal.findings)
            report.checks.append("fiscal")
            if report.fiscal.coverage is not None:
                report.checks.append("coverage")
    else:
        state.close()


def _check_key_binding(manifest: Manifest, key, bound: frozenset[str] | None, add) -> None:
    """A shop key the trust folder binds to some dossiers proves nothing about another."""
    dossier = str(manifest.dossier.get("id"))
    if bound is not None and dossier not in bound:
        add(
            finding(
                "KEY_NOT_FOR_DOSSIER",
                f"shop key {key.fingerprint} is bound to {', '.join(sorted(bound)) or 'no dossier'}"
                f" in the trust folder, not to {dossier}",
                file=MANIFEST_PATH,
                expected=", ".join(sorted(bound)),
                found=dossier,
            )
        )


def _set_name(files: list[Path]) -> str:
    return PART_SUFFIX.sub("", files[0].name)


def _parse_created(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedError(f"manifest: created {text!r} is not an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _read_sidecars(files: list[Path], add) -> list[minisign.Signature | None]:
    out: list[minisign.Signature | None] = []
    for path in files:
        side = Path(str(path) + SIDECAR)
        try:
            data = fsio.read_regular(side, minisign.MAX_FILE_BYTES, "sidecar")
            if data is None:
                add(finding("SIDECAR_MISSING", f"{side.name} is missing", file=side.name))
                out.append(None)
                continue
            out.append(minisign.parse_signature(data))
        except MalformedError as exc:
            add(finding("SIDECAR_SIGNATURE_INVALID", f"{side.name}: {exc}", file=side.name))
            out.append(None)
    return out


def _check_part_set(files: list[Path], sidecars: list, add) -> None:
    """(1) The parts named on the command line (or found) form one complete, ordered set."""
    fields = [parse_comment(s.trusted_comment) if s else None for s in sidecars]
    known = [f for f in fields if f]
    if not known:
        return
    totals = {f.get("part", "1/1").partition("/")[2] for f in known}
    sets = {f.get("set") for f in known}
    if len(sets) > 1:
        add(
            finding(
                "PART_EXTRA",
                "the parts come from different backups",
                found=", ".join(sorted(s or "?" for s in sets)),
            )
        )
    total = max(int(t) for t in totals if t.isdigit()) if any(t.isdigit() for t in totals) else 1
    for position, (path, f) in enumerate(zip(files, fields, strict=True), 1):
        if not f:
            continue
        number, _, _ = f.get("part", "1/1").partition("/")
        # Parts of a set are identified by name; a single file's name is bound to the
        # signed manifest once it is verified (``bindings.check_file_name``).
        if total > 1 and f.get("file") != path.name:
            add(
                finding(
                    "PART_ORDER",
                    f"{path.name} is signed as {f.get('file')}",
                    file=path.name,
                    expected=f.get("file"),
                    found=path.name,
                )
            )
        elif number.isdigit() and int(number) != position:
            add(
                finding(
                    "PART_ORDER",
                    f"{path.name} is part {number}, given in position {position}",
                    file=path.name,
                    expected=position,
                    found=int(number),
                )
            )
    if len(files) < total:
        present = {f.get("part", "").partition("/")[0] for f in fields if f}
        missing = [str(i) for i in range(1, total + 1) if str(i) not in present]
        add(
            finding(
                "PART_MISSING",
                f"split backup has {total} parts; missing part(s) {', '.join(missing) or '?'}",
                expected=total,
                found=len(files),
            )
        )
    elif len(files) > total:
        add(
            finding(
                "PART_EXTRA",
                f"split backup has {total} parts, {len(files)} were given",
                expected=total,
                found=len(files),
            )
        )


def _check_sidecars(files, infos, sidecars, key, manifest_bytes, add) -> list:
    """Verify each sidecar; return those whose signature holds (``None`` for the others),
    in part order."""
    set_id = hashlib.sha256(manifest_bytes).hexdigest()[:32] if manifest_bytes else None
    verified: list[minisign.Signature | None] = []
    for path, info, sig in zip(files, infos, sidecars, strict=True):
        verified.append(None)
        if sig is None:
            continue
        side = path.name + SIDECAR
        try:
            minisign.verify_digest(key, sig, info.blake2b)
        except VerificationError as exc:
            add(finding("SIDECAR_SIGNATURE_INVALID", f"{side}: {exc}", file=side))
            continue
        verified[-1] = sig
        fields = parse_comment(sig.trusted_comment) or {}
        if set_id and fields.get("set") != set_id:
            add(
                finding(
                    "PART_EXTRA",
                    f"{side} is signed for another backup than the one inside",
                    file=side,
                    expected=set_id,
                    found=fields.get("set"),
                )
            )
    return verified


def _check_manifest(state: _StreamState, key: minisign.PublicKey, add) -> Manifest | None:
    data = state.tags.get(MANIFEST_PATH)
    sig_bytes = state.tags.get(MANIFEST_PATH + SIDECAR)
    if data is None:
        add(
            finding(
                "MANIFEST_MISSING",
                "the backup holds no fiscalsafe/manifest.json",
                file=MANIFEST_PATH,
            )
        )
        return None
    if sig_bytes is None:
        add(
            finding(
                "MANIFEST_SIGNATURE_INVALID",
                "the manifest's signature file is missing",
                file=MANIFEST_PATH + SIDECAR,
            )
        )
        return None
    try:
        minisign.verify_bytes(key, sig_bytes, data)
    except MalformedError as exc:
        add(finding("MANIFEST_SIGNATURE_INVALID", str(exc), file=MANIFEST_PATH + SIDECAR))
        return None
    except VerificationError as exc:
        code = (
            "MANIFEST_UNTRUSTED_KEY"
            if isinstance(exc, KeyMismatchError)
            else "MANIFEST_SIGNATURE_INVALID"
        )
        add(finding(code, f"manifest: {exc}", file=MANIFEST_PATH, expected=key.fingerprint))
        return None
    try:
        return parse_manifest(data)
    except UnsupportedVersionError as exc:
        add(finding("MANIFEST_VERSION_UNSUPPORTED", str(exc), file=MANIFEST_PATH))
    except MalformedError as exc:
        add(finding("MANIFEST_MALFORMED", str(exc), file=MANIFEST_PATH))
    return None


def _check_completeness(manifest: Manifest, state: _StreamState, add) -> None:
    # (6) Every signed entry once and intact; nothing else; omitted files absent.
    listed = {f.path: f for f in manifest.files}
    for path, entry in listed.items():
        got = state.payload.get(path)
        if got is None:
            add(
                finding(
                    "FILE_MISSING",
                    "listed in the signed manifest but not in the backup",
                    file=f"data/{path}",
                    expected=entry.sha256,
                )
            )
            continue
        size, digest = got
        if size != entry.size:
            add(
                finding(
                    "FILE_SIZE_MISMATCH",
                    "size differs from the signed manifest",
                    file=f"data/{path}",
                    expected=entry.size,
                    found=size,
                )
            )
        if digest != entry.sha256:
            add(
                finding(
                    "FILE_DIGEST_MISMATCH",
                    "content differs from the signed manifest",
                    file=f"data/{path}",
                    expected=entry.sha256,
                    found=digest,
                )
            )
    omitted = {o.path for o in manifest.omitted}
    for path in state.payload:
        if path not in listed:
            why = (
                "omitted by the manifest but present" if path in omitted else "not in the manifest"
            )
            add(finding("FILE_UNEXPECTED", why, file=f"data/{path}"))
    for tag, digest in manifest.tag_files.items():
        data = state.tags.get(tag)
        if data is None:
            add(finding("FILE_MISSING", "tag file listed in the manifest is missing", file=tag))
        elif hashlib.sha256(data).hexdigest() != digest:
            add(
                finding(
                    "FILE_DIGEST_MISMATCH",
                    "tag file differs from the signed manifest",
                    file=tag,
                    expected=digest,
                    found=hashlib.sha256(data).hexdigest(),
                )
            )
    if manifest.bag != state.bag_name:
        add(
            finding(
                "FILE_UNEXPECTED",
                "the bag folder name differs from the signed manifest",
                file=state.bag_name,
                expected=manifest.bag,
                found=state.bag_name,
            )
        )


def _note_how_made(manifest: Manifest, add) -> None:
    """Overrides recorded in the signed manifest stay visible to whoever verifies later."""
    check = manifest.check
    if manifest.forced:
        locks = [str(lock) for lock in check.get("locks") or []]
        add(
            finding(
                "BACKUP_FORCED",
                "made with --force while the shop application was open"
                + (f" ({', '.join(locks)})" if locks else "")
                + ": files may have been changing",
                file=MANIFEST_PATH,
            )
        )
    if manifest.allow_findings and check.get("verdict") != "proven":
        counts = check.get("counts") if isinstance(check.get("counts"), dict) else {}
        recorded = sorted(
            {str(f.get("code")) for f in check.get("findings") or [] if isinstance(f, dict)}
        )
        add(
            finding(
                "BACKUP_WITH_FINDINGS",
                f"made with --allow-findings although the fiscal check reported "
                f"{counts.get('error', '?')} error(s), recorded in the signed manifest",
                file=MANIFEST_PATH,
                found=", ".join(recorded[:8]) or None,
            )
        )


class _StreamState:
    """Everything the one pass over the members collects."""

    def __init__(
        self,
        profile: Profile,
        extractor: Extractor | None,
        trust: list[Path] | None = None,
        workers: int | None = None,
        bag_only: bool = False,
    ):
        self.profile = profile
        self.extractor = extractor
        self.trust = list(trust or [])
        self.workers = workers
        self.held = 0  # bytes of fiscal files kept in memory, not yet given to the checker
        self.tag_bytes = 0  # bytes of tag files kept in memory
        self.peak_held = 0  # the most ever held at once (fiscal + tag files)
        self.identity = None
        self._early_start_tried = False
        # A fiscalsafe backup lists SHA-256 only; any other bag may use any algorithm.
        self.algorithms = tuple(sorted(SUPPORTED_ALGORITHMS)) if bag_only else ("sha256",)
        self.bag = BagValidator(algorithms=self.algorithms)
        self.bag_name: str | None = None
        self.names: set[str] = set()
        self.folded: dict[str, str] = {}
        self.folded_files: set[str] = set()
        self.folded_folders: set[str] = set()
        self.payload: dict[str, tuple[int, str]] = {}
        self.payload_bytes = 0
        self.tags: dict[str, bytes] = {}
        # Each file member's mode, time and pax records, and the directory members: judged
        # against the signed manifest once it is verified.
        self.meta: dict[str, bindings.MemberMeta] = {}
        self.directories: list[str] = []
        self.fiscal_files: dict[str, bytes] = {}
        self.archives_pending: list[tuple[str, bytes]] = []
        self.checker: FiscalChecker | None = None
        self.journal_submitted = False

    def member(self, m, tar: TarReader, add) -> None:
        top, _, rel = m.name.partition("/")
        if self.bag_name is None:
            self.bag_name = top
        where = {"file": m.name, "offset": m.offset}
        problem = _member_problem(m.name, m.type, m.name_ok)
        if problem is None and top != self.bag_name:
            problem = "outside the bag's folder"
        if problem:
            add(finding("MEMBER_UNSAFE", f"{problem}; not read", found=m.type, **where))
            self.bag.reject_member(rel or m.name, problem)
            return
        if m.name.rstrip("/") in self.names:
            add(finding("MEMBER_DUPLICATE", "the same name appears twice", **where))
            return
        self.names.add(m.name.rstrip("/"))
        folded = paths.name_key(m.name.rstrip("/"))
        if folded in self.folded:
            add(
                finding(
                    "MEMBER_DUPLICATE",
                    "name clashes with another on case-insensitive or "
                    "Unicode-normalising file systems (Windows, macOS)",
                    expected=self.folded[folded],
                    **where,
                )
            )
            return
        self.folded[folded] = m.name.rstrip("/")
        # A file below a file, or a file where a folder was implied, cannot be extracted.
        ancestors = [folded.rsplit("/", n)[0] for n in range(1, folded.count("/") + 1)]
        if any(a in self.folded_files for a in ancestors) or (
            m.type != DIRECTORY and folded in self.folded_folders
        ):
            add(finding("MEMBER_UNSAFE", "a file and a folder share this name; not read", **where))
            self.bag.reject_member(rel, "a file and a folder share this name")
            return
        self.folded_folders.update(ancestors)
        (self.folded_folders if m.type == DIRECTORY else self.folded_files).add(folded)
        if m.type == DIRECTORY or not rel:
            self.directories.append(m.name.rstrip("/"))
            if rel:
                self.bag.add_directory(rel)
            return
        self.meta[rel] = bindings.MemberMeta(m.mode, m.mtime_ns, frozenset(m.pax))
        if rel.startswith("data/"):
            self._payload(rel[5:], m, tar, add)
        else:
            self._tag(rel, m, tar, add)

    def _hashers(self) -> dict[str, Any]:
        return {alg: hashlib.new(alg, usedforsecurity=False) for alg in self.algorithms}

    def _payload(self, path: str, m, tar: TarReader, add) -> None:
        hashers = self._hashers()
        digest = hashers["sha256"]
        fiscal = self._is_fiscal(path)
        keep = fiscal and m.size <= MAX_FISCAL_FILE and self._fits(m.size)
        if fiscal and not keep:
            add(
                finding(
                    "MEMBER_UNSAFE",
                    f"fiscal file of {m.size} bytes not checked: more than fiscalsafe holds "
                    "in memory",
                    file=m.name,
                    offset=m.offset,
                )
            )
        kept = bytearray() if keep else None
        out = self.extractor.open(path, m.mode) if self.extractor else None
        size = 0
        others = [h for alg, h in hashers.items() if alg != "sha256"]
        while chunk := tar.read(CHUNK):
            digest.update(chunk)
            for other in others:
                other.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept += chunk
            if out is not None:
                out.write(chunk)
        if out is not None:
            self.extractor.close(path, out, m.mode, m.mtime_ns)
        hexdigest = digest.hexdigest()
        self.payload[path] = (size, hexdigest)
        self.payload_bytes += size
        self.bag.add_file(f"data/{path}", size, {alg: h.hexdigest() for alg, h in hashers.items()})
        if kept is not None:
            self.held += len(kept)
            self._note_peak()
            self._fiscal(path, bytes(kept))

    def _fits(self, size: int) -> bool:
        return self.held + self.tag_bytes + size <= MAX_HELD_FISCAL

    def _note_peak(self) -> None:
        self.peak_held = max(self.peak_held, self.held + self.tag_bytes)

    def _tag(self, rel: str, m, tar: TarReader, add) -> None:
        limit = MAX_MANIFEST_BYTES if rel == MANIFEST_PATH else MAX_TAG_BYTES
        if m.size > limit:
            add(
                finding(
                    "MEMBER_UNSAFE",
                    f"tag file of {m.size} bytes exceeds the limit",
                    file=m.name,
                    offset=m.offset,
                )
            )
            self.bag.reject_member(rel, "tag file too large")
            return
        if not self._fits(m.size):
            add(
                finding(
                    "MEMBER_UNSAFE",
                    f"tag file of {m.size} bytes not read: tag and fiscal files exceed the "
                    f"{MAX_HELD_FISCAL}-byte memory budget",
                    file=m.name,
                    offset=m.offset,
                )
            )
            self.bag.reject_member(rel, "tag files too large in total")
            return
        data = bytearray()
        while chunk := tar.read(CHUNK):
            data += chunk
        content = bytes(data)
        self.tags[rel] = content
        self.tag_bytes += len(content)
        self._note_peak()
        digests = {alg: hashlib.new(alg, content).hexdigest() for alg in self.algorithms}
        self.bag.add_file(rel, len(content), digests, content=content)

    def _is_fiscal(self, path: str) -> bool:
        p = self.profile
        return path in (p.identity, p.editor_key, p.journal, p.journal_head) or fnmatch.fnmatchcase(
            path, p.archives
        )

    def _fiscal(self, path: str, data: bytes) -> None:
        if fnmatch.fnmatchcase(path, self.profile.archives):
            if self.checker is None and not self._early_start_tried and self._keys_seen():
                self._early_start_tried = True
                self.start_checker(self.trust, self.workers)
            if self.checker is not None:
                self.checker.add_archive(path, data)
                self.held -= len(data)
            else:
                self.archives_pending.append((path, data))
        else:
            self.fiscal_files[path] = data
            self._submit_journal(final=False)

    def _submit_journal(self, final: bool) -> None:
        """Give the journal to the checker as soon as it and its head have both streamed
        by (a fiscalsafe backup stores them before the archives): checked while the
        archives are, it does not run alone on one core after them. Otherwise at the
        end, with whatever arrived."""
        p = self.profile
        if self.checker is None or self.journal_submitted:
            return
        if not final and not (
            p.journal in self.fiscal_files and p.journal_head in self.fiscal_files
        ):
            return
        self.journal_submitted = True
        journal = self.fiscal_files.pop(p.journal, None)
        self.held -= len(journal or b"")
        self.checker.add_journal(
            p.journal,
            journal,
            p.journal_head,
            self.fiscal_files.get(p.journal_head),
        )

    def _keys_seen(self) -> bool:
        p = self.profile
        return p.identity in self.fiscal_files and (
            bool(self.trust) or p.editor_key in self.fiscal_files
        )

    # Archives are checked while the stream goes on, once the identity and keys are known.
    def start_checker(self, trust: list[Path], workers: int | None) -> tuple[Any, list[Finding]]:
        p = self.profile
        identity_bytes = self.fiscal_files.get(p.identity)
        if identity_bytes is None:
            return None, [
                finding(
                    "DOSSIER_MALFORMED",
                    f"the backup holds no {p.identity}",
                    file=f"data/{p.identity}",
                )
            ]
        try:
            identity = parse_identity(identity_bytes)
        except FiscalsafeError as exc:
            return None, [finding("DOSSIER_MALFORMED", str(exc), file=f"data/{p.identity}")]
        keys, trust_findings = load_trust(trust, self.fiscal_files.get(p.editor_key), p.editor_key)
        self.checker = FiscalChecker(identity.dossier_id, identity.tz, keys, workers)
        self.checker.extra_findings.extend(trust_findings)
        for path, data in self.archives_pending:
            self.checker.add_archive(path, data)
            self.held -= len(data)
        self.archives_pending = []
        self.identity = identity
        self._submit_journal(final=False)
        return identity, []

    def has_fiscal(self) -> bool:
        return self.checker is not None or bool(self.fiscal_files or self.archives_pending)

    def finish_fiscal(
        self,
        trust,
        require_trust,
        as_of,
        years,
        workers,
        *,
        max_idle_days: int = MAX_IDLE_DAYS,
        known_until: dt.datetime | None = None,
    ) -> CheckReport | None:
        if self.checker is not None:
            identity, problems = self.identity, []
        else:
            identity, problems = self.start_checker(trust, workers)
        if identity is None:
            report = CheckReport("?", "", as_of.isoformat(), years, {}, None)
            report.findings.extend(problems)
            return report
        checker = self.checker
        if require_trust and checker.keys.self_asserted:
            checker.extra_findings.append(
                finding(
                    "TRUST_NOT_ESTABLISHED", "--require-trust: pass the editor's key with --trust"
                )
            )
        self._submit_journal(final=True)
        report = CheckReport(
            identity.dossier_id, "", as_of.isoformat(), years, trust_json(checker.keys), None
        )
        return checker.finish(
            report, as_of, years, max_idle_days=max_idle_days, known_until=known_until
        )

    def close(self) -> None:
        if self.checker is not None:
            self.checker.close()


def discover(targets: list[Path]) -> list[list[Path]]:
    """Group the command line's files into backups: single files and split sets."""
    groups: dict[str, list[Path]] = {}
    order: list[str] = []
    for target in targets:
        base = PART_SUFFIX.sub("", str(target))
        if base not in groups:
            groups[base] = []
            order.append(base)
        groups[base].append(target)
    out = []
    for base in order:
        paths = groups[base]
        if len(paths) == 1 and PART_SUFFIX.search(str(paths[0])):
            # One part named: take the whole set found beside it.
            folder = paths[0].parent
            name = Path(base).name
            paths = sorted(folder.glob(f"{glob_escape(name)}.[0-9][0-9][0-9]"))
        out.append(sorted(paths, key=lambda p: (len(str(p)), str(p))) if len(paths) > 1 else paths)
    return out


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)
