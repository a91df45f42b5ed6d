"""A zstd frame walker: proves the compressed stream ends on a complete frame.

Why hand-written: ``zstandard``'s streaming reader returns what it could decode and stops
silently when the input is cut mid-frame, and its one-shot decompressor has no output
bound (a decompression bomb would exhaust memory). The walker reads only frame and block
headers of the compressed bytes as they pass (RFC 8878 §3.1), skips block bodies, and
at the end says whether the last frame was complete. It never decompresses anything.
"""

from __future__ import annotations

from fiscalsafe.errors import MalformedError
from fiscalsafe.i18n import _

ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MASK, SKIPPABLE_MAGIC = 0xFFFFFFF0, 0x184D2A50
MAX_BLOCK = 128 * 1024


class FrameWalker:
    """Feed compressed bytes in any chunking; ``finish`` raises unless they end cleanly."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # bytes of a block body (or skippable frame) still to pass
        self._state = "magic"
        self._checksum = False
        self._last = False
        self.offset = 0  # compressed bytes consumed
        self.frames = 0
        self.skippable = 0  # skippable frames seen (zstd skips them; they carry any bytes)
        # Places that decode to nothing yet carry bytes of their own: a block of size 0
        # (but the empty last block a flush ends a frame with), a frame that holds no
        # content at all, the frame header's unused bit. The writer makes none of them.
        self.hollow = 0
        self._content = False  # the current frame has regenerated something
        self.error: MalformedError | None = None

    def feed(self, data: bytes | memoryview) -> None:
        """Walk ``data``. A structural error is remembered, not raised: the decompressor
        reads ahead, and raising here would hide members that came before the damage."""
        if self.error is not None:
            return
        try:
            self._feed(data)
        except MalformedError as exc:
            self.error = exc

    def _feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                take = min(self._skip, len(view))
                self._skip -= take
                self.offset += take
                view = view[take:]
                if not self._skip and self._state == "skippable":
                    self._state = "magic"
                elif not self._skip and self._state == "end-of-frame":
                    self._frame_done()
                continue
            need = self._needed()
            take = min(need - len(self._buf), len(view))
            self._buf += view[:take]
            self.offset += take
            view = view[take:]
            if len(self._buf) == need:
                self._advance()

    def _needed(self) -> int:
        if self._state in ("magic", "skippable-size", "checksum"):
            return 4
        if self._state == "descriptor":
            return 1
        if self._state == "header-rest":
            return self._header_rest
        return 3  # block header

    def _advance(self) -> None:
        buf, self._buf = bytes(self._buf), bytearray()
        where = self.offset - len(buf)
        if self._state == "magic":
            magic = int.from_bytes(buf, "little")
            if magic == ZSTD_MAGIC:
                self._state = "descriptor"
            elif magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
                self.skippable += 1
                self._state = "skippable-size"
            else:
                raise MalformedError(
                    _("zstd: no frame magic at compressed byte {where}", where=where)
                )
        elif self._state == "skippable-size":
            self._skip = int.from_bytes(buf, "little")
            self._state = "skippable" if self._skip else "magic"
        elif self._state == "descriptor":
            d = buf[0]
            if d & 0x08:
                raise MalformedError(
                    _("zstd: reserved bit set in frame header at byte {where}", where=where)
                )
            fcs_flag, single, dict_flag = d >> 6, (d >> 5) & 1, d & 3
            if d & 0x10:
                self.hollow += 1
            self._content = False
            self._checksum = bool((d >> 2) & 1)
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            self._header_rest = (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + fcs
            self._state = "header-rest" if self._header_rest else "block"
        elif self._state == "header-rest":
            self._state = "block"
        elif self._state == "block":
            header = int.from_bytes(buf, "little")
            self._last = bool(header & 1)
            block_type, size = (header >> 1) & 3, header >> 3
            if block_type == 3 or size > MAX_BLOCK:
                raise MalformedError(
                    _("zstd: invalid block header at compressed byte {where}", where=where)
                )
            self._skip = 1 if block_type == 1 else size
            if size:
                self._content = True
            elif block_type != 0 or not self._last:
                self.hollow += 1
            if self._last:
                self._state = "checksum" if self._checksum else "end-of-frame"
            if self._skip == 0 and self._state == "end-of-frame":
                self._frame_done()
        elif self._state == "checksum":
            self._frame_done()

    def _frame_done(self) -> None:
        self.frames += 1
        if not self._content:
            self.hollow += 1
        self._state = "magic"

    def finish(self) -> None:
        """Raise ``MalformedError`` unless the input ended right after a whole frame."""
        if self.error is not None:
            raise self.error
        if self._state == "end-of-frame" and not self._skip:
            self._frame_done()
        if self._state != "magic" or self._buf or self._skip or self.frames == 0:
            raise MalformedError(
                _(
                    "zstd: stream cut inside a frame at compressed byte {offset} (the "
                    "backup is truncated)",
                    offset=self.offset,
                )
            )
