"""Which medium a verified path lives on: mount point, file system, volume label, UUID and
device id, as the operating system names them.

On Linux, from ``/proc/self/mountinfo`` (as ``findmnt`` reads it) and the udev links under
``/dev/disk/by-label``, ``by-uuid`` and ``by-id`` (the last carries a USB stick's serial).
Elsewhere, or when the system does not say, each is None ("not available" in the report).
Read-only: nothing here opens the device itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MOUNTINFO = Path("/proc/self/mountinfo")
DISK_LINKS = Path("/dev/disk")
MAX_MOUNTINFO_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    source: str
    device: tuple[int, int]  # major, minor


def _unescape_bytes(text: str, pattern: bytes, base: int) -> str:
    """Escapes stand for single bytes of a UTF-8 name: undo them on bytes, then decode."""
    raw = text.encode("utf-8", "surrogateescape")
    raw = re.sub(pattern, lambda m: bytes([int(m.group(1), base)]), raw)
    return raw.decode("utf-8", "replace")


def _unescape_mount(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    return _unescape_bytes(field, rb"\\([0-7]{3})", 8)


def _unescape_udev(name: str) -> str:
    """udev writes unsafe bytes of labels as ``\\x20``."""
    return _unescape_bytes(name, rb"\\x([0-9a-fA-F]{2})", 16)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields or len(fields) < 10:
            continue
        sep = fields.index("-")
        try:
            major, minor = (int(x) for x in fields[2].split(":"))
        except ValueError:
            continue
        if len(fields) < sep + 3:
            continue
        mounts.append(
            Mount(_unescape_mount(fields[4]), fields[sep + 1], fields[sep + 2], (major, minor))
        )
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding ``path``: the longest mount point above it (the last one mounted
    there when several are stacked)."""
    best: Mount | None = None
    text = str(path)
    for mount in mounts:
        point = mount.mount_point.rstrip("/") or "/"
        inside = text == point or text.startswith(point + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = mount
    return best


def _links_to(folder: Path, mount: Mount) -> list[str]:
    """Names of the udev links in ``folder`` that point to the mount's device: the same
    device number, or the same node as the mount's source (``/dev/sdb1``)."""
    names = []
    source = os.path.realpath(mount.source) if mount.source.startswith("/") else None
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    for name in entries:
        link = folder / name
        try:
            info = os.stat(link)
        except OSError:
            continue
        same_node = source is not None and os.path.realpath(link) == source
        is_block = info.st_rdev != 0
        if (
            same_node
            or is_block
            and (os.major(info.st_rdev), os.minor(info.st_rdev)) == mount.device
        ):
            names.append(_unescape_udev(name))
    return names


def identify(path: Path, mountinfo: Path = MOUNTINFO, disks: Path = DISK_LINKS) -> dict[str, Any]:
    """What the system says of the medium holding ``path`` (each field None if it is silent)."""
    resolved = path.resolve()
    found: dict[str, Any] = {
        "path": str(path),
        "mount_point": None,
        "fstype": None,
        "device": None,
        "label": None,
        "uuid": None,
        "id": None,
    }
    try:
        text = mountinfo.read_bytes()[:MAX_MOUNTINFO_BYTES].decode("utf-8", "surrogateescape")
    except OSError:
        return found
    mount = mount_of(resolved, parse_mountinfo(text))
    if mount is None:
        return found
    found.update(mount_point=mount.mount_point, fstype=mount.fstype, device=mount.source)
    for field, folder in (("label", "by-label"), ("uuid", "by-uuid"), ("id", "by-id")):
        names = _links_to(disks / folder, mount)
        found[field] = names[0] if names else None
    return found
