"""The backup folder: created when missing, as the shop application's own backup does,
but never where an unplugged medium would send the backup onto the computer's disk."""

from __future__ import annotations

from pathlib import Path

from fiscalsafe.errors import UsageError

#: Folders whose sub-folders are where removable media get mounted: a missing folder
#: directly there (or under /media/USER, /run/media/USER) is a medium not plugged in.
MOUNT_AREAS = (Path("/media"), Path("/mnt"), Path("/Volumes"), Path("/run/media"))


def unplugged_medium(folder: Path) -> bool:
    parent = folder.parent
    return any(parent == area or parent.parent == area for area in MOUNT_AREAS)


def prepare_destination(dest: Path) -> bool:
    """Make sure ``dest`` is a folder; create it (the last level only) when missing.
    Returns whether it was created."""
    if dest.is_dir():
        return False
    if dest.exists() or dest.is_symlink():
        raise UsageError(f"destination {dest} is not a folder")
    folder = dest.absolute()
    if unplugged_medium(folder):
        raise UsageError(
            f"destination {dest} does not exist: is the medium plugged in and mounted? "
            "(fiscalsafe creates a missing backup folder, but not where a medium is mounted)"
        )
    if not folder.parent.is_dir():
        raise UsageError(
            f"destination {dest} does not exist, nor does {folder.parent}: fiscalsafe creates "
            "only the last folder (is the medium plugged in?)"
        )
    try:
        dest.mkdir()
    except FileExistsError:
        return False
    except OSError as exc:
        raise UsageError(f"cannot create the backup folder {dest}: {exc.strerror}") from None
    return True
