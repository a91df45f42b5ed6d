"""``backup`` pre-flight: which files go in, under what name, and whether there is room.

Everything here runs before a byte is written (steps (1) and (2) of ``backup.py``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from fiscalsafe import localformat
from fiscalsafe.errors import OperationalError, UsageError, VerificationError
from fiscalsafe.formats import paths
from fiscalsafe.formats.dossier import (
    EXCLUDED_CATEGORIES,
    INDEX_CATEGORY,
    PHOTO_CATEGORY,
    DossierIdentity,
)
from fiscalsafe.formats.manifest import KINDS, OmittedFile
from fiscalsafe.i18n import _
from fiscalsafe.pipeline import media
from fiscalsafe.pipeline.check import DossierFile
from fiscalsafe.pipeline.estimate import estimate_size

if TYPE_CHECKING:
    from fiscalsafe.pipeline.backup import BackupOptions

CHUNK = 1024 * 1024
MAX_PARTS = 999  # part suffixes have three digits
#: Small fiscal files first, so a one-pass verifier meets the keys and journal early.
FIRST_CATEGORIES = ("identity", "key", "journal", "fiscal-archive")


class RefusedError(OperationalError):
    """Pre-flight refused the backup; nothing was written."""


class UnportableNames(VerificationError):
    """The dossier holds names that verify would refuse; nothing was written."""


def refuse_unportable_names(files: list[DossierFile], shown: int = 20) -> None:
    """Refuse, before a byte is written, a dossier whose names the path policy rejects:
    a backup must never be one that its own verify refuses."""
    problems = [
        _("{name} ({reason})", name=repr(f.relpath), reason=r)
        for f in files
        if (r := paths.unsafe_reason(f.relpath))
    ]
    problems += [
        _("{a} and {b} (one file on Windows and macOS)", a=repr(a), b=repr(b))
        for a, b in paths.clashes(f.relpath for f in files)
    ]
    if not problems:
        return
    names = "; ".join(problems[:shown])
    if len(problems) > shown:
        names = _("{names}; and {n} more", names=names, n=len(problems) - shown)
    raise UnportableNames(
        _(
            "the dossier holds names that cannot be restored on every system; rename them "
            "(nothing was written): {names}",
            names=names,
        )
    )


def select_files(
    files: list[DossierFile], kind: str
) -> tuple[list[DossierFile], list[OmittedFile]]:
    """(1): which files go in, and which are deliberately left out, and why."""
    if kind not in KINDS:
        raise UsageError(_("--kind must be one of {kinds}", kinds=", ".join(KINDS)))
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
        raise UsageError(_("--rotate takes 'weekday'"))
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
            _(
                "the shop application is still open; close it on every workstation first: "
                "{locks} (or pass --force, which the manifest records)",
                locks=", ".join(names),
            )
        )
    return names


def preflight_space(dest: Path, chosen: list[DossierFile], opts: BackupOptions) -> int | None:
    """Refuse a backup the medium has no room for; return the part size (None: one file)."""
    needed = estimate_size(chosen, opts.level)
    available = media.free_bytes(dest)
    if needed > available:
        sizes = localformat.local()
        raise RefusedError(
            _(
                "not enough space on {dest}: the backup needs about {needed}, {available} "
                "available",
                dest=dest,
                needed=sizes.size(needed),
                available=sizes.size(available),
            )
        )
    split = opts.split_size
    if split is None and media.needs_split(dest):
        split = media.FAT32_PART_SIZE
    if split is not None and needed // max(1, split) >= MAX_PARTS:
        raise UsageError(
            _(
                "--split {split} would make about {parts} parts; the most is {most} "
                "(.001 to .999): choose a larger size",
                split=split,
                parts=needed // split + 1,
                most=MAX_PARTS,
            )
        )
    return split
