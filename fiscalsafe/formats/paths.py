"""The one path policy: which relative names fiscalsafe accepts in a dossier, an archive
member, a BagIt manifest, a signed manifest or a restore.

A name must mean the same single file on every system a backup may be restored on:
Linux, macOS and Windows. Refused: ``..``, absolute and drive paths, a leading ``~``,
control characters, backslashes, ``:`` (a drive or an NTFS stream), Windows reserved
device names (with any extension, any case), and names ending with a dot or a space
(Windows drops them, so ``x.`` and ``x`` collide). Two names equal after NFC and
casefolding are one file on macOS and Windows: :func:`clashes` finds them.

Pure functions, no I/O. ``.`` and empty components are a matter of canonical form, not
of safety: callers that require canonical paths refuse them themselves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from fiscalsafe.i18n import _

_DRIVE = re.compile(r"[A-Za-z]:")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")]
)


def reserved_name(name: str) -> bool:
    """Whether Windows takes ``name`` for a device: ``CON``, ``aux.txt``, ``Com1.tar.gz``."""
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _RESERVED


def component_reason(name: str) -> str | None:
    """Why one path component is refused, or None."""
    if name == "..":
        return _("the path contains a '..' component")
    if name in ("", "."):
        return None
    if _CONTROL.search(name):
        return _("the path contains a control character")
    if "\\" in name:
        return _("the path contains a backslash, a path separator on Windows")
    if ":" in name:
        return _("the path contains ':', a drive or stream separator on Windows")
    if reserved_name(name):
        return _("{name} is a reserved device name on Windows", name=repr(name))
    if name[-1] in ". ":
        return _("{name} ends with a dot or a space, which Windows drops", name=repr(name))
    return None


def unsafe_reason(path: str) -> str | None:
    """Why the ``/``-separated relative ``path`` is refused; None if it is portable."""
    if not isinstance(path, str) or path == "":
        return _("the path is empty")
    if "\x00" in path:
        return _("the path contains a NUL character")
    if not path.isascii() and _SURROGATE.search(path):
        return _("the path is not valid UTF-8")
    if path.startswith("/"):
        return _("the path is absolute")
    if "\\" in path:
        return _("the path contains a backslash, a path separator on Windows")
    parts = path.split("/")
    if _DRIVE.match(parts[0]):
        return _("the path starts with a drive letter")
    if parts[0].startswith("~"):
        return _("the path starts with '~', a home-directory reference")
    return next((r for r in map(component_reason, parts) if r is not None), None)


def bag_path_reason(path: str) -> str | None:
    """``unsafe_reason`` of a path inside a bag; a payload path (``data/...``) must also
    pass as the dossier-relative path it restores to, which the signed manifest and
    backup's pre-flight judge."""
    reason = unsafe_reason(path)
    first, __, rest = path.partition("/")
    payload = "/".join(p for p in rest.split("/") if p not in ("", "."))
    if reason is None and first == "data" and payload:
        reason = unsafe_reason(payload)
    return reason


def name_key(path: str) -> str:
    """The key under which two paths name the same file on a case-insensitive,
    normalisation-insensitive file system (macOS APFS/HFS+, Windows NTFS)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def clashes(paths: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs ``(earlier, later)`` of file paths that cannot both exist on a case-insensitive,
    normalisation-insensitive file system: the same name, or a file where another path
    needs a folder. In the order met."""
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    found: list[tuple[str, str]] = []
    for path in paths:
        key = name_key(path)
        ancestors = [key.rsplit("/", n)[0] for n in range(1, key.count("/") + 1)]
        other = files.get(key) or folders.get(key)
        other = other or next((files[a] for a in ancestors if a in files), None)
        if other is not None:
            if other != path:
                found.append((other, path))
            continue
        files[key] = path
        for folder in ancestors:
            folders.setdefault(folder, path)
    return found
