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
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from fiscalsafe import __version__, fsio, minisign
from fiscalsafe.errors import OperationalError, UsageError, VerificationError
from fiscalsafe.formats import bagit, layout, paths
from fiscalsafe.formats.dossier import (
    EXCLUDED_CATEGORIES,
    INDEX_CATEGORY,
    PHOTO_CATEGORY,
    DossierIdentity,
    Profile,
)
from fiscalsafe.formats.layout import EXTENSION, MANIFEST_PATH, REPORT_PATH, SIDECAR
from fiscalsafe.formats.manifest import (
    KINDS,
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestFile,
    OmittedFile,
)
from fiscalsafe.pipeline import media
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
from fiscalsafe.pipeline.tarwrite import TarWriter, member_header, padding
from fiscalsafe.units import human_size
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Severity
from fiscalsafe.verify.freshness import KnownPoint, head_claim, head_text
from fiscalsafe.verify.report import CheckReport

CHUNK = 1024 * 1024
#: zstd's multithreaded job size. Its default at level 3 (8 MiB jobs) holds ~90 MB of
#: buffers; 2 MiB jobs hold ~45 MB for the same CPU time and a 0.07 % larger archive on the
#: 2 GB sample, which keeps the whole process tree (the fiscal check's workers run
#: alongside) under 200 MB.
ZSTD_JOB_SIZE = 2 * 1024 * 1024
MAX_PARTS = 999  # part suffixes have three digits
#: Small fiscal files first, so a one-pass verifier meets the keys and journal early.
FIRST_CATEGORIES = ("identity", "key", "journal", "fiscal-archive")


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
            "findings_recorded": self.findings_recorded,
            "forced": self.forced,
            "omitted": self.omitted,
            "removed_by_rotation": [str(p) for p in self.removed_by_rotation],
            "seconds": round(self.seconds, 3),
        }


class RefusedError(OperationalError):
    """Pre-flight refused the backup; nothing was written."""


class FindingsRefusal(VerificationError):
    """The fiscal check failed and --allow-findings was not given; nothing was written."""

    def __init__(self, message: str, report: CheckReport):
        super().__init__(message)
        self.report = report


class UnportableNames(VerificationError):
    """The dossier holds names that verify would refuse; nothing was written."""


def refuse_unportable_names(files: list[DossierFile], shown: int = 20) -> None:
    """Refuse, before a byte is written, a dossier whose names the path policy rejects:
    a backup must never be one that its own verify refuses."""
    problems = [f"{f.relpath!r} ({r})" for f in files if (r := paths.unsafe_reason(f.relpath))]
    problems += [
        f"{a!r} and {b!r} (one file on Windows and macOS)"
        for a, b in paths.clashes(f.relpath for f in files)
    ]
    if problems:
        more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
        raise UnportableNames(
            "the dossier holds names that cannot be restored on every system; rename them "
            "(nothing was written): " + "; ".join(problems[:shown]) + more
        )


def select_files(
    files: list[DossierFile], kind: str
) -> tuple[list[DossierFile], list[OmittedFile]]:
    """(1): which files go in, and which are deliberately left out, and why."""
    if kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}")
    chosen, omitted = [], []
    for f in files:
        reason = None
        if f.category in EXCLUDED_CATEGORIES:
            reason = f.category
        elif kind == "photos" and f.category != PHOTO_CATEGORY:
            reason = "not-photo"
        elif kind != "photos" and f.category == PHOTO_CATEGORY:
            reason = "photos-excluded"
        elif kind == "no-index" and f.category == INDEX_CATEGORY:
            reason = "no-index"
        if reason is None:
            chosen.append(f)
        else:
            omitted.append(OmittedFile(f.relpath, f.category, f.size, reason))

    def order(f: DossierFile) -> tuple[int, str]:
        rank = FIRST_CATEGORIES.index(f.category) if f.category in FIRST_CATEGORIES else 99
        return rank, f.relpath

    chosen.sort(key=order)
    return chosen, omitted


def backup_name(identity: DossierIdentity, opts: BackupOptions, now: dt.datetime) -> str:
    local = now.astimezone(identity.zone)
    if opts.rotate == "weekday":
        stamp = media.WEEKDAYS_FR[local.weekday()]
    elif opts.rotate is None:
        stamp = local.strftime("%Y-%m-%d")
    else:
        raise UsageError("--rotate takes 'weekday'")
    if opts.name:
        return media.portable_name(opts.name)
    return media.portable_name(f"{identity.dossier_id}_{stamp}_{opts.kind}")


def preflight_locks(files: list[DossierFile], force: bool) -> list[str]:
    locks = [f for f in files if f.category == "lock"]
    if not locks:
        return []
    names = []
    for f in locks:
        try:
            holder = f.path.read_bytes()[:200].decode("utf-8", "replace").split()
        except OSError:
            holder = []
        names.append(f"{f.relpath} ({holder[0] if holder else 'unknown workstation'})")
    if not force:
        raise RefusedError(
            "the shop application is still open; close it on every workstation first: "
            + ", ".join(names)
            + " (or pass --force, which the manifest records)"
        )
    return names


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
        raise UsageError(f"destination {dest} is not a folder")
    identity = load_identity(dossier, profile)
    files = walk_dossier(dossier, profile)
    refuse_unportable_names(files)
    chosen, omitted = select_files(files, opts.kind)

    # (2) Pre-flight, before a byte is written.
    locks = preflight_locks(files, opts.force)
    needed = estimate_size(chosen, opts.level)
    available = media.free_bytes(dest)
    if needed > available:
        raise RefusedError(
            f"not enough space on {dest}: the backup needs about {human_size(needed)}, "
            f"{human_size(available)} available"
        )
    name = backup_name(identity, opts, now)
    file_name = name + EXTENSION
    split = opts.split_size
    if split is None and media.needs_split(dest):
        split = media.FAT32_PART_SIZE
    if split is not None and needed // max(1, split) >= MAX_PARTS:
        raise UsageError(
            f"--split {split} would make about {needed // split + 1} parts; the most is "
            f"{MAX_PARTS} (.001 to .999): choose a larger size"
        )
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
        ) as pending,
    ):
        for point in backups_on_medium(dest, identity.dossier_id, file_name, secret.public_key()):
            pending.expect_extends(point)
        gate = CheckGate(pending, identity.dossier_id, opts.allow_findings, on_report)
        plan = PackagePlan(name, chosen, omitted, identity, gate, secret, now, profile, opts, locks)
        sink, manifest_bytes, payload_bytes, report = _commit_archive(
            dest, file_name, split, plan, progress, on_stage
        )
    if opts.state is not None:
        opts.state.advance(report, "backup", now)
    removed = (
        rotate_keep(dest, identity.dossier_id, opts.keep, secret.public_key(), opts.kind)
        if opts.keep
        else []
    )
    archive_bytes = sum(p.size for p in sink.parts)
    return BackupResult(
        dossier=identity.dossier_id,
        kind=opts.kind,
        bag=name,
        files=[p.final for p in sink.parts],
        parts=len(sink.parts),
        payload_files=len(chosen),
        payload_bytes=payload_bytes,
        archive_bytes=archive_bytes,
        sha256=[p.sha256 for p in sink.parts],
        coverage=report.coverage.to_json() if report.coverage and opts.kind != "photos" else None,
        check_verdict=report.verdict,
        check_counts=report.counts(),
        findings_recorded=not report.ok,
        forced=bool(locks),
        omitted=len(omitted),
        removed_by_rotation=removed,
        seconds=(dt.datetime.now(dt.UTC) - started).total_seconds(),
        check_report=report,
        left_out=omitted,
    )


class CheckGate:
    """The fiscal check's verdict, as the gate of a backup.

    ``poll`` is cheap and runs while packaging: once the check is over, a failed one
    stops the backup at once instead of after the whole dossier is written. ``verdict``
    waits for the check; it raises ``FindingsRefusal`` unless the check passed or
    findings are allowed."""

    def __init__(
        self,
        pending: PendingCheck,
        dossier_id: str,
        allow_findings: bool,
        on_report: Callable[[CheckReport], None] | None,
    ):
        self._pending = pending
        self._dossier_id = dossier_id
        self._allow_findings = allow_findings
        self._on_report = on_report
        self._report: CheckReport | None = None
        self._polls = 0

    def done(self) -> bool:
        return self._report is not None or self._pending.done()

    def poll(self) -> None:
        self._polls += 1
        if self._report is None and self._polls % 16 == 0 and self._pending.done():
            self.verdict()

    def verdict(self) -> CheckReport:
        if self._report is not None:
            return self._report
        report = self._pending.result()
        rollback = [f for f in report.findings if f.code in ROLLBACK_CODES]
        if rollback:
            # Never overridable: replacing a newer backup with an older history would
            # destroy the only copy of the newer one.
            raise FindingsRefusal(
                f"dossier {self._dossier_id} is older than a history already proven "
                f"({rollback[0].message}); nothing was written and the backups already on "
                "the medium are untouched. If this is a deliberate restore of an old state, "
                "back it up to another medium or under another --name",
                report,
            )
        if not report.ok and not self._allow_findings:
            counts = report.counts()
            codes = sorted({f.code for f in report.findings if f.severity is Severity.ERROR})
            why = (
                f"{counts['error']} error(s): {', '.join(codes[:8])}"
                if codes
                else "the editor key is self-asserted (pass --trust, or put the editor's key "
                "in the trust folder)"
            )
            raise FindingsRefusal(
                f"dossier {self._dossier_id} failed the fiscal check ({why}); no backup was "
                "written. Run 'fiscalsafe check' for details, or pass --allow-findings to back "
                "it up anyway with the findings recorded in the signed manifest",
                report,
            )
        self._report = report
        if self._on_report:
            self._on_report(report)
        return report


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


def _commit_archive(
    dest: Path,
    file_name: str,
    split: int | None,
    plan: PackagePlan,
    progress: Callable[[int, int], None] | None,
    on_stage: Callable[[str], None] | None,
) -> tuple[OutputSink, bytes, int, CheckReport]:
    """(3) to (7): write under ``.partial`` names, sign, read back, rename into place."""
    sink = OutputSink(dest, file_name, split)
    total_bytes = sum(f.size for f in plan.chosen)
    name, identity, opts, now, secret = plan.name, plan.identity, plan.opts, plan.now, plan.secret
    try:
        if on_stage:
            on_stage("packaging")
        manifest_bytes, payload_bytes, report = _write_archive(
            sink, plan, total_bytes, progress, on_stage
        )
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
    except BaseException:
        sink.abort()
        for leftover in dest.glob(f".{file_name}*.partial"):
            with contextlib.suppress(OSError):  # see OutputSink.abort
                leftover.unlink(missing_ok=True)
        raise

    return sink, manifest_bytes, payload_bytes, report


def _write_archive(
    sink: OutputSink, plan: PackagePlan, total_bytes: int, progress, on_stage=None
) -> tuple[bytes, int, CheckReport]:
    """Write the whole tar stream; return the manifest's bytes, the payload size and the
    check report the gate let through."""
    name, chosen, omitted, identity = plan.name, plan.chosen, plan.omitted, plan.identity
    secret, now, profile, opts, locks = (
        plan.secret, plan.now, plan.profile, plan.opts, plan.locks
    )  # fmt: skip
    # (3) One pass: read, hash, tar, compress.
    params = zstandard.ZstdCompressionParameters.from_level(
        opts.level, threads=opts.threads, write_checksum=True, job_size=ZSTD_JOB_SIZE
    )
    cctx = zstandard.ZstdCompressor(compression_params=params)
    mtime_ns = int(now.timestamp()) * 1_000_000_000
    with cctx.stream_writer(sink, closefd=False, write_size=CHUNK) as zout:
        tar = TarWriter(zout)
        bagit_txt = bagit.render_bagit_txt()
        tar.add_bytes(f"{name}/bagit.txt", bagit_txt, mtime_ns=mtime_ns)
        entries: list[ManifestFile] = []
        done = 0
        buffer = bytearray(CHUNK)
        for f in chosen:
            digest = _copy_member(
                tar,
                f,
                f"{name}/data/{f.relpath}",
                progress,
                done,
                total_bytes,
                plan.check.poll,
                buffer,
            )
            done += f.size
            entries.append(ManifestFile(f.relpath, f.category, f.size, f.mode, f.mtime_ns, digest))
        # (4) The gate: nothing below is written before the check has a verdict. While
        # the workers finish it, read back what is already on the medium.
        if not plan.check.done():
            if on_stage:
                on_stage("checking")
            zout.flush(zstandard.FLUSH_BLOCK)  # the whole payload, out of zstd's buffers
            sink.read_back_written()
        report = plan.check.verdict()
        # Tag files: the check report, the BagIt manifests and bag-info, our manifest.
        report_bytes = (json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n").encode()
        payload_manifest = bagit.render_manifest([(f"data/{e.path}", e.sha256) for e in entries])
        payload_bytes = sum(e.size for e in entries)
        bag_info = bagit.render_bag_info(
            [
                (label, " ".join(value.split()))
                for label, value in [
                    ("Source-Organization", identity.shop_name),
                    ("External-Identifier", identity.dossier_id),
                    (
                        "External-Description",
                        f"fiscalsafe {opts.kind} backup of dossier {identity.dossier_id}",
                    ),
                    ("Bagging-Date", now.astimezone(identity.zone).date().isoformat()),
                    ("Bag-Software-Agent", f"fiscalsafe {__version__}"),
                    ("Payload-Oxum", bagit.payload_oxum(payload_bytes, len(entries))),
                    ("Bag-Size", human_size(payload_bytes)),
                    ("SIRET", identity.siret),
                    ("Fiscalsafe-Kind", opts.kind),
                    ("Fiscalsafe-Created", now.strftime("%Y-%m-%dT%H:%M:%SZ")),
                ]
            ]
        )
        tags = {
            "bagit.txt": bagit_txt,
            REPORT_PATH: report_bytes,
            "manifest-sha256.txt": payload_manifest,
            "bag-info.txt": bag_info,
        }
        for path in (REPORT_PATH, "manifest-sha256.txt", "bag-info.txt"):
            tar.add_bytes(f"{name}/{path}", tags[path], mtime_ns=mtime_ns)
        manifest = Manifest(
            version=(1, 0),
            tool=f"fiscalsafe {__version__}",
            created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            bag=name,
            kind=opts.kind,
            dossier={
                "id": identity.dossier_id,
                "shop": identity.shop_name,
                "siret": identity.siret,
                "tz": identity.tz,
            },
            profile=profile.name,
            forced=bool(locks),
            allow_findings=opts.allow_findings,
            files=tuple(entries),
            omitted=tuple(omitted),
            tag_files={p: hashlib.sha256(b).hexdigest() for p, b in tags.items()},
            check=_check_summary(report, locks),
            shop_key=secret.fingerprint,
        )
        manifest_bytes = manifest.to_bytes()
        if len(manifest_bytes) > MAX_MANIFEST_BYTES:
            raise OperationalError(
                f"{len(entries)} files make a manifest larger than a verifier reads "
                f"({MAX_MANIFEST_BYTES} bytes); back this dossier up in parts"
            )
        manifest_sig = minisign.sign_bytes(
            secret,
            manifest_bytes,
            layout.manifest_comment(
                bag=name,
                dossier=identity.dossier_id,
                created=manifest.created,
                sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            ),
        )
        tar.add_bytes(f"{name}/{MANIFEST_PATH}", manifest_bytes, mtime_ns=mtime_ns)
        tar.add_bytes(f"{name}/{MANIFEST_PATH}{SIDECAR}", manifest_sig, mtime_ns=mtime_ns)
        tag_entries = [(p, hashlib.sha256(b).hexdigest()) for p, b in tags.items()]
        tag_entries.append((MANIFEST_PATH, hashlib.sha256(manifest_bytes).hexdigest()))
        tag_entries.append((MANIFEST_PATH + SIDECAR, hashlib.sha256(manifest_sig).hexdigest()))
        tar.add_bytes(
            f"{name}/tagmanifest-sha256.txt", bagit.render_manifest(tag_entries), mtime_ns=mtime_ns
        )
        tar.end()
    return manifest_bytes, payload_bytes, report


def _check_summary(report: CheckReport, locks: list[str]) -> dict:
    doc = report.to_json()
    return {
        "verdict": doc["verdict"],
        "as_of": doc["as_of"],
        "years": doc["years"],
        "trust": doc["trust"],
        "coverage": doc["coverage"],
        "journal_head": doc["journal_head"],
        "stats": doc["stats"],
        "counts": doc["counts"],
        "findings": [f for f in doc["findings"] if f["severity"] != "info"],
        "locks": locks,
    }


ROLLBACK_CODES = ("JOURNAL_ROLLBACK", "ARCHIVE_ROLLBACK")


class ChangedDuringBackup(OperationalError):
    pass


def _copy_member(
    tar: TarWriter,
    f: DossierFile,
    member: str,
    progress,
    done: int,
    total: int,
    poll: Callable[[], None],
    buffer: bytearray,
) -> str:
    """Stream one file into the tar, hashing it; fail if it changes while copied.

    ``poll`` runs between chunks: it raises to stop the packaging (a failed check).
    ``buffer`` (``CHUNK`` bytes) is read into, and reused from file to file: a fresh 1 MB
    bytes object per read cost a page fault per 4 KB (~34,000 for a 2 GB dossier, ~0.2 s
    of system time, measured). The hash and the compressor have consumed a chunk when
    their calls return."""
    digest = hashlib.sha256()
    # Checked again on the open descriptor: the entry may have become a FIFO or a link.
    fh = fsio.open_regular(f.path, "dossier file", OperationalError, buffering=0)
    if fh is None:
        raise ChangedDuringBackup(f"{f.relpath} vanished during the backup; run it again")
    view = memoryview(buffer)
    with fh:
        st = os.fstat(fh.fileno())
        if st.st_size != f.size or st.st_mtime_ns != f.mtime_ns:
            raise ChangedDuringBackup(f"{f.relpath} changed during the backup; run it again")
        tar.write(member_header(member, f.size, f.mode, f.mtime_ns))
        left = f.size
        while left:
            n = fh.readinto(view[: min(CHUNK, left)])
            if not n:
                raise ChangedDuringBackup(f"{f.relpath} shrank during the backup; run it again")
            chunk = view[:n]
            digest.update(chunk)
            tar.write(chunk)
            left -= n
            if progress:
                progress(done + f.size - left, total)
            poll()
        if fh.read(1):
            raise ChangedDuringBackup(f"{f.relpath} grew during the backup; run it again")
        tar.write(padding(f.size))
        after = os.fstat(fh.fileno())
        if after.st_mtime_ns != f.mtime_ns or after.st_size != f.size:
            raise ChangedDuringBackup(f"{f.relpath} changed during the backup; run it again")
    return digest.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    fsio.write_new(path, data, sync=True)


def _remove_stale_parts(dest: Path, file_name: str, new_parts: int) -> None:
    """Files of a previous backup of the same name that the new one will not replace: its
    extra parts (or all its parts, when the new backup is one file, ``new_parts == 0``),
    or its single file when the new backup is split. Left behind, they would look like
    members of the new set."""
    for old in dest.glob(f"{file_name}.[0-9][0-9][0-9]"):
        if int(old.suffix[1:]) > new_parts:
            old.unlink(missing_ok=True)
            Path(str(old) + SIDECAR).unlink(missing_ok=True)
    if new_parts:
        (dest / file_name).unlink(missing_ok=True)
        (dest / f"{file_name}{SIDECAR}").unlink(missing_ok=True)


def backups_on_medium(
    dest: Path, dossier_id: str, file_name: str, shop_key: minisign.PublicKey
) -> list[KnownPoint]:
    """The journal heads that this shop's backups of the dossier already on ``dest`` proved,
    from their signed sidecars (the one this backup would replace first): the new backup's
    history must extend each of them."""
    from fiscalsafe.pipeline.listing import list_backups

    points = []
    for entry in list_backups(dest, trusted=shop_key):
        head = head_claim(entry.head)
        if entry.dossier == dossier_id and head is not None:
            replaced = entry.name == file_name
            points.append((not replaced, KnownPoint(f"backup {entry.name} on the medium", head)))
    return [p for _, p in sorted(points, key=lambda item: item[0])]


def rotate_keep(
    dest: Path, dossier_id: str, keep: int, shop_key: minisign.PublicKey, kind: str
) -> list[Path]:
    """Keep the ``keep`` newest backups of this dossier and kind in ``dest``; remove older
    ones. Another kind is never removed: a nightly full backup must not delete the only
    copy of the photos.

    Age comes from the creation time in each sidecar's trusted comment, and only sidecars
    this shop key signed count: a planted sidecar can never make rotation delete a backup.
    """
    from fiscalsafe.pipeline.listing import list_backups

    mine = [
        b
        for b in list_backups(dest, trusted=shop_key)
        if b.dossier == dossier_id and b.kind == kind and b.created
    ]
    mine.sort(key=lambda b: b.created, reverse=True)
    removed: list[Path] = []
    for old in mine[keep:]:
        for path in old.paths:
            for p in (path, Path(str(path) + SIDECAR)):
                if p.exists():
                    p.unlink()
                    removed.append(p)
    return removed
