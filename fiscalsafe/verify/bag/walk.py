"""Validating a bag that is a directory on disk, with the streaming validator."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import _
from fiscalsafe.verify.bag.names import PAYLOAD_PREFIX
from fiscalsafe.verify.bag.validator import BagValidator
from fiscalsafe.verify.findings import Finding

CHUNK_SIZE = 1 << 20


def _read_chunks(path: str, chunk_size: int) -> Iterable[bytes]:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                return
            yield chunk


def validate_bag_directory(
    path: Path | str,
    *,
    fixity: bool = True,
    warn_weak_algorithms: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> list[Finding]:
    """Validate the bag whose base directory is ``path``.

    Symbolic links and special files are reported (``BAG_PATH_UNSAFE``) and never
    followed or read. Only the algorithms of the bag's own manifests are computed.
    ``fixity=False`` checks structure, tag files, Payload-Oxum and completeness without
    reading the payload. Raises :class:`UsageError` if ``path`` is not a directory and
    :class:`OperationalError` if a file cannot be read."""
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise UsageError(_("{path} is not a directory", path=root))
    files: list[tuple[str, str, int]] = []  # (relpath, full path, size)
    directories: list[str] = []
    rejected: list[tuple[str, str]] = []

    def fail(exc: OSError) -> None:
        raise OperationalError(
            _("cannot list {path}: {reason}", path=exc.filename, reason=exc.strerror)
        ) from exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                rejected.append((prefix + name, _("it is a symbolic link to a directory")))
            else:
                directories.append(prefix + name)
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                info = os.lstat(full)
            except OSError as exc:
                raise OperationalError(
                    _("cannot read the details of {path}: {reason}", path=full, reason=exc.strerror)
                ) from exc
            if stat.S_ISLNK(info.st_mode):
                rejected.append((prefix + name, _("it is a symbolic link")))
            elif not stat.S_ISREG(info.st_mode):
                rejected.append((prefix + name, _("it is not a regular file")))
            else:
                files.append((prefix + name, full, info.st_size))

    algorithms = set()
    for rel, _full, _size in files:
        kind = fmt.manifest_algorithm(rel) if "/" not in rel else None
        if kind is not None and kind[1] in fmt.SUPPORTED_ALGORITHMS:
            algorithms.add(kind[1])
    validator = BagValidator(algorithms=algorithms, warn_weak_algorithms=warn_weak_algorithms)
    for rel, reason in rejected:
        validator.reject_member(rel, reason)
    for rel in directories:
        validator.add_directory(rel)
    # Tag files first: they are small, and the cheap checks need them.
    ordered = sorted(files, key=lambda f: (f[0].startswith(PAYLOAD_PREFIX), f[0]))
    for rel, full, size in ordered:
        try:
            if not fixity and rel.startswith(PAYLOAD_PREFIX):
                validator.add_file(rel, size, {})
            else:
                validator.feed_member(rel, _read_chunks(full, chunk_size))
        except OSError as exc:
            raise OperationalError(
                _("cannot read {path}: {reason}", path=full, reason=exc.strerror)
            ) from exc
    return validator.finish(fixity=fixity)
