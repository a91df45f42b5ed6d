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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fiscalsafe import __version__, minisign
from fiscalsafe.errors import (
    MalformedError,
)
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile
from fiscalsafe.formats.layout import MANIFEST_PATH
from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.folder_members import folder_members
from fiscalsafe.pipeline.verify_container import (  # noqa: F401 - re-exported
    ZSTD_MAGIC,
    ArchiveFile,
    is_zstd,
    read_container,
)
from fiscalsafe.pipeline.verify_manifest import (
    check_completeness,
    check_key_binding,
    check_manifest,
    note_how_made,
    parse_created,
)
from fiscalsafe.pipeline.verify_members import (  # noqa: F401 - re-exported
    CHUNK,
    MAX_FISCAL_FILE,
    MAX_HELD_FISCAL,
    MAX_TAG_BYTES,
    Extractor,
    StreamState,
    member_problem,
)
from fiscalsafe.pipeline.verify_parts import (  # noqa: F401 - re-exported
    PART_SUFFIX,
    check_part_set,
    check_sidecars,
    discover,
    glob_escape,
    read_sidecars,
    set_name,
)
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Finding, Severity, finding, has_errors
from fiscalsafe.verify.report import CheckReport

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
    report = VerifyReport(target=set_name(files), files=infos)
    add = report.findings.append
    report.mode = "backup" if shop_key is not None else "bag"
    report.shop_key = shop_key.fingerprint if shop_key else None

    # (1) Sidecars: parsed now, verified once the bytes are hashed.
    # A plain BagIt tar (no key given) has no sidecar to miss.
    sidecars = read_sidecars(files, add if shop_key is not None else (lambda _f: None))
    check_part_set(files, sidecars, add)
    if shop_key is not None:
        report.checks.append("parts")

    compressed = is_zstd(files[0])
    state = StreamState(profile, extractor, trust, workers, bag_only=shop_key is None)
    report.checks += ["container", "members"]
    # (2) and (3): one pass over the members.
    container = read_container(infos, report.target, compressed, state, add, progress)
    report.members += container.members
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
        shape=container.shape,
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
    state = StreamState(profile, None, trust, workers)
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
    state: StreamState,
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
        verified = check_sidecars(files, report.files, sidecars, how.shop_key, manifest_bytes, add)
        report.manifest = check_manifest(state, how.shop_key, add)
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
        check_key_binding(manifest, how.shop_key, how.key_dossiers, add)
        report.checks.append("claims")
        check_completeness(manifest, state, add)
        note_how_made(manifest, add)
        report.checks.append("completeness")
        if shape is not None:
            bindings.check_members(manifest, state.meta, state.directories, state.tags, add)
            bindings.check_container(shape, report.target, add)
            report.checks.append("signed-container")
    # (7) and (8): fiscal content, from the verified stream. The kind only says what must
    # be present: fiscal files found in a backup of any kind are verified.
    if manifest is not None and (manifest.kind != "photos" or state.has_fiscal()):
        created = parse_created(manifest.created)
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
