"""The streaming validator: :class:`BagValidator` is fed a bag's files in one pass, in any
order, and its ``finish`` cross-checks them (see the package's description)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from fiscalsafe import localformat
from fiscalsafe.errors import UsageError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import _
from fiscalsafe.verify.bag.manifests import ManifestChecks
from fiscalsafe.verify.bag.names import is_parsed_tag_file
from fiscalsafe.verify.bag.payload import PayloadChecks
from fiscalsafe.verify.bag.records import FileRecord, Stages
from fiscalsafe.verify.bag.tagfiles import TagFileChecks
from fiscalsafe.verify.findings import Finding, finding

#: Most tag-file bytes kept in memory at once, over all the tag files of one bag.
MAX_BUFFERED_TAG_BYTES = 256 * 1024 * 1024


class BagValidator(TagFileChecks, ManifestChecks, PayloadChecks):
    """Validate one bag from its files, fed in any order, in one pass.

    - :meth:`feed_member` ``(relpath, chunks)``: a regular file, its content as an
      iterable of ``bytes`` chunks; hashed on the fly;
    - :meth:`add_file` ``(relpath, size, digests, content=None)``: a file the caller has
      already hashed (``content`` is required for the top-level tag files the validator
      parses, see :meth:`wants_content`);
    - :meth:`add_directory` ``(relpath)``: a directory (only ``data/`` matters, for an
      empty payload);
    - :meth:`reject_member` ``(relpath, reason)``: something the caller refused to read
      (a symbolic link, a device...), reported as ``BAG_PATH_UNSAFE``;
    - :meth:`finish` ``()`` -> ``list[Finding]``, once, at the end.

    ``relpath`` is relative to the bag's base directory, ``/``-separated (``data/a.txt``,
    ``bagit.txt``). Unsafe names (absolute, ``..``...) are reported, not followed.

    ``algorithms`` limits the digests computed while feeding (default: all of
    :data:`fiscalsafe.formats.bagit.SUPPORTED_ALGORITHMS`); the algorithm of every
    manifest seen so far is always added. ``warn_weak_algorithms`` adds a
    ``BAG_WEAK_ALGORITHM`` warning when every payload manifest is MD5 or SHA-1 (off by
    default: RFC 8493 allows them and the conformance suite's valid bags use MD5).
    """

    def __init__(
        self,
        *,
        algorithms: Iterable[str] | None = None,
        warn_weak_algorithms: bool = False,
    ) -> None:
        if algorithms is None:
            self._algorithms = set(fmt.SUPPORTED_ALGORITHMS)
        else:
            self._algorithms = set(algorithms)
            unknown = self._algorithms - fmt.SUPPORTED_ALGORITHMS
            if unknown:
                raise UsageError(
                    _("unsupported checksum algorithms: {names}", names=", ".join(sorted(unknown)))
                )
        self._warn_weak = warn_weak_algorithms
        self._files: dict[str, FileRecord] = {}
        self._dirs: set[str] = set()
        self._member_findings: list[Finding] = []
        self._buffered = 0
        self._finished = False

    # --- feeding ------------------------------------------------------------------------

    def wants_content(self, relpath: str) -> bool:
        """Whether the validator must see the bytes of this file, not just its digests."""
        return is_parsed_tag_file(fmt.normalize_relative_path(relpath)[0])

    def feed_member(self, relpath: str, chunks: Iterable[bytes]) -> None:
        """Hash a regular file of the bag from its content, given as chunks of bytes."""
        path = self._accept_name(relpath)
        if path is None:
            return
        self._note_manifest_algorithm(path)
        hashers = {alg: hashlib.new(alg, usedforsecurity=False) for alg in sorted(self._algorithms)}
        keep = is_parsed_tag_file(path)
        limit = fmt.MAX_DECLARATION_BYTES if path == "bagit.txt" else fmt.MAX_TAG_FILE_BYTES
        buffer: bytearray | None = bytearray() if keep else None
        problem: str | None = None
        size = 0
        for chunk in chunks:
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
            if buffer is not None:
                if len(buffer) + len(chunk) > limit:
                    buffer = None
                    problem = _(
                        "{path} is larger than the {limit}-byte limit for tag files",
                        path=path,
                        limit=localformat.count(limit),
                    )
                elif self._buffered + len(chunk) > MAX_BUFFERED_TAG_BYTES:
                    buffer = None
                    problem = _(
                        "{path} was not read: the bag's tag files exceed {limit} bytes in total",
                        path=path,
                        limit=localformat.count(MAX_BUFFERED_TAG_BYTES),
                    )
                else:
                    buffer += chunk
                    self._buffered += len(chunk)
        self._files[path] = FileRecord(
            path,
            size,
            {alg: h.hexdigest() for alg, h in hashers.items()},
            bytes(buffer) if buffer is not None else None,
            problem,
        )

    def add_file(
        self,
        relpath: str,
        size: int,
        digests: Mapping[str, str],
        content: bytes | None = None,
    ) -> None:
        """Record a file the caller has hashed itself. ``digests`` maps manifest algorithm
        names (``sha256``...) to hex digests; it may be empty for a completeness-only check
        (``finish(fixity=False)``). When ``content`` is given (required for the tag files
        the validator parses), digests and size are computed from it."""
        path = self._accept_name(relpath)
        if path is None:
            return
        if content is None and is_parsed_tag_file(path):
            raise UsageError(
                _("{path} is a tag file the validator parses: pass its content", path=path)
            )
        self._note_manifest_algorithm(path)
        hex_digests = {alg: value.lower() for alg, value in digests.items()}
        problem = None
        if content is not None:
            # The content is at hand: it, not the caller, says what its digests are.
            size = len(content)
            for alg in self._algorithms:
                hex_digests[alg] = hashlib.new(alg, content, usedforsecurity=False).hexdigest()
            if self._buffered + len(content) > MAX_BUFFERED_TAG_BYTES:
                content = None
                problem = _("{path} was not read: tag files too large in total", path=path)
            else:
                self._buffered += len(content)
        self._files[path] = FileRecord(path, int(size), hex_digests, content, problem)

    def add_directory(self, relpath: str) -> None:
        path = fmt.normalize_relative_path(relpath.rstrip("/"))[0]
        if path and fmt.unsafe_path_reason(path) is None:
            self._dirs.add(path)

    def reject_member(self, relpath: str, reason: str) -> None:
        self._member_findings.append(
            finding(
                "BAG_PATH_UNSAFE",
                _("{path} was not read: {reason}", path=repr(relpath), reason=reason),
                file=relpath,
            )
        )

    def _accept_name(self, relpath: str) -> str | None:
        if self._finished:
            raise UsageError(_("BagValidator.finish() was already called"))
        stripped = relpath
        while stripped.startswith("./"):
            stripped = stripped[2:]
        reason = fmt.unsafe_path_reason(stripped)
        if reason is not None:
            self.reject_member(relpath, reason)
            return None
        path = fmt.normalize_relative_path(stripped)[0]
        if path == "":
            self.reject_member(relpath, _("the name is empty"))
            return None
        if path in self._files:
            self._member_findings.append(
                finding(
                    "BAG_DUPLICATE_ENTRY",
                    _(
                        "the bag contains {path} twice; only the first copy was checked",
                        path=repr(path),
                    ),
                    file=path,
                )
            )
            return None
        return path

    def _note_manifest_algorithm(self, path: str) -> None:
        kind = fmt.manifest_algorithm(path) if "/" not in path else None
        if kind is not None and kind[1] in fmt.SUPPORTED_ALGORITHMS:
            self._algorithms.add(kind[1])

    # --- checking -----------------------------------------------------------------------

    def finish(self, *, fixity: bool = True) -> list[Finding]:
        """Cross-check everything fed and return every finding (cheap checks first).
        ``fixity=False`` skips the checksums of payload files (for files added with
        :meth:`add_file` without digests): structure, tag files, Payload-Oxum and
        completeness are still checked."""
        if self._finished:
            raise UsageError(_("BagValidator.finish() was already called"))
        self._finished = True
        out = Stages()
        out.structure.extend(self._member_findings)
        version, encoding = self._check_declaration(out.structure)
        self._check_payload_directory(out.structure)
        info = self._check_bag_info(out.info, version, encoding)
        manifests = self._load_manifests(out.manifests, version, encoding)
        fetched = self._check_fetch(out.manifests, version, encoding, manifests)
        resolution = self._resolve(manifests, fixity)
        missing_os = self._check_completeness(
            out.completeness, manifests, resolution, fetched, version
        )
        if info is not None:
            self._check_oxum(out.oxum, info, version, missing_os)
        self._check_names(out.names)
        self._check_fixity(out.fixity, manifests, resolution, payload=fixity)
        return out.all()
