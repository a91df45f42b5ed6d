"""``restore``: verify while extracting into a staging folder; publish only if proven.

Files are written under ``.NAME.fiscalsafe-partial`` beside the destination, created with
``O_EXCL | O_NOFOLLOW`` below a folder fiscalsafe made itself, so no member can write
outside it. When the whole stream is proven the staging folder is renamed to the
destination; otherwise it is deleted, and nothing that looks like a good restore remains.

``--force`` over an existing folder swaps: the old folder is renamed aside, the staging
folder renamed in, and the old one deleted only then; a failed swap is rolled back. Both
renames stay within one parent folder, so a destination that is a mount point (or on
another file system than its parent) cannot be swapped and is refused before anything.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fiscalsafe import fsio, oscompat
from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.formats import paths
from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.verify_backup import Extractor, VerifyReport, verify_stream


class StagingExtractor(Extractor):
    def __init__(self, root: Path):
        self.root = root
        self.written = 0

    def open(self, relpath: str, mode: int) -> BinaryIO:
        target = self.root.joinpath(*relpath.split("/"))
        # The member name was already checked; these are second, structural guards.
        reason = paths.unsafe_reason(relpath)
        if reason is not None:
            raise OperationalError(
                _("refusing to restore {name}: {reason}", name=repr(relpath), reason=reason)
            )
        if os.path.commonpath([self.root, target.resolve().parent]) != str(self.root):
            raise OperationalError(
                _("refusing to write {name} outside the restore folder", name=repr(relpath))
            )
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
        """Every restored file gets the mode and time the signed manifest records (on Windows
        never read-only: see ``oscompat.restored_mode``)."""
        for entry in manifest.files:
            target = self.root.joinpath(*entry.path.split("/"))
            mode = oscompat.restored_mode(entry.mode)
            oscompat.set_mode_and_time(target, mode, entry.mtime_ns)


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
    parent = dest.parent
    if not parent.is_dir():
        raise UsageError(_("{path} does not exist", path=parent))
    if os.path.lexists(dest):
        _refuse_unswappable(dest)
        if any(dest.iterdir()) and not allow_existing:
            raise UsageError(
                _("{dest} is not empty; choose an empty folder or pass --force", dest=dest)
            )
    staging = parent / f".{dest.name}.fiscalsafe-partial"
    _refuse_interrupted_swap(dest)
    _remove_leftover(staging)
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


def _refuse_unswappable(dest: Path) -> None:
    """Refuse, before anything is written, a destination the final swap could not
    replace atomically: the old data would be lost if the swap failed half-way."""
    st = os.lstat(dest)
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(_("{dest} is a link; restore into a real folder", dest=dest))
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(_("{dest} exists and is not a folder", dest=dest))
    if os.path.ismount(dest) or st.st_dev != os.stat(dest.parent).st_dev:
        raise UsageError(
            _(
                "{dest} is a mount point (or on another file system than {parent}): it "
                "cannot be replaced atomically; restore into a new folder inside it",
                dest=dest,
                parent=dest.parent,
            )
        )


def _swap_names(dest: Path) -> tuple[Path, Path]:
    """The folder the old destination is renamed to during a swap, and the marker that says
    a swap is under way (so the staging folder may hold entries of the old destination)."""
    return (
        dest.parent / f".{dest.name}.fiscalsafe-old",
        dest.parent / f".{dest.name}.fiscalsafe-swapping",
    )


def _refuse_interrupted_swap(dest: Path) -> None:
    """A swap killed half-way (power cut, SIGKILL) leaves the old data aside or in the
    staging folder: never delete it; say where it is and stop."""
    aside, marker = _swap_names(dest)
    staging = dest.parent / f".{dest.name}.fiscalsafe-partial"
    if os.path.lexists(aside) or os.path.lexists(marker):
        raise OperationalError(
            _(
                "an interrupted restore into {dest} left what was there in {aside} (and "
                "{staging}): move those entries back into {dest}, delete {marker}, then "
                "restore again; nothing was changed",
                dest=dest,
                aside=aside,
                staging=staging,
                marker=marker,
            )
        )


def _remove_leftover(path: Path) -> None:
    """Remove what an interrupted restore left at ``path``: a link as itself."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _publish(staging: Path, dest: Path) -> None:
    """Rename the proven staging folder to ``dest``. An existing ``dest`` is swapped: its
    entries the backup does not hold are carried into the staging folder, ``dest`` is
    renamed aside, the staging folder renamed in, and the old folder deleted only then.
    Any failure before that puts every entry back where it was."""
    umask = os.umask(0)
    os.umask(umask)
    if not os.path.lexists(dest):
        os.rename(staging, dest)
        # The staging folder was private (0700) while unproven; the result is ordinary.
        os.chmod(dest, 0o777 & ~umask)
        return
    old_mode = stat.S_IMODE(os.stat(dest).st_mode)
    aside, marker = _swap_names(dest)
    restored = {entry.name for entry in staging.iterdir()}
    carried: list[str] = []
    swapped = False
    fsio.write_new(marker, b"")  # from here on the old data may be outside dest
    try:
        for entry in sorted(dest.iterdir()):
            if entry.name not in restored:
                os.rename(entry, staging / entry.name)
                carried.append(entry.name)
        os.rename(dest, aside)
        os.rename(staging, dest)
        swapped = True
    except BaseException:
        _roll_back(staging, dest, aside, carried)
        os.unlink(marker)
        raise
    os.chmod(dest, old_mode)
    if swapped:
        shutil.rmtree(aside, ignore_errors=True)
    os.unlink(marker)


def _roll_back(staging: Path, dest: Path, aside: Path, carried: list[str]) -> None:
    """Undo a failed swap: the old folder back at ``dest``, carried entries back in it."""
    if os.path.lexists(aside):
        os.rename(aside, dest)
    for name in reversed(carried):
        os.rename(staging / name, dest / name)
