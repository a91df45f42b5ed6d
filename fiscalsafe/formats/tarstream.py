"""A one-pass tar reader for untrusted streams, with limits.

Why hand-written: ``tarfile`` reads a pax header of any declared size into memory, does
not notice a stream cut exactly at a member boundary (no end marker), and follows its
own extraction rules. This reader yields each member's header and a bounded reader of its
content, caps metadata sizes, and reports whether the end-of-archive marker was seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from fiscalsafe.errors import MalformedError, TruncatedError
from fiscalsafe.i18n import _

BLOCK = 512
MAX_META_BYTES = 1024 * 1024  # pax / GNU long-name headers
READ_CHUNK = 1024 * 1024
#: No member of a real backup comes near this (16 TiB); a larger declared size is a forgery.
MAX_MEMBER_BYTES = 1 << 44
_OCTAL = re.compile(rb"[0-7]{1,12}")
_PAX_SIZE = re.compile(r"[0-9]{1,20}")
#: A pax time: decimal seconds, optional fraction (POSIX); parsed exactly, to the ns.
#: Member times past the year 9999, either way, are refused: no real file has one, and the
#: operating system cannot set them on a restored file (``os.utime`` overflows).
MAX_MTIME_SECONDS = 253_402_300_799
_PAX_TIME = re.compile(r"(-?)(\d{1,20})(?:\.(\d{0,30}))?")

REGULAR, DIRECTORY = "file", "dir"
TYPE_NAMES = {
    b"0": REGULAR,
    b"\0": REGULAR,
    b"7": REGULAR,
    b"5": DIRECTORY,
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "char-device",
    b"4": "block-device",
    b"6": "fifo",
}


@dataclass
class Member:
    name: str
    type: str
    size: int
    mode: int
    mtime: float
    linkname: str
    offset: int  # offset of the header in the decompressed stream
    raw_name: bytes = b""
    name_ok: bool = True  # False when the name was not valid UTF-8
    pax: dict[str, str] = field(default_factory=dict)
    mtime_ns: int = 0  # exact; ``mtime`` (a float) cannot hold nanoseconds


def _pax_time_ns(text: str, start: int) -> int:
    match = _PAX_TIME.fullmatch(text)
    if not match:
        raise MalformedError(_("tar: bad pax mtime at byte {start}", start=start))
    sign, seconds, fraction = match.groups()
    ns = int(seconds) * 1_000_000_000 + int((fraction or "").ljust(9, "0")[:9])
    return -ns if sign else ns


def _octal(field_bytes: bytes, what: str, offset: int) -> int:
    if field_bytes and field_bytes[0] & 0x80:
        # GNU base-256: a big-endian number in the remaining bytes.
        value = int.from_bytes(field_bytes[1:], "big")
        if field_bytes[0] & 0x40:
            raise MalformedError(
                _("tar: negative {what} in header at byte {offset}", what=what, offset=offset)
            )
        return value
    text = field_bytes.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    # int() would also take a sign, "0o", "_" and spaces: a "-1" size must not parse.
    if not _OCTAL.fullmatch(text):
        raise MalformedError(
            _(
                "tar: {what} is not an octal number in header at byte {offset}",
                what=what,
                offset=offset,
            )
        )
    return int(text, 8)


def _checked_size(size: int, offset: int) -> int:
    if not 0 <= size <= MAX_MEMBER_BYTES:
        raise MalformedError(
            _("tar: size {size} out of range in header at byte {offset}", size=size, offset=offset)
        )
    return size


def _parse_pax(data: bytes, offset: int) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\0") == b"":
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise MalformedError(_("tar: malformed pax record at byte {offset}", offset=offset))
        try:
            length = int(data[pos:space])
        except ValueError:
            raise MalformedError(
                _("tar: malformed pax record length at byte {offset}", offset=offset)
            ) from None
        if (
            length <= 0
            or pos + length > len(data)
            or data[pos + length - 1 : pos + length] != b"\n"
        ):
            raise MalformedError(_("tar: malformed pax record at byte {offset}", offset=offset))
        key, sep, value = data[space + 1 : pos + length - 1].partition(b"=")
        if not sep:
            raise MalformedError(_("tar: pax record without '=' at byte {offset}", offset=offset))
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarReader:
    """Iterate members of a tar stream; each member's content must be consumed (or is
    skipped) before the next one is read."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.offset = 0
        self.end_marker = False
        self.trailing_garbage = False
        self.end_offset: int | None = None  # where the end-of-archive marker starts
        #: Global pax and GNU long-name/long-link headers seen: valid tar that a
        #: fiscalsafe backup never holds.
        self.extension_headers = 0
        self._left = 0  # content bytes of the current member still unread
        self._pad = 0

    def _read_exact(self, n: int) -> bytes:
        if n < 0:  # read(-1) would mean "the rest of the stream"
            raise MalformedError(_("tar: negative length at byte {offset}", offset=self.offset))
        parts = []
        need = n
        while need:
            chunk = self._stream.read(need)
            if not chunk:
                break
            parts.append(chunk)
            need -= len(chunk)
        data = b"".join(parts)
        self.offset += len(data)
        return data

    def read(self, n: int = READ_CHUNK) -> bytes:
        """Read up to ``n`` bytes of the current member's content."""
        if not self._left:
            return b""
        data = self._stream.read(max(1, min(n, self._left)))
        if not data:
            raise TruncatedError(
                _("tar: stream ends inside a member at byte {offset}", offset=self.offset)
            )
        self._left -= len(data)
        self.offset += len(data)
        return data

    def _finish_member(self) -> None:
        while self._left:
            self.read()
        if self._pad:
            pad = self._read_exact(self._pad)
            if len(pad) != self._pad:
                raise TruncatedError(
                    _("tar: stream ends inside padding at byte {offset}", offset=self.offset)
                )
            self._pad = 0

    def members(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        long_name: bytes | None = None
        long_link: bytes | None = None
        while True:
            self._finish_member()
            start = self.offset
            header = self._next_header(start)
            if header is None:
                return  # the end marker, or none: the caller reports truncation
            self._verify_checksum(header, start)
            size = _checked_size(_octal(header[124:136], "size", start), start)
            typeflag = header[156:157]
            if typeflag in (b"x", b"g", b"L", b"K"):
                data = self._read_metadata(typeflag, size, start)
                if typeflag == b"x":
                    pax = _parse_pax(data, start)
                elif typeflag == b"L":
                    long_name = data.rstrip(b"\0")
                elif typeflag == b"K":
                    long_link = data.rstrip(b"\0")
                continue  # global pax headers ('g') carry nothing we use
            if "size" in pax:
                if not _PAX_SIZE.fullmatch(pax["size"]):
                    raise MalformedError(_("tar: bad pax size at byte {start}", start=start))
                size = _checked_size(int(pax["size"]), start)
            member = _member(header, start, size, typeflag, pax, long_name, long_link)
            # Data of links, devices and directories is skipped by its declared size.
            self._left = size if typeflag not in (b"1", b"2", b"3", b"4", b"6") else 0
            self._pad = -self._left % BLOCK
            pax, long_name, long_link = {}, None, None
            yield member

    def _next_header(self, start: int) -> bytes | None:
        """The next header block; ``None`` at the end marker or where the stream ends."""
        header = self._read_exact(BLOCK)
        if not header:
            return None
        if len(header) < BLOCK:
            raise TruncatedError(_("tar: stream ends inside a header at byte {start}", start=start))
        if header == bytes(BLOCK):
            second = self._read_exact(BLOCK)
            if second == bytes(BLOCK):
                self.end_marker = True
                self.end_offset = start
                self._check_tail()
                return None
            raise MalformedError(
                _("tar: zero block not followed by another at byte {start}", start=start)
            )
        return header

    def _read_metadata(self, typeflag: bytes, size: int, start: int) -> bytes:
        """The content of a pax or GNU long-name header, capped."""
        self.extension_headers += typeflag != b"x"
        if size > MAX_META_BYTES:
            raise MalformedError(
                _(
                    "tar: {size}-byte metadata header at byte {start} exceeds the "
                    "{limit}-byte limit",
                    size=size,
                    start=start,
                    limit=MAX_META_BYTES,
                )
            )
        data = self._read_exact(size)
        self._read_exact(-size % BLOCK)
        if len(data) < size:
            raise TruncatedError(_("tar: stream ends inside a header at byte {start}", start=start))
        return data

    @staticmethod
    def _verify_checksum(header: bytes, start: int) -> None:
        stored = _octal(header[148:156], "checksum", start)
        computed = sum(header[:148]) + 8 * 32 + sum(header[156:])
        if stored != computed:
            raise MalformedError(_("tar: header checksum mismatch at byte {start}", start=start))

    def _check_tail(self) -> None:
        """After the end marker only zero padding may follow."""
        while True:
            chunk = self._stream.read(READ_CHUNK)
            if not chunk:
                return
            self.offset += len(chunk)
            if chunk.count(0) != len(chunk):
                self.trailing_garbage = True
                return


def _member(
    header: bytes,
    start: int,
    size: int,
    typeflag: bytes,
    pax: dict[str, str],
    long_name: bytes | None,
    long_link: bytes | None,
) -> Member:
    """The member a header describes, its pax and GNU long-name records applied (``size``
    is the content size, pax record included)."""
    raw_name = header[0:100].split(b"\0", 1)[0]
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            raw_name = prefix + b"/" + raw_name
    if long_name is not None:
        raw_name = long_name
    linkname = header[157:257].split(b"\0", 1)[0]
    if long_link is not None:
        linkname = long_link
    name_ok = True
    if "path" in pax:
        raw_name = pax["path"].encode("utf-8", "surrogateescape")
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        name, name_ok = raw_name.decode("utf-8", "replace"), False
    mtime: float = _octal(header[136:148], "mtime", start)
    mtime_ns = int(mtime) * 1_000_000_000
    if "mtime" in pax:
        mtime_ns = _pax_time_ns(pax["mtime"], start)
        mtime = mtime_ns / 1_000_000_000
    if abs(mtime_ns) > MAX_MTIME_SECONDS * 1_000_000_000:
        raise MalformedError(_("tar: mtime out of range in header at byte {start}", start=start))
    kind = TYPE_NAMES.get(typeflag, f"type-{typeflag!r}")
    return Member(
        name=name,
        type=kind,
        size=size if kind == REGULAR else 0,
        mode=_octal(header[100:108], "mode", start) & 0o7777,
        mtime=mtime,
        linkname=pax.get("linkpath", linkname.decode("utf-8", "replace")),
        offset=start,
        raw_name=raw_name,
        name_ok=name_ok,
        pax=pax,
        mtime_ns=mtime_ns,
    )
