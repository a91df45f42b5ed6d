"""File-system boundary: files created exclusively without following links, files read
only when they are regular files, and never more than a stated bound.

Backup media, destination folders, dossiers and trust folders may be writable by someone
hostile. A link planted at a name fiscalsafe writes would redirect the write elsewhere; a
FIFO or device where a small file is expected would block a read or never end. Every
create, install and small read goes through here.

Imports nothing of fiscalsafe but ``errors`` and ``oscompat``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from fiscalsafe import oscompat
from fiscalsafe.errors import MalformedError, OperationalError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_PLATFORM = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _PLATFORM
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _PLATFORM
# Errors an O_NOFOLLOW open gives on a link (Linux: ELOOP; the BSDs: EMLINK).
_LINK_ERRNOS = {errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP)}
_READ_CHUNK = 1024 * 1024


def describe(mode: int, attributes: int = 0) -> str:
    """What kind of entry ``mode`` (from ``lstat``/``fstat``) is, in words."""
    if attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT:
        return "reparse point (link)"
    kinds = (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISREG, "regular file"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def _is_link(st: os.stat_result) -> bool:
    attributes = getattr(st, "st_file_attributes", 0)
    return stat.S_ISLNK(st.st_mode) or bool(attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT)


def _kind(st: os.stat_result) -> str:
    return describe(st.st_mode, getattr(st, "st_file_attributes", 0))


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(oscompat.long_path(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OperationalError(f"cannot inspect {path}: {exc.strerror}") from None


def clear_name(path: Path) -> None:
    """Remove whatever non-folder entry sits at ``path``: the entry itself, never what a
    link points to. A real folder there is refused."""
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode) and not _is_link(st):
        raise OperationalError(f"{path} is a folder where fiscalsafe writes a file: remove it")
    try:
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(path)  # a Windows directory junction: rmdir removes the junction only
        else:
            os.unlink(path)
    except OSError as exc:
        raise OperationalError(
            f"cannot remove the {_kind(st)} left at {path}: {exc.strerror}"
        ) from None


def create_new(path: Path, mode: int = 0o644) -> BinaryIO:
    """Create ``path`` for writing, exclusively and without following links.

    A link or leftover at the name is removed first (as itself); if something appears
    again between that and the create, the create fails rather than follow it."""
    path = Path(path)
    clear_name(path)
    try:
        fd = os.open(oscompat.long_path(path), _CREATE_FLAGS, mode)
    except FileExistsError:
        raise OperationalError(
            f"{path} appeared while fiscalsafe was creating it: refused"
        ) from None
    except OSError as exc:
        raise OperationalError(f"cannot create {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or _is_link(st):
            raise OperationalError(f"{path} is a {_kind(st)}, not the file fiscalsafe created")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def write_new(path: Path, data: bytes, mode: int = 0o644, sync: bool = True) -> None:
    """``create_new`` + write ``data`` (+ fsync). On failure the new file is removed."""
    path = Path(path)
    fh = create_new(path, mode)
    try:
        with fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise OperationalError(f"cannot write {path}: {exc.strerror}") from None


def install(partial: Path, final: Path) -> None:
    """Rename ``partial`` to ``final`` after checking, without following links, that
    ``partial`` is still a regular file and ``final`` is not a folder (or a link to one).

    A link at ``final`` is replaced as itself: rename never writes through it."""
    partial, final = Path(partial), Path(final)
    st = _lstat(partial)
    if st is None:
        raise OperationalError(f"{partial} vanished before it could be renamed to {final.name}")
    if not stat.S_ISREG(st.st_mode) or _is_link(st):
        raise OperationalError(
            f"{partial} is now a {_kind(st)}, not the file fiscalsafe wrote: refused"
        )
    target = _lstat(final)
    if target is not None:
        if stat.S_ISDIR(target.st_mode) and not _is_link(target):
            raise OperationalError(
                f"{final} is a folder: fiscalsafe will not replace it with a file"
            )
        if _is_link(target) and final.is_dir():
            raise OperationalError(f"{final} is a link to a folder: remove it")
    try:
        oscompat.replace_retrying(oscompat.long_path(partial), oscompat.long_path(final))
    except OSError as exc:
        if oscompat.is_sharing_violation(exc):
            raise OperationalError(held_open_message(final, "could not be replaced")) from None
        raise OperationalError(f"cannot rename {partial.name} to {final}: {exc.strerror}") from None


def held_open_message(path: Path, what_failed: str) -> str:
    """One line for a file another program holds open (Windows' sharing violation)."""
    return (
        f"{path} {what_failed}: another program holds it open (the shop application, an "
        "antivirus, a file explorer preview); close it and run again"
    )


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable where the platform allows it."""
    oscompat.fsync_dir(path, _PLATFORM)


def partial_name(path: Path) -> Path:
    """The hidden name a file is written under before ``install`` puts it in place."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a hidden partial, fsync, then install it at ``path``."""
    path = Path(path)
    partial = partial_name(path)
    write_new(partial, data, mode, sync=True)
    try:
        install(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    fsync_dir(path.parent)


def open_regular(
    path: Path, what: str, error: type[Exception] = MalformedError, buffering: int = -1
) -> BinaryIO | None:
    """Open ``path`` for reading only if it is a regular file, checked on the open
    descriptor; never through a link and never blocking on a FIFO. None when absent.

    Anything else raises ``error`` with one line naming the file and what it is."""
    path = Path(path)
    before = None if _NOFOLLOW else _lstat(path)
    if before is not None and _is_link(before):
        raise error(f"{what} {path} is a {_kind(before)}, not a regular file")
    try:
        fd = os.open(oscompat.long_path(path), _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _open_error(path, what, exc, error) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or _is_link(st):
            raise error(f"{what} {path} is a {_kind(st)}, not a regular file")
        if before is not None and (before.st_dev, before.st_ino) != (st.st_dev, st.st_ino):
            raise error(f"{what} {path} changed while it was opened: refused")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=buffering)


def _open_error(path: Path, what: str, exc: OSError, error: type[Exception]) -> Exception:
    st = None
    with contextlib.suppress(OSError):
        st = os.lstat(path)
    refused = exc.errno in _LINK_ERRNOS or exc.errno == errno.ENXIO
    if st is not None and refused and (_is_link(st) or not stat.S_ISREG(st.st_mode)):
        return error(f"{what} {path} is a {_kind(st)}, not a regular file")
    if isinstance(exc, IsADirectoryError):
        return error(f"{what} {path} is a folder, not a regular file")
    if oscompat.is_sharing_violation(exc):
        return OperationalError(held_open_message(path, f"({what}) cannot be read"))
    return OperationalError(f"cannot read {what} {path}: {exc.strerror}")


def read_regular(
    path: Path, limit: int, what: str, error: type[Exception] = MalformedError
) -> bytes | None:
    """The bytes of regular file ``path``, at most ``limit`` of them; None when absent.

    A larger file, or anything but a regular file, raises ``error`` with one line."""
    fh = open_regular(path, what, error)
    if fh is None:
        return None
    with fh:
        try:
            # Ask for what the file holds first, not for the limit: read(n) allocates n.
            first = min(limit + 1, os.fstat(fh.fileno()).st_size + 1)
            data = _read_at_most(fh, limit + 1, first)
        except OSError as exc:
            raise OperationalError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise error(f"{what} {path} is larger than {limit} bytes: refused")
    return data


def _read_at_most(fh: BinaryIO, count: int, first: int) -> bytes:
    parts: list[bytes] = []
    left = count
    want = first
    while left > 0:
        chunk = fh.read(min(left, want))
        want = _READ_CHUNK
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
