"""msgpack with limits: the one place untrusted msgpack bytes are decoded.

Hostile documents may declare huge lengths or nest deeply; every decode here has explicit
size caps so that they fail with ``MalformedError`` instead of exhausting memory.
"""

from __future__ import annotations

from typing import Any

import msgpack

from fiscalsafe.errors import MalformedError, UnsupportedVersionError
from fiscalsafe.i18n import _

#: No single fiscal document (archive, journal record, head) may exceed this.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_CONTAINER_LEN = 10_000_000
MAX_STR_LEN = 1024 * 1024


class Phrase(str):
    """What a decoder calls the document it reads ("journal record at byte 12"), for its
    error messages: the English text, shown in the reader's language.

    Decoders name every record they read, by the hundred thousand, and need the name only
    when one is refused: it is translated then, not each time it is made. Mark the text
    with ``N_``."""

    __slots__ = ("_fields", "_message")

    def __new__(cls, message: str, **fields: object) -> Phrase:
        phrase = super().__new__(cls, message.format(**fields) if fields else message)
        phrase._message, phrase._fields = message, fields
        return phrase

    def __str__(self) -> str:
        return _(self._message, **self._fields)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def pack(obj: Any) -> bytes:
    """Encode with the settings every fiscalsafe writer uses (bin type, no floats)."""
    return msgpack.packb(obj, use_bin_type=True)


def _limits(size: int) -> dict[str, int]:
    return {
        "max_buffer_size": max(size, 1),
        "max_str_len": min(size, MAX_STR_LEN),
        "max_bin_len": size,
        "max_array_len": min(size, MAX_CONTAINER_LEN),
        "max_map_len": min(size, MAX_CONTAINER_LEN),
        "max_ext_len": 0,
    }


SMALL_DOCUMENT = 64 * 1024
# Records (tickets, journal entries) are small and decoded by the hundred thousand: their
# limits are computed once.
SMALL_LIMITS = {k: v for k, v in _limits(SMALL_DOCUMENT).items() if k != "max_buffer_size"}


def unpack(data: bytes, what: str, *, arrays_as_tuples: bool = False) -> Any:
    """Decode exactly one msgpack object filling ``data``, or raise ``MalformedError``.

    ``arrays_as_tuples`` decodes arrays as tuples (cheaper to build, for hot paths)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise MalformedError(
            _(
                "{what}: {size} bytes exceeds the {limit} limit",
                what=what,
                size=len(data),
                limit=MAX_DOCUMENT_BYTES,
            )
        )
    try:
        if len(data) <= SMALL_DOCUMENT:
            limits = SMALL_LIMITS
        else:
            limits = _limits(len(data))
            del limits["max_buffer_size"]  # unpackb takes the whole buffer at once
        return msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=not arrays_as_tuples, **limits
        )
    except msgpack.ExtraData:
        raise MalformedError(_("{what}: trailing bytes after the document", what=what)) from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise MalformedError(
            _("{what}: not valid msgpack ({error})", what=what, error=exc.__class__.__name__)
        ) from None


def unpacker(max_record_bytes: int) -> msgpack.Unpacker:
    """A streaming unpacker whose buffer never grows past ``max_record_bytes``."""
    limits = _limits(max_record_bytes)
    # Room for one whole record plus the next chunk being fed.
    limits["max_buffer_size"] = 2 * max_record_bytes
    return msgpack.Unpacker(raw=False, strict_map_key=False, **limits)


def require(doc: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``doc[key]`` if present and of type ``kind``, else ``MalformedError``."""
    if not isinstance(doc, dict):
        raise MalformedError(
            _("{what}: expected a map, found {found}", what=what, found=type(doc).__name__)
        )
    if key not in doc:
        raise MalformedError(_("{what}: missing field {key}", what=what, key=repr(key)))
    value = doc[key]
    # bool is an int subclass: an int field must not accept true/false.
    if isinstance(value, bool) and kind in (int, (int,)):
        raise MalformedError(
            _("{what}: field {key} must be an integer, found a boolean", what=what, key=repr(key))
        )
    if not isinstance(value, kind):
        raise MalformedError(
            _(
                "{what}: field {key} has type {found}",
                what=what,
                key=repr(key),
                found=type(value).__name__,
            )
        )
    return value


#: Timestamps are UTC microseconds; outside 1970..9998 they cannot be real and would
#: overflow date arithmetic, so decoders refuse them.
MAX_TIMESTAMP_US = 253_370_764_800_000_000  # 9998-12-31T00:00:00Z


def check_timestamp(ts: int, what: str) -> int:
    if not 0 <= ts < MAX_TIMESTAMP_US:
        raise MalformedError(_("{what}: timestamp {ts} is outside 1970..9998", what=what, ts=ts))
    return ts


def check_version(found: Any, major: int, what: str) -> tuple[int, int]:
    """Accept ``[major, minor]`` with a known major; refuse anything else clearly."""
    if (
        not isinstance(found, list | tuple)
        or len(found) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in found)
    ):
        raise MalformedError(
            _(
                "{what}: version marker must be [major, minor], found {found}",
                what=what,
                found=repr(found),
            )
        )
    if found[0] != major:
        version = f"{found[0]}.{found[1]}"
        raise UnsupportedVersionError(
            _(
                "{what}: format version {version} is not supported (this fiscalsafe reads "
                "major version {major})",
                what=what,
                version=version,
                major=major,
            )
        )
    return found[0], found[1]
