"""The backup folder: created when missing, as the shop application's own backup does,
but never where an unplugged medium would send the backup onto the computer's disk."""

from __future__ import annotations

from pathlib import Path

from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _

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
        raise UsageError(_("destination {dest} is not a folder", dest=dest))
    folder = dest.absolute()
    if unplugged_medium(folder):
        raise UsageError(
            _(
                "destination {dest} does not exist: is the medium plugged in and mounted? "
                "(fiscalsafe creates a missing backup folder, but not where a medium is "
                "mounted)",
                dest=dest,
            )
        )
    if not folder.parent.is_dir():
        raise UsageError(
            _(
                "destination {dest} does not exist, nor does {parent}: fiscalsafe creates "
                "only the last folder (is the medium plugged in?)",
                dest=dest,
                parent=folder.parent,
            )
        )
    try:
        dest.mkdir()
    except FileExistsError:
        return False
    except OSError as exc:
        raise UsageError(
            _("cannot create the backup folder {dest}: {error}", dest=dest, error=exc.strerror)
        ) from None
    return True
