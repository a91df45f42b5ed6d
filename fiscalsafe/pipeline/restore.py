"""``restore``: verify while extracting into a staging folder; publish only if proven.

Files are written under ``.NAME.fiscalsafe-partial`` beside the destination, created with
``O_EXCL | O_NOFOLLOW`` below a folder fiscalsafe made itself, so no member can write
outside it. When the whole stream is proven the staging folder is renamed to the
destination; otherwise it is deleted, and nothing that looks like a good restore remains.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.pipeline.verify_backup import Extractor, VerifyReport, verify_stream


class StagingExtractor(Extractor):
    def __init__(self, root: Path):
        self.root = root
        self.written = 0

    def open(self, relpath: str, mode: int) -> BinaryIO:
        target = self.root.joinpath(*relpath.split("/"))
        # The member name was already checked; this is a second, structural guard.
        if os.path.commonpath([self.root, target.resolve().parent]) != str(self.root):
            raise OperationalError(f"refusing to write {relpath!r} outside the restore folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        return os.fdopen(fd, "wb")

    def close(self, relpath: str, fh: BinaryIO, mode: int, mtime_ns: int) -> None:
        # The tar header's mode and time are not signed: ``apply_manifest`` sets both.
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        self.written += 1

    def apply_manifest(self, manifest: Manifest) -> None:
        """Every restored file gets the mode and time the signed manifest records."""
        for entry in manifest.files:
            target = self.root.joinpath(*entry.path.split("/"))
            os.chmod(target, entry.mode & 0o777, follow_symlinks=False)
            os.utime(target, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)


@dataclass
class RestoreResult:
    report: VerifyReport
    dest: Path
    restored: bool
    files: int
    rebuild_indexes: list[str]


def restore_backup(
    files: list[Path], dest: Path, *, allow_existing: bool = False, **verify_args
) -> RestoreResult:
    dest = dest.absolute()
    if dest.exists():
        if not dest.is_dir():
            raise UsageError(f"{dest} exists and is not a folder")
        if any(dest.iterdir()) and not allow_existing:
            raise UsageError(f"{dest} is not empty; choose an empty folder or pass --force")
    parent = dest.parent
    if not parent.is_dir():
        raise UsageError(f"{parent} does not exist")
    staging = parent / f".{dest.name}.fiscalsafe-partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    extractor = StagingExtractor(staging.resolve())
    try:
        report = verify_stream(files, extractor=extractor, **verify_args)
        if not report.ok or report.manifest is None:
            shutil.rmtree(staging, ignore_errors=True)
            return RestoreResult(report, dest, False, 0, [])
        extractor.apply_manifest(report.manifest)
        _publish(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    rebuild = []
    if report.manifest is not None and report.manifest.kind == "no-index":
        rebuild = [o.path for o in report.manifest.omitted if o.reason == "no-index"]
    return RestoreResult(report, dest, True, extractor.written, rebuild)


def _publish(staging: Path, dest: Path) -> None:
    if not dest.exists() or not any(dest.iterdir()):
        if dest.exists():
            os.rmdir(dest)
        os.rename(staging, dest)
        # The staging folder was private (0700) while unproven; the result is ordinary.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(dest, 0o777 & ~umask)
        return
    # --force into a non-empty folder: move each restored entry over what is there.
    for entry in sorted(staging.iterdir()):
        target = dest / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.rename(entry, target)
    staging.rmdir()
