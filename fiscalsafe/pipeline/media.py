"""What the destination medium allows: free space, FAT32's 4 GiB limit, portable names."""

from __future__ import annotations

import os
import re
from pathlib import Path

FAT_TYPES = {"vfat", "msdos", "fat", "umsdos"}
FAT32_MAX_FILE = 4 * 1024**3 - 1
#: Parts on FAT32 stay well below the 4 GiB limit.
FAT32_PART_SIZE = 4000 * 1024**2
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def filesystem_type(path: Path) -> str | None:
    """The Linux file-system type holding ``path`` (from /proc/self/mountinfo), if known."""
    try:
        target = os.path.realpath(path)
        best, best_type = "", None
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                mount_point = left.split()[4].replace("\\040", " ")
                fs_type = right.split()[0] if right else None
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, best_type = mount_point, fs_type
        return best_type
    except (OSError, IndexError):
        return None


def needs_split(path: Path) -> bool:
    return filesystem_type(path) in FAT_TYPES


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def portable_name(text: str) -> str:
    """A file-name part valid on Windows, FAT and case-insensitive systems."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(" .-") or "backup"
    if cleaned.split(".")[0].upper() in WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned[:100]
