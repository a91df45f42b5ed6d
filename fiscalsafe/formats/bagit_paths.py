"""Paths in BagIt (RFC 8493) manifests and ``fetch.txt``: percent-encoding of CR, LF and
``%``, the safety policy, and the canonical form of a relative path."""

from __future__ import annotations

import re

from fiscalsafe.formats import paths

_PERCENT_ESCAPE_V1 = re.compile(r"%(0[AaDd]|25)")
_PERCENT_ESCAPE_V0 = re.compile(r"%(0[AaDd])")
_ESCAPED = {"0a": "\n", "0d": "\r", "25": "%"}


def encode_path(path: str) -> str:
    """Percent-encode a file path for a manifest or fetch line (RFC 8493 §2.1.3): CR, LF
    and ``%`` -- and only those -- become ``%0D``, ``%0A`` and ``%25``."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(text: str, *, version: tuple[int, int] = (1, 0)) -> str:
    """Undo :func:`encode_path` in a single left-to-right pass, so that ``%250A`` decodes
    to the five characters ``%0A``. Any other ``%`` sequence is left as it is.

    Bags older than 1.0 were written by tools (bagit-python among them) that escaped CR
    and LF but not ``%``: for them ``%25`` is left alone, as those tools read it."""
    pattern = _PERCENT_ESCAPE_V1 if version >= (1, 0) else _PERCENT_ESCAPE_V0
    return pattern.sub(lambda m: _ESCAPED[m.group(1).lower()], text)


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` (relative to the bag's base directory, ``/``-separated) could reach
    outside the bag or mean different files on different systems; ``None`` if it cannot.
    The one path policy (:mod:`fiscalsafe.formats.paths`) decides."""
    return paths.bag_path_reason(path)


def strip_dot_slash(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path


def normalize_relative_path(path: str) -> tuple[str, bool, bool]:
    """Canonical form of a safe relative path: leading ``./`` removed, ``.`` and empty
    components dropped. Returns ``(path, had_leading_dot_slash, had_other_noise)``."""
    leading = False
    while path.startswith("./"):
        path = path[2:]
        leading = True
    parts = path.split("/")
    kept = [p for p in parts if p not in ("", ".")]
    return "/".join(kept), leading, len(kept) != len(parts)


name_key = paths.name_key
