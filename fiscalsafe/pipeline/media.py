"""What the destination medium allows: free space, FAT32's 4 GiB limit, portable names.

The system calls behind the first two are in ``oscompat``."""

from __future__ import annotations

import re
from pathlib import Path

from fiscalsafe import oscompat

FAT_TYPES = oscompat.FAT_TYPES
FAT32_MAX_FILE = 4 * 1024**3 - 1
#: Parts on FAT32 stay well below the 4 GiB limit.
FAT32_PART_SIZE = 4000 * 1024**2
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def filesystem_type(path: Path) -> str | None:
    """The file-system type holding ``path`` (``vfat``, ``msdos``, ``fat32``, ``exfat``...),
    as the system reports it; None if it does not say (``--split`` then decides)."""
    return oscompat.filesystem_type(path)


def needs_split(path: Path) -> bool:
    """FAT (FAT32, and the FAT12/16 of small sticks) holds no file of 4 GiB; exFAT does."""
    return oscompat.is_fat(filesystem_type(path))


def free_bytes(path: Path) -> int:
    return oscompat.free_bytes(path)


def portable_name(text: str) -> str:
    """A file-name part valid on Windows, FAT and case-insensitive systems."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(" .-") or "backup"
    if cleaned.split(".")[0].upper() in WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned[:100]
