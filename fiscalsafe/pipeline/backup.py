"""``backup``: gate on the fiscal check, package in one streaming pass, sign, read back.

Plan (each step tagged ``# (n):`` below):
(1) select files by kind; (2) pre-flight, before a byte is written: lock files, free
space; the fiscal check is started (its signatures are verified by worker processes);
(3) one pass: read each file once, hash it, write it as a pax tar member into a
multithreaded zstd stream, under hidden ``.partial`` names, while the check runs; (4) the
gate: the check's verdict, then the tag files and the signed manifest that records it;
(5) flush, fsync, sign the archive (minisign sidecars); (6) read everything back from the
medium; (7) only then rename over any previous backup; (8) rotation. Any failure, and a
failed check, removes the partial files; the previous backup is untouched.

Why the check overlaps the packaging instead of preceding it: signature checking is
CPU-bound and writing to a USB medium is I/O-bound, so together they take little more
than the longer of the two. The check still gates everything that matters: a failed
check stops the packaging as soon as it is known and deletes the partial file, so a
refused backup leaves nothing on the medium and never replaces a previous backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from fiscalsafe import fsio, minisign
from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.formats import bagit, layout
from fiscalsafe.formats.dossier import DossierIdentity, Profile
from fiscalsafe.formats.layout import EXTENSION, REPORT_PATH, SIDECAR
from fiscalsafe.formats.manifest import OmittedFile
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.backup_frames import FramedOutput, FrameTap, SegmentFrames
from fiscalsafe.pipeline.backup_gate import ROLLBACK_CODES, CheckGate, FindingsRefusal
from fiscalsafe.pipeline.backup_medium import _remove_stale_parts, backups_on_medium, rotate_keep
from fiscalsafe.pipeline.backup_payload import (
    ChangedDuringBackup,
    require_proven_bytes_packaged,
    write_payload,
)
from fiscalsafe.pipeline.backup_select import (
    CHUNK,
    FIRST_CATEGORIES,
    RefusedError,
    UnportableNames,
    backup_name,
    preflight_locks,
    preflight_space,
    refuse_unportable_names,
    select_files,
)
from fiscalsafe.pipeline.backup_tags import render_tags, write_manifest
from fiscalsafe.pipeline.check import (
    DossierFile,
    PendingCheck,
    load_identity,
    start_check,
    walk_dossier,
)
from fiscalsafe.pipeline.estimate import estimate_size
from fiscalsafe.pipeline.interrupts import terminate_as_interrupt
from fiscalsafe.pipeline.sink import OutputSink, fsync_dir
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.pipeline.tarwrite import TarWriter
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.freshness import head_text
from fiscalsafe.verify.report import CheckReport

#: Re-exported: callers and tests import these from ``backup``.
__all__ = [
    "CHUNK",
    "FIRST_CATEGORIES",
    "ROLLBACK_CODES",
    "BackupOptions",
    "BackupResult",
    "ChangedDuringBackup",
    "CheckGate",
    "FindingsRefusal",
    "PendingCheck",
    "ProofsNotRecorded",
    "RefusedError",
    "UnportableNames",
    "backup_dossier",
    "backup_name",
    "backups_on_medium",
    "estimate_size",
    "preflight_locks",
    "refuse_unportable_names",
    "rotate_keep",
    "select_files",
]

#: zstd's multithreaded job size. Its default at level 3 (8 MiB jobs) holds ~90 MB of
#: buffers; 2 MiB jobs hold ~45 MB for the same CPU time and a 0.07 % larger archive on the
#: 2 GB sample, which keeps the whole process tree (the fiscal check's workers run
#: alongside) under 200 MB.
ZSTD_JOB_SIZE = 2 * 1024 * 1024


@dataclass
class BackupOptions:
    kind: str = "full"
    name: str | None = None
    rotate: str | None = None  # None | "weekday"
    keep: int | None = None
    allow_findings: bool = False
    force: bool = False
    level: int = 3
    threads: int = -1  # zstd worker threads; -1 = one per core
    split_size: int | None = None  # None = automatic (FAT32 -> 4000 MiB parts)
    years: int = 6
    trust: list[Path] = field(default_factory=list)
    require_trust: bool = False
    max_idle_days: int = MAX_IDLE_DAYS
    #: What fiscalsafe proved before, per dossier; ``None`` keeps no state.
    state: StateStore | None = None
    #: Reuse and record remembered proofs of sealed archives in ``state``.
    remember: bool = True


@dataclass
class BackupResult:
    dossier: str
    kind: str
    bag: str
    files: list[Path]
    parts: int
    payload_files: int
    payload_bytes: int
    archive_bytes: int
    sha256: list[str]
    coverage: dict | None
    check_verdict: str
    check_counts: dict
    findings_recorded: bool
    forced: bool
    omitted: int
    removed_by_rotation: list[Path]
    seconds: float = 0.0
    check_report: CheckReport | None = field(default=None, repr=False)
    read_from_medium: bool = True  # False: the read-back could not bypass the system cache
    #: Fiscal archives verified by this backup, and taken from remembered proofs.
    archive_proofs: dict[str, int] = field(default_factory=dict)
    #: Segments of large files compressed, and taken from the frames the last backup kept.
    segments: dict[str, int] = field(default_factory=SegmentFrames.none)
    left_out: list[OmittedFile] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return {
            "dossier": self.dossier,
            "kind": self.kind,
            "bag": self.bag,
            "files": [str(p) for p in self.files],
            "parts": self.parts,
            "payload_files": self.payload_files,
            "payload_bytes": self.payload_bytes,
            "archive_bytes": self.archive_bytes,
            "compression_ratio": round(self.payload_bytes / self.archive_bytes, 3)
            if self.archive_bytes
            else None,
            "sha256": self.sha256,
            "coverage": self.coverage,
            "check": {"verdict": self.check_verdict, "counts": self.check_counts},
            "archive_proofs": self.archive_proofs,
            "segments": self.segments,
            "findings_recorded": self.findings_recorded,
            "forced": self.forced,
            "omitted": self.omitted,
            "removed_by_rotation": [str(p) for p in self.removed_by_rotation],
            "read_back_from_medium": self.read_from_medium,
            "seconds": round(self.seconds, 3),
        }


def backup_dossier(
    dossier: Path,
    dest: Path,
    secret: minisign.SecretKey,
    *,
    now: dt.datetime,
    profile: Profile,
    opts: BackupOptions,
    progress: Callable[[int, int], None] | None = None,
    on_report: Callable[[CheckReport], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> BackupResult:
    """Back up one dossier into ``dest``. Raises on refusal or failure, leaving no partial.

    ``on_stage`` is told what the long wait is about: "packaging", "checking", "reading
    back"."""
    started = dt.datetime.now(dt.UTC)
    if not dest.is_dir():
        raise UsageError(_("destination {dest} is not a folder", dest=dest))
    identity = load_identity(dossier, profile)
    files = walk_dossier(dossier, profile)
    refuse_unportable_names(files)
    chosen, omitted = select_files(files, opts.kind)

    # (2) Pre-flight, before a byte is written.
    locks = preflight_locks(files, opts.force)
    split = preflight_space(dest, chosen, opts)
    name = backup_name(identity, opts, now)
    file_name = name + EXTENSION
    # The fiscal check: started here, awaited by the gate before the manifest is written.
    with (
        terminate_as_interrupt(),
        start_check(
            dossier,
            as_of=now,
            years=opts.years,
            trust=opts.trust,
            require_trust=opts.require_trust,
            profile=profile,
            max_idle_days=opts.max_idle_days,
            state=opts.state,
            proof_seed=secret.seed if opts.state is not None and opts.remember else None,
            packaged={f.relpath for f in chosen},
            files=files,
        ) as pending,
    ):
        for point in backups_on_medium(dest, identity.dossier_id, file_name, secret.public_key()):
            pending.expect_extends(point)
        gate = CheckGate(pending, identity.dossier_id, opts.allow_findings, on_report)
        segments = (
            SegmentFrames.open(opts.state, secret.seed, identity.dossier_id, opts.kind, opts.level)
            if opts.state is not None and opts.remember
            else None
        )
        plan = PackagePlan(
            name, chosen, omitted, identity, gate, secret, now, profile, opts, locks, segments
        )
        remember = pending.remember_proofs if opts.state is not None else None
        sink, manifest_bytes, payload_bytes, report, remembering = _commit_archive(
            dest, file_name, split, plan, progress, on_stage, remember
        )
    if opts.state is not None:
        opts.state.advance(report, "backup", now)
    removed = (
        rotate_keep(dest, identity.dossier_id, opts.keep, secret.public_key(), opts.kind)
        if opts.keep
        else []
    )
    unrecorded = remembering.exception() if remembering is not None else None
    if unrecorded is not None:
        raise ProofsNotRecorded(
            _(
                "backup {name} is in place, read back from the medium; but its proofs were not "
                "recorded ({error}): the next backup proves every archive in full",
                name=name,
                error=unrecorded,
            )
        )
    return _backup_result(plan, sink, payload_bytes, report, removed, started)


class ProofsNotRecorded(OperationalError):
    """The backup is in place, the state has moved on; only the remembered proofs of its
    check could not be written (the next backup proves everything again)."""


def _backup_result(
    plan: PackagePlan,
    sink: OutputSink,
    payload_bytes: int,
    report: CheckReport,
    removed: list[Path],
    started: dt.datetime,
) -> BackupResult:
    opts = plan.opts
    return BackupResult(
        dossier=plan.identity.dossier_id,
        kind=opts.kind,
        bag=plan.name,
        files=[p.final for p in sink.parts],
        parts=len(sink.parts),
        payload_files=len(plan.chosen),
        payload_bytes=payload_bytes,
        archive_bytes=sum(p.size for p in sink.parts),
        sha256=[p.sha256 for p in sink.parts],
        coverage=report.coverage.to_json() if report.coverage and opts.kind != "photos" else None,
        check_verdict=report.verdict,
        check_counts=report.counts(),
        findings_recorded=not report.ok,
        forced=bool(plan.locks),
        omitted=len(plan.omitted),
        removed_by_rotation=removed,
        seconds=(dt.datetime.now(dt.UTC) - started).total_seconds(),
        check_report=report,
        read_from_medium=sink.read_from_medium,
        archive_proofs=dict(report.archive_proofs),
        segments=plan.segments.counts() if plan.segments else SegmentFrames.none(),
        left_out=plan.omitted,
    )


@dataclass(frozen=True)
class PackagePlan:
    """Everything pre-flight decided, for the one packaging pass."""

    name: str  # the bag's folder and the file's base name
    chosen: list[DossierFile]
    omitted: list[OmittedFile]
    identity: DossierIdentity
    check: CheckGate
    secret: minisign.SecretKey
    now: dt.datetime
    profile: Profile
    opts: BackupOptions
    locks: list[str]
    segments: SegmentFrames | None = None  # large files in frames, remembered for next time


def _commit_archive(
    dest: Path,
    file_name: str,
    split: int | None,
    plan: PackagePlan,
    progress: Callable[[int, int], None] | None,
    on_stage: Callable[[str], None] | None,
    remember: Callable[[], object] | None = None,
) -> tuple[OutputSink, bytes, int, CheckReport, Future | None]:
    """(3) to (7): write under ``.partial`` names, sign, read back, rename into place.

    ``remember`` (recording the check's proofs) runs on a thread of its own once the check
    has passed the gate, while the archive is synced and read back: both mostly wait on
    the medium. Its future is returned, done: an error there does not undo the backup."""
    sink = OutputSink(dest, file_name, split)
    total_bytes = sum(f.size for f in plan.chosen)
    with ThreadPoolExecutor(1, thread_name_prefix="fiscalsafe-remember") as meanwhile:
        remembering = None
        try:
            if on_stage:
                on_stage("packaging")
            manifest_bytes, payload_bytes, report = _write_archive(
                sink, plan, total_bytes, progress, on_stage
            )
            if remember is not None:
                remembering = meanwhile.submit(remember)
            _sign_read_back_install(
                sink, dest, file_name, split, plan, manifest_bytes, report, on_stage
            )
            if plan.segments is not None:  # kept only from a backup that is in place
                plan.segments.finish(ok=True)
        except BaseException:
            if plan.segments is not None:
                plan.segments.finish(ok=False)
            sink.abort()
            for leftover in dest.glob(f".{file_name}*.partial"):
                with contextlib.suppress(OSError):  # see OutputSink.abort
                    leftover.unlink(missing_ok=True)
            raise
    return sink, manifest_bytes, payload_bytes, report, remembering


def _sign_read_back_install(
    sink: OutputSink,
    dest: Path,
    file_name: str,
    split: int | None,
    plan: PackagePlan,
    manifest_bytes: bytes,
    report: CheckReport,
    on_stage: Callable[[str], None] | None,
) -> None:
    """(5) to (7), once the last byte is written."""
    name, identity, opts, now, secret = plan.name, plan.identity, plan.opts, plan.now, plan.secret
    sink.close()
    # (5) Sidecar signatures over each written file, tied to the manifest's digest.
    set_id = hashlib.sha256(manifest_bytes).hexdigest()[:32]
    # A photos backup holds no fiscal file: it claims no coverage.
    cov = report.coverage if opts.kind != "photos" else None
    covered = f"{cov.covered[0][0]}..{cov.covered[-1][1]}" if cov and cov.covered else "none"
    history = report.history
    head = head_text(history.tip) if history and history.head_signed else None
    sidecars = []
    for index, part in enumerate(sink.parts, 1):
        comment = layout.sidecar_comment(
            file=part.final.name,
            bag=name,
            dossier=identity.dossier_id,
            kind=opts.kind,
            created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            part=index,
            parts=len(sink.parts),
            set_id=set_id,
            coverage=covered,
            head=head,
        )
        sig = minisign.sign_stream(secret, part.blake2b, comment)
        side_partial = dest / f".{part.final.name}{SIDECAR}.partial"
        _write_synced(side_partial, sig)
        sidecars.append((side_partial, dest / f"{part.final.name}{SIDECAR}"))
    # (6) Read back from the medium before anything old is replaced.
    if on_stage:
        on_stage("reading back")
    sink.readback()
    # (7) Commit: archive parts first, then their sidecars; then the folder entry.
    _remove_stale_parts(dest, file_name, len(sink.parts) if split else 0)
    for part in sink.parts:
        fsio.install(part.partial, part.final)
    for partial, final in sidecars:
        fsio.install(partial, final)
    fsync_dir(dest)


def _write_archive(
    sink: OutputSink, plan: PackagePlan, total_bytes: int, progress, on_stage=None
) -> tuple[bytes, int, CheckReport]:
    """Write the whole tar stream; return the manifest's bytes, the payload size and the
    check report the gate let through."""
    name, opts, now = plan.name, plan.opts, plan.now
    # (3) One pass: read, hash, tar, compress.
    params = zstandard.ZstdCompressionParameters.from_level(
        opts.level, threads=opts.threads, write_checksum=True, job_size=ZSTD_JOB_SIZE
    )
    cctx = zstandard.ZstdCompressor(compression_params=params)
    mtime_ns = int(now.timestamp()) * 1_000_000_000
    tap = FrameTap(sink)
    with cctx.stream_writer(tap, closefd=False, write_size=CHUNK) as zout:
        out = FramedOutput(zout, tap, plan.segments)
        tar = TarWriter(out)
        bagit_txt = bagit.render_bagit_txt()
        tar.add_bytes(f"{name}/bagit.txt", bagit_txt, mtime_ns=mtime_ns)
        entries = write_payload(tar, plan, total_bytes, progress, out)
        # (4) The gate: nothing below is written before the check has a verdict. While
        # the workers finish it, read back what is already on the medium.
        if not plan.check.done():
            if on_stage:
                on_stage("checking")
            zout.flush(zstandard.FLUSH_BLOCK)  # the whole payload, out of zstd's buffers
            sink.read_back_written()
        report = plan.check.verdict()
        require_proven_bytes_packaged(report, entries)
        # Tag files: the check report, the BagIt manifests and bag-info, our manifest.
        tags, payload_bytes = render_tags(plan, report, entries, bagit_txt)
        for path in (REPORT_PATH, "manifest-sha256.txt", "bag-info.txt"):
            tar.add_bytes(f"{name}/{path}", tags[path], mtime_ns=mtime_ns)
        manifest_bytes = write_manifest(tar, plan, report, entries, tags, mtime_ns)
        tar.end()
    return manifest_bytes, payload_bytes, report


def _write_synced(path: Path, data: bytes) -> None:
    fsio.write_new(path, data, sync=True)
