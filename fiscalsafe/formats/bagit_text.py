"""The text rules every BagIt (RFC 8493) tag file follows: line breaks, the declared
character encoding, byte-order marks and a size cap checked before decoding."""

from __future__ import annotations

import codecs
import re

from fiscalsafe.errors import MalformedError
from fiscalsafe.i18n import _

LINE_BREAK = re.compile(r"\r\n|\r|\n")

BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF32_LE, "UTF-32LE"),  # before UTF-16LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)


def split_lines(text: str) -> list[str]:
    """Split on LF, CR or CRLF (RFC 8493 §2: any of the three ends a line). A final line
    terminator is optional and does not create an empty last line. Unlike
    ``str.splitlines`` this does not split on VT, FF, NEL, U+2028..."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def check_size(data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise MalformedError(
            _(
                "{what} is {size} bytes, more than the {limit}-byte limit",
                what=what,
                size=len(data),
                limit=limit,
            )
        )


def check_encoding(name: str) -> str:
    """Return the Python codec name for a Tag-File-Character-Encoding value, or raise
    :class:`MalformedError` if Python has no text codec of that name."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise MalformedError(_("unknown character encoding {name}", name=repr(name))) from None
    try:
        b"x".decode(name)  # refuses codecs that are not text encodings: rot13, zlib...
    except UnicodeDecodeError:
        pass  # a text codec that just cannot decode one byte alone (UTF-16...)
    except (LookupError, TypeError, ValueError):
        raise MalformedError(_("unknown character encoding {name}", name=repr(name))) from None
    return info.name
