"""The names inside a bag: the payload directory, the tag files the validator parses, the
files operating systems add on their own, and how a name is shown in a message."""

from __future__ import annotations

import unicodedata

from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import _

PAYLOAD_DIR = "data"
PAYLOAD_PREFIX = PAYLOAD_DIR + "/"

_OS_METADATA_FILES = frozenset(
    {".ds_store", "thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r"}
)
_OS_METADATA_DIRS = frozenset(
    {
        ".spotlight-v100",
        ".trashes",
        ".fseventsd",
        ".temporaryitems",
        ".documentrevisions-v100",
        "__macosx",
        "$recycle.bin",
        "system volume information",
    }
)


def is_os_metadata(path: str) -> bool:
    """Files that macOS and Windows drop into directories on their own (Finder and
    Explorer caches, AppleDouble ``._`` files...), never content anyone bagged on purpose."""
    parts = path.split("/")
    name = parts[-1]
    return (
        name.casefold() in _OS_METADATA_FILES
        or name.startswith("._")
        or any(p.casefold() in _OS_METADATA_DIRS for p in parts[:-1])
    )


def is_parsed_tag_file(path: str) -> bool:
    """Top-level tag files whose content the validator needs, not just their digests."""
    if "/" in path:
        return False
    return path in ("bagit.txt", "bag-info.txt", "fetch.txt") or (
        fmt.manifest_algorithm(path) is not None
    )


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def shown(path: str) -> str:
    """A path as a message shows it: non-ASCII names also escaped and with their Unicode
    form, since NFC and NFD spellings of a name look the same on screen."""
    if path.isascii():
        return repr(path)
    if unicodedata.is_normalized("NFC", path):
        form = "NFC"
    elif unicodedata.is_normalized("NFD", path):
        form = "NFD"
    else:
        form = _("mixed normalisation")
    return f"{path!r} ({form}: {ascii(path)})"
