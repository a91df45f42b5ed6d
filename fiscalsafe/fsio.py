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
from fiscalsafe.i18n import N_, _

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_PLATFORM = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _PLATFORM
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _PLATFORM
# Errors an O_NOFOLLOW open gives on a link (Linux: ELOOP; the BSDs: EMLINK).
_LINK_ERRNOS = {errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP)}
_READ_CHUNK = 1024 * 1024
#: ``what`` names the file's role ("dossier file", marked with ``N_`` by the caller).
NOT_REGULAR = N_("{what} {path} is a {kind}, not a regular file")
CANNOT_READ = N_("cannot read {what} {path}: {error}")


def describe(mode: int, attributes: int = 0) -> str:
    """What kind of entry ``mode`` (from ``lstat``/``fstat``) is, in words."""
    if attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT:
        return _("reparse point (link)")
    kinds = (
        (stat.S_ISLNK, N_("symbolic link")),
        (stat.S_ISDIR, N_("folder")),
        (stat.S_ISFIFO, N_("FIFO")),
        (stat.S_ISSOCK, N_("socket")),
        (stat.S_ISCHR, N_("character device")),
        (stat.S_ISBLK, N_("block device")),
        (stat.S_ISREG, N_("regular file")),
    )
    return _(next((name for test, name in kinds if test(mode)), N_("special file")))


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
        raise OperationalError(
            _("cannot inspect {path}: {error}", path=path, error=exc.strerror)
        ) from None


def clear_name(path: Path) -> None:
    """Remove whatever non-folder entry sits at ``path``: the entry itself, never what a
    link points to. A real folder there is refused."""
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode) and not _is_link(st):
        raise OperationalError(
            _("{path} is a folder where fiscalsafe writes a file: remove it", path=path)
        )
    try:
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(path)  # a Windows directory junction: rmdir removes the junction only
        else:
            os.unlink(path)
    except OSError as exc:
        raise OperationalError(
            _(
                "cannot remove the {kind} left at {path}: {error}",
                kind=_kind(st),
                path=path,
                error=exc.strerror,
            )
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
            _("{path} appeared while fiscalsafe was creating it: refused", path=path)
        ) from None
    except OSError as exc:
        raise OperationalError(
            _("cannot create {path}: {error}", path=path, error=exc.strerror)
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or _is_link(st):
            raise OperationalError(
                _("{path} is a {kind}, not the file fiscalsafe created", path=path, kind=_kind(st))
            )
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
        raise OperationalError(
            _("cannot write {path}: {error}", path=path, error=exc.strerror)
        ) from None


def install(partial: Path, final: Path) -> None:
    """Rename ``partial`` to ``final`` after checking, without following links, that
    ``partial`` is still a regular file and ``final`` is not a folder (or a link to one).

    A link at ``final`` is replaced as itself: rename never writes through it."""
    partial, final = Path(partial), Path(final)
    st = _lstat(partial)
    if st is None:
        raise OperationalError(
            _(
                "{path} vanished before it could be renamed to {name}",
                path=partial,
                name=final.name,
            )
        )
    if not stat.S_ISREG(st.st_mode) or _is_link(st):
        raise OperationalError(
            _(
                "{path} is now a {kind}, not the file fiscalsafe wrote: refused",
                path=partial,
                kind=_kind(st),
            )
        )
    target = _lstat(final)
    if target is not None:
        if stat.S_ISDIR(target.st_mode) and not _is_link(target):
            raise OperationalError(
                _("{path} is a folder: fiscalsafe will not replace it with a file", path=final)
            )
        if _is_link(target) and final.is_dir():
            raise OperationalError(_("{path} is a link to a folder: remove it", path=final))
    try:
        oscompat.replace_retrying(oscompat.long_path(partial), oscompat.long_path(final))
    except OSError as exc:
        if oscompat.is_sharing_violation(exc):
            raise OperationalError(held_open_message(final)) from None
        raise OperationalError(
            _(
                "cannot rename {name} to {path}: {error}",
                name=partial.name,
                path=final,
                error=exc.strerror,
            )
        ) from None


def _role(what: str) -> str:
    """The file's role in the reader's language (a plain file name is left as it is)."""
    return _(what) if what else what


def held_open_message(path: Path, what: str | None = None) -> str:
    """One line for a file another program holds open (Windows' sharing violation): one
    that could not be replaced, or, with ``what`` it is, one that could not be read."""
    if what is None:
        return _(
            "{path} could not be replaced: another program holds it open (the shop "
            "application, an antivirus, a file explorer preview); close it and run again",
            path=path,
        )
    return _(
        "{path} ({what}) cannot be read: another program holds it open (the shop "
        "application, an antivirus, a file explorer preview); close it and run again",
        path=path,
        what=_role(what),
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
        raise error(_(NOT_REGULAR, what=_role(what), path=path, kind=_kind(before)))
    try:
        fd = os.open(oscompat.long_path(path), _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _open_error(path, what, exc, error) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or _is_link(st):
            raise error(_(NOT_REGULAR, what=_role(what), path=path, kind=_kind(st)))
        if before is not None and (before.st_dev, before.st_ino) != (st.st_dev, st.st_ino):
            raise error(
                _("{what} {path} changed while it was opened: refused", what=_role(what), path=path)
            )
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
        return error(_(NOT_REGULAR, what=_role(what), path=path, kind=_kind(st)))
    if isinstance(exc, IsADirectoryError):
        return error(
            _("{what} {path} is a folder, not a regular file", what=_role(what), path=path)
        )
    if oscompat.is_sharing_violation(exc):
        return OperationalError(held_open_message(path, what))
    return OperationalError(_(CANNOT_READ, what=_role(what), path=path, error=exc.strerror))


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
            raise OperationalError(
                _(CANNOT_READ, what=_role(what), path=path, error=exc.strerror)
            ) from None
    if len(data) > limit:
        raise error(
            _(
                "{what} {path} is larger than {limit} bytes: refused",
                what=_role(what),
                path=path,
                limit=limit,
            )
        )
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
