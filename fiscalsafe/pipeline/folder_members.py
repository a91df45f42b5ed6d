"""An extracted backup folder read as the members of a tar stream.

``verify`` judges a folder with the same code as an archive: each entry becomes a
``Member`` (its name prefixed with the folder's own name, as in the archive) and a reader
of its content. Nothing is followed: a link is a link member (refused by the member
rules), a regular file is opened without following links and read no further than the
size it had when opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from fiscalsafe.errors import FiscalsafeError, MalformedError
from fiscalsafe.formats.tarstream import DIRECTORY, REGULAR, Member
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.verify_container import ContainerPass
from fiscalsafe.verify.findings import Finding, finding

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor on ``path`` if it is a regular file (not through a link), and its stat.
    Raises ``MalformedError`` otherwise."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise MalformedError(
            _("cannot open {name}: {error}", name=path.name, error=exc.strerror)
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise MalformedError(_("{name} is not a regular file", name=path.name))
    return fd, st


class BoundedReader:
    """Reads at most ``size`` bytes of an open file; a file that shrinks is an error."""

    def __init__(self, fd: int, size: int, name: str):
        self._fd = fd
        self._left = size
        self._name = name

    def read(self, n: int) -> bytes:
        if not self._left:
            return b""
        data = os.read(self._fd, min(n, self._left))
        if not data:
            raise MalformedError(_("{name} shrank while it was read", name=self._name))
        self._left -= len(data)
        return data

    def close(self) -> None:
        os.close(self._fd)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return REGULAR
    if stat.S_ISDIR(mode):
        return DIRECTORY
    return "symlink" if stat.S_ISLNK(mode) else "special"


def folder_members(folder: Path) -> Iterator[tuple[Member, BoundedReader | None]]:
    """Every entry below ``folder`` in sorted order, folders before their content. Members
    are named after the folder's real name (``.`` or ``..`` given on the command line
    still names the bag)."""
    yield from _walk(folder, folder.resolve().name)


def _walk(path: Path, name: str) -> Iterator[tuple[Member, BoundedReader | None]]:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise FiscalsafeError(
            _("cannot read {name}: {error}", name=path, error=exc.strerror)
        ) from None
    for entry in entries:
        member_name = f"{name}/{entry.name}"
        st = entry.stat(follow_symlinks=False)
        kind = _kind(st.st_mode)
        reader = None
        if kind == REGULAR:
            fd, st = open_regular(Path(entry.path))
            reader = BoundedReader(fd, st.st_size, member_name)
        member = Member(
            name=member_name,
            type=kind,
            size=st.st_size if kind == REGULAR else 0,
            mode=stat.S_IMODE(st.st_mode),
            mtime=st.st_mtime,
            linkname="",
            offset=0,
            mtime_ns=st.st_mtime_ns,
        )
        try:
            yield member, reader
        finally:
            if reader is not None:
                reader.close()
        if kind == DIRECTORY:
            yield from _walk(Path(entry.path), member_name)


def read_folder(folder: Path, state) -> ContainerPass:
    """(3) The folder's entries through the member rules of ``state`` (a
    ``verify_members.StreamState``). A folder has no container: no shape to compare."""
    found: list[Finding] = []
    members = 0
    try:
        for member, reader in folder_members(folder):
            members += 1
            state.member(member, reader, found.append)
    except MalformedError as exc:
        found.append(
            finding("MEMBER_UNSAFE", _("{problem}; not read", problem=exc), file=str(folder))
        )
    except BaseException:
        state.close()
        raise
    finally:
        state.end_pass()
    return ContainerPass(findings=tuple(found), checks=("members",), members=members)
