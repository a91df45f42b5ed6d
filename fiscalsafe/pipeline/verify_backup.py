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
Each step returns a frozen result (``verify_steps.StepResult``): its findings, the checks
that ran, and what the next steps need; this module only calls them in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fiscalsafe import __version__, minisign
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile
from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.i18n import N_
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.folder_members import read_folder
from fiscalsafe.pipeline.verify_container import (  # noqa: F401 - re-exported
    ZSTD_MAGIC,
    ArchiveFile,
    is_zstd,
    read_container,
)
from fiscalsafe.pipeline.verify_fiscal import FiscalRules, check_fiscal
from fiscalsafe.pipeline.verify_manifest import KeyBinding, check_authenticity, check_claims
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
    check_parts,
    check_sidecars,
    discover,
    glob_escape,
    read_sidecars,
    set_name,
)
from fiscalsafe.pipeline.verify_steps import StepResult, check_bag
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Finding, Severity, has_errors
from fiscalsafe.verify.report import CheckReport

StepT = TypeVar("StepT", bound=StepResult)

VERIFY_FORMAT = "fiscalsafe-verify-report"
#: 1.1 added ``fiscal.journal_head``; 1.2 ``verified_at`` and ``checks``.
VERIFY_VERSION = [1, 2]

#: The verification steps, in the order they run; a report lists those that ran.
CHECK_NAMES = {
    "parts": N_("parts and sidecars"),
    "container": N_("container"),
    "members": N_("members"),
    "bag": N_("bag"),
    "manifest": N_("signed manifest"),
    "claims": N_("names and claims"),
    "completeness": N_("completeness"),
    "signed-container": N_("modes, times and container against the manifest"),
    "fiscal": N_("fiscal"),
    "coverage": N_("coverage"),
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

    def add_step(self, step: StepT) -> StepT:
        """Record a step's findings and the checks it ran; return the step."""
        self.findings.extend(step.findings)
        self.checks.extend(step.checks)
        return step

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
    report.mode = "backup" if shop_key is not None else "bag"
    report.shop_key = shop_key.fingerprint if shop_key else None
    parts = report.add_step(check_parts(files, keyed=shop_key is not None))
    compressed = is_zstd(files[0])
    state = StreamState(profile, extractor, trust, workers, bag_only=shop_key is None)
    container = report.add_step(read_container(infos, report.target, compressed, state, progress))
    report.members += container.members
    report.payload_bytes = state.payload_bytes
    report.held_peak = state.peak_held
    rules = FiscalRules(trust, require_trust, as_of, years, workers, max_idle_days)
    how = _Judgement(KeyBinding(shop_key, key_dossiers), now, rules)
    _judge(report, state, how, sidecars=parts.sidecars, shape=container.shape)
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
    state = StreamState(profile, None, trust, workers)
    members = report.add_step(read_folder(folder, state))
    report.members += members.members
    report.payload_bytes = state.payload_bytes
    rules = FiscalRules(trust, require_trust, as_of, years, workers, max_idle_days)
    how = _Judgement(KeyBinding(shop_key, key_dossiers), now, rules)
    _judge(report, state, how, sidecars=(), shape=None)
    return report


@dataclass(frozen=True)
class _Judgement:
    """How the members, once read, are judged (the same for a stream and a folder)."""

    binding: KeyBinding
    now: dt.datetime | None
    fiscal: FiscalRules


def _judge(
    report: VerifyReport,
    state: StreamState,
    how: _Judgement,
    *,
    sidecars: tuple[minisign.Signature | None, ...],
    shape: bindings.ContainerShape | None,
) -> None:
    """Steps (4) to (8), from what the pass over the members collected."""
    now = how.now or dt.datetime.now(dt.UTC)
    report.verified_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    report.add_step(check_bag(state))
    auth = report.add_step(check_authenticity(report.files, sidecars, how.binding.key, state))
    report.manifest = auth.manifest
    files = [f.path for f in report.files]
    claims = check_claims(
        auth, state, shape, files, target=report.target, now=now, binding=how.binding
    )
    report.add_step(claims)
    report.fiscal = report.add_step(check_fiscal(auth.manifest, state, how.fiscal)).report
