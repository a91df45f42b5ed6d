"""The streaming validator: :class:`BagValidator` is fed a bag's files in one pass, in any
order, and its ``finish`` cross-checks them (see the package's description)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fiscalsafe.errors import MalformedError, UsageError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.verify.bag.lines import report_line_problems
from fiscalsafe.verify.bag.names import (
    PAYLOAD_DIR,
    PAYLOAD_PREFIX,
    is_os_metadata,
    is_parsed_tag_file,
    nfc,
    shown,
)
from fiscalsafe.verify.findings import Finding, finding

#: Most tag-file bytes kept in memory at once, over all the tag files of one bag.
MAX_BUFFERED_TAG_BYTES = 256 * 1024 * 1024

# The digests of an empty file: an absent OS metadata file listed as empty is tolerated.
_EMPTY_DIGESTS = {
    alg: hashlib.new(alg, b"", usedforsecurity=False).hexdigest()
    for alg in fmt.SUPPORTED_ALGORITHMS
}


def _version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass
class _File:
    path: str
    size: int
    digests: dict[str, str]
    content: bytes | None = None
    content_problem: str | None = None


@dataclass
class _Manifest:
    name: str
    algorithm: str
    is_tag: bool
    supported: bool
    entries: dict[str, fmt.ManifestEntry] = field(default_factory=dict)


@dataclass
class _Stages:
    """Findings by stage, so that cheap checks come first in the report."""

    structure: list[Finding] = field(default_factory=list)
    info: list[Finding] = field(default_factory=list)
    manifests: list[Finding] = field(default_factory=list)
    oxum: list[Finding] = field(default_factory=list)
    completeness: list[Finding] = field(default_factory=list)
    names: list[Finding] = field(default_factory=list)
    fixity: list[Finding] = field(default_factory=list)

    def all(self) -> list[Finding]:
        out: list[Finding] = []
        for stage in (
            self.structure,
            self.info,
            self.manifests,
            self.oxum,
            self.completeness,
            self.names,
            self.fixity,
        ):
            out.extend(stage)
        return out


class BagValidator:
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
                raise UsageError(f"unsupported checksum algorithms: {sorted(unknown)}")
        self._warn_weak = warn_weak_algorithms
        self._files: dict[str, _File] = {}
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
                    problem = f"{path} is larger than the {limit}-byte limit for tag files"
                elif self._buffered + len(chunk) > MAX_BUFFERED_TAG_BYTES:
                    buffer = None
                    problem = (
                        f"{path} was not read: the bag's tag files exceed "
                        f"{MAX_BUFFERED_TAG_BYTES} bytes in total"
                    )
                else:
                    buffer += chunk
                    self._buffered += len(chunk)
        self._files[path] = _File(
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
            raise UsageError(f"{path} is a tag file the validator parses: pass its content")
        self._note_manifest_algorithm(path)
        hex_digests = {alg: value.lower() for alg, value in digests.items()}
        problem = None
        if content is not None:
            # The content is at hand: it, not the caller, says what its digests are.
            size = len(content)
            for alg in self._algorithms:
                hex_digests[alg] = hashlib.new(alg, content, usedforsecurity=False).hexdigest()
            if self._buffered + len(content) > MAX_BUFFERED_TAG_BYTES:
                content, problem = None, f"{path} was not read: tag files too large in total"
            else:
                self._buffered += len(content)
        self._files[path] = _File(path, int(size), hex_digests, content, problem)

    def add_directory(self, relpath: str) -> None:
        path = fmt.normalize_relative_path(relpath.rstrip("/"))[0]
        if path and fmt.unsafe_path_reason(path) is None:
            self._dirs.add(path)

    def reject_member(self, relpath: str, reason: str) -> None:
        self._member_findings.append(
            finding("BAG_PATH_UNSAFE", f"{relpath!r} was not read: {reason}", file=relpath)
        )

    def _accept_name(self, relpath: str) -> str | None:
        if self._finished:
            raise UsageError("BagValidator.finish() was already called")
        stripped = relpath
        while stripped.startswith("./"):
            stripped = stripped[2:]
        reason = fmt.unsafe_path_reason(stripped)
        if reason is not None:
            self.reject_member(relpath, reason)
            return None
        path = fmt.normalize_relative_path(stripped)[0]
        if path == "":
            self.reject_member(relpath, "the name is empty")
            return None
        if path in self._files:
            self._member_findings.append(
                finding(
                    "BAG_DUPLICATE_ENTRY",
                    f"the bag contains {path!r} twice; only the first copy was checked",
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
            raise UsageError("BagValidator.finish() was already called")
        self._finished = True
        out = _Stages()
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

    # structure and bagit.txt

    def _check_declaration(self, out: list[Finding]) -> tuple[tuple[int, int], str]:
        record = self._files.get("bagit.txt")
        if record is None:
            out.append(
                finding(
                    "BAG_DECLARATION_MISSING",
                    "bagit.txt is missing: every bag starts with this declaration "
                    "(RFC 8493 §2.1.1); the rest is checked as a BagIt 1.0 bag in UTF-8",
                    file="bagit.txt",
                )
            )
            return (1, 0), "UTF-8"
        if record.content is None:
            out.append(
                finding(
                    "BAG_DECLARATION_INVALID",
                    record.content_problem or "bagit.txt could not be read",
                    file="bagit.txt",
                )
            )
            return (1, 0), "UTF-8"
        try:
            declaration = fmt.parse_bagit_txt(record.content)
        except MalformedError as exc:
            sniffed = fmt.sniff_bagit_txt(record.content)
            version, encoding = (1, 0), "UTF-8"
            if sniffed is not None:
                encoding = sniffed.encoding
                if sniffed.version in fmt.KNOWN_VERSIONS:
                    version = sniffed.version
            out.append(
                finding(
                    "BAG_DECLARATION_INVALID",
                    f"{exc} (the rest is checked as a BagIt {_version_text(version)} bag "
                    f"with {encoding} tag files)",
                    file="bagit.txt",
                )
            )
            return version, encoding
        for note in declaration.notes:
            out.append(finding("BAG_WARNING", note, file="bagit.txt"))
        return declaration.version, declaration.encoding

    def _check_payload_directory(self, out: list[Finding]) -> None:
        if PAYLOAD_DIR in self._files:
            out.append(
                finding(
                    "BAG_FILE_MISSING",
                    "'data' is a file; RFC 8493 §2.1.2 requires a payload directory 'data/'",
                    file=PAYLOAD_DIR,
                )
            )
        elif PAYLOAD_DIR not in self._dirs and not any(
            p.startswith(PAYLOAD_PREFIX) for p in self._files
        ):
            out.append(
                finding(
                    "BAG_FILE_MISSING",
                    "the payload directory 'data/' is missing (RFC 8493 §2.1.2)",
                    file=PAYLOAD_DIR + "/",
                )
            )

    # bag-info.txt

    def _check_bag_info(
        self, out: list[Finding], version: tuple[int, int], encoding: str
    ) -> fmt.BagInfo | None:
        record = self._files.get("bag-info.txt")
        if record is None:
            return None  # optional (RFC 8493 §2.2.2); a tag manifest may still require it
        if record.content is None:
            out.append(
                finding(
                    "BAG_INFO_INVALID",
                    record.content_problem or "bag-info.txt could not be read",
                    file="bag-info.txt",
                )
            )
            return None
        try:
            info = fmt.parse_bag_info(record.content, encoding)
        except MalformedError as exc:
            out.append(finding("BAG_INFO_INVALID", str(exc), file="bag-info.txt"))
            return None
        if version >= (1, 0) and info.notes:
            lines = ", ".join(str(n) for n, _ in info.notes[:10])
            out.append(
                finding(
                    "BAG_WARNING",
                    f"bag-info.txt line(s) {lines} are not in the exact 'Label: value' form "
                    "(one colon, one space or tab) of RFC 8493 §2.2.2",
                    file="bag-info.txt",
                    record=info.notes[0][0],
                )
            )
        return info

    def _check_oxum(
        self,
        out: list[Finding],
        info: fmt.BagInfo,
        version: tuple[int, int],
        missing_os: list[tuple[str, bool]],
    ) -> None:
        values = info.get_all("Payload-Oxum")
        if not values:
            return
        if len(values) > 1:
            code = "BAG_INFO_INVALID" if version >= (1, 0) else "BAG_WARNING"
            out.append(
                finding(
                    code,
                    f"bag-info.txt gives Payload-Oxum {len(values)} times; it must appear "
                    "at most once (RFC 8493 §2.2.2); the first one is checked",
                    file="bag-info.txt",
                )
            )
        try:
            declared = fmt.parse_payload_oxum(values[0])
        except MalformedError as exc:
            out.append(finding("BAG_INFO_INVALID", f"bag-info.txt: {exc}", file="bag-info.txt"))
            return
        payload = [f for p, f in self._files.items() if p.startswith(PAYLOAD_PREFIX)]
        octets = sum(f.size for f in payload)
        streams = len(payload)
        if (declared.octets, declared.streams) == (octets, streams):
            return
        found = fmt.payload_oxum(octets, streams)
        # Absent OS metadata files (see _check_completeness) may still be counted.
        if missing_os and streams + len(missing_os) == declared.streams:
            all_empty = all(empty for _, empty in missing_os)
            extra = declared.octets - octets
            if extra == 0 or (extra > 0 and not all_empty):
                names = ", ".join(p for p, _ in missing_os)
                out.append(
                    finding(
                        "BAG_SYSTEM_FILE",
                        f"Payload-Oxum {values[0]} counts the absent OS metadata file(s) "
                        f"{names}; the payload present is {found}",
                        file="bag-info.txt",
                        expected=values[0],
                        found=found,
                    )
                )
                return
        out.append(
            finding(
                "BAG_OXUM_MISMATCH",
                f"bag-info.txt declares Payload-Oxum {values[0]} (bytes.files) but the "
                f"payload holds {found}",
                file="bag-info.txt",
                expected=values[0],
                found=found,
            )
        )

    # manifests and fetch.txt

    def _load_manifests(
        self, out: list[Finding], version: tuple[int, int], encoding: str
    ) -> list[_Manifest]:
        manifests: list[_Manifest] = []
        for name in sorted(p for p in self._files if "/" not in p):
            kind = fmt.manifest_algorithm(name)
            if kind is None:
                continue
            is_tag, algorithm = kind
            manifest = _Manifest(name, algorithm, is_tag, algorithm in fmt.SUPPORTED_ALGORITHMS)
            record = self._files[name]
            if record.content is None:
                out.append(
                    finding(
                        "BAG_MANIFEST_INVALID",
                        record.content_problem or f"{name} could not be read",
                        file=name,
                    )
                )
                manifests.append(manifest)
                continue
            try:
                parsed = fmt.parse_checksum_manifest(
                    record.content, algorithm, encoding, name=name, version=version
                )
            except MalformedError as exc:
                out.append(finding("BAG_MANIFEST_INVALID", str(exc), file=name))
                manifests.append(manifest)
                continue
            report_line_problems(out, name, parsed.problems, "BAG_MANIFEST_INVALID")
            self._note_nonstandard(out, name, parsed)
            for entry in parsed.entries:
                self._add_entry(out, manifest, entry, version)
            manifests.append(manifest)
        if not any(not m.is_tag for m in manifests):
            out.append(
                finding(
                    "BAG_MANIFEST_MISSING",
                    "the bag has no payload manifest (manifest-<algorithm>.txt); RFC 8493 "
                    "§2.1.3 requires at least one",
                )
            )
        else:
            payload = [m for m in manifests if not m.is_tag]
            if not any(m.supported for m in payload):
                out.append(
                    finding(
                        "BAG_MANIFEST_MISSING",
                        "no payload manifest uses an algorithm this validator can compute ("
                        + ", ".join(sorted(fmt.SUPPORTED_ALGORITHMS))
                        + "): the payload cannot be verified",
                    )
                )
            elif self._warn_weak and all(
                m.algorithm in fmt.WEAK_ALGORITHMS for m in payload if m.supported
            ):
                out.append(
                    finding(
                        "BAG_WEAK_ALGORITHM",
                        "every payload manifest uses MD5 or SHA-1, which no longer resist "
                        "deliberate collisions; add a manifest-sha256.txt or -sha512.txt",
                    )
                )
        for manifest in manifests:
            if not manifest.supported:
                out.append(
                    finding(
                        "BAG_WARNING",
                        f"{manifest.name}: algorithm {manifest.algorithm!r} is not supported; "
                        "its checksums are not verified (its list of files is)",
                        file=manifest.name,
                    )
                )
        return manifests

    @staticmethod
    def _note_nonstandard(out: list[Finding], name: str, parsed: fmt.ChecksumManifest) -> None:
        entries = parsed.entries

        def example(entry: fmt.ManifestEntry) -> str:
            return f"line {entry.line}: {entry.raw_path!r} read as {entry.path!r}"

        marked = [e for e in entries if e.binary_marker]
        if marked:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    f"{name}: {len(marked)} line(s) carry md5sum's binary-mode marker '*' "
                    f"before the path, which is not BagIt syntax ({example(marked[0])})",
                    file=name,
                    record=marked[0].line,
                )
            )
        if entries and all(e.leading_dot_slash for e in entries):
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    f"{name}: every path is written relative to './' rather than to the bag's "
                    "base directory, as generic checksum tools write them "
                    f"({example(entries[0])})",
                    file=name,
                    record=entries[0].line,
                )
            )
        noisy = [e for e in entries if e.other_noise]
        if noisy:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    f"{name}: {len(noisy)} path(s) contain empty or '.' components "
                    f"({example(noisy[0])})",
                    file=name,
                    record=noisy[0].line,
                )
            )
        trailing = [e for e in entries if e.trailing_whitespace]
        if trailing:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    f"{name}: {len(trailing)} path(s) end with spaces or tabs, kept as part "
                    f"of the file name (line {trailing[0].line}: {trailing[0].raw_path!r})",
                    file=name,
                    record=trailing[0].line,
                )
            )
        if parsed.blank_lines:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    f"{name}: blank line(s) ignored (line {parsed.blank_lines[0]})",
                    file=name,
                    record=parsed.blank_lines[0],
                )
            )
        for note in parsed.notes:
            out.append(finding("BAG_MANIFEST_NONSTANDARD", note, file=name))

    def _add_entry(
        self,
        out: list[Finding],
        manifest: _Manifest,
        entry: fmt.ManifestEntry,
        version: tuple[int, int],
    ) -> None:
        name, path = manifest.name, entry.path
        if not manifest.is_tag and not path.startswith(PAYLOAD_PREFIX):
            out.append(
                finding(
                    "BAG_MANIFEST_INVALID",
                    f"{name} line {entry.line} lists {path!r}, outside the payload directory "
                    "data/; a payload manifest lists payload files only (RFC 8493 §2.1.3)",
                    file=name,
                    record=entry.line,
                )
            )
            return
        if manifest.is_tag and path == name:
            out.append(
                finding(
                    "BAG_MANIFEST_INVALID",
                    f"{name} line {entry.line} lists {name} itself, which no checksum can match",
                    file=name,
                    record=entry.line,
                )
            )
            return
        if manifest.is_tag and path.startswith(PAYLOAD_PREFIX):
            out.append(
                finding(
                    "BAG_WARNING",
                    f"{name} line {entry.line} lists the payload file {path!r}; tag "
                    "manifests list tag files (RFC 8493 §2.2.1); checked anyway",
                    file=name,
                    record=entry.line,
                )
            )
        first = manifest.entries.get(path)
        if first is None:
            manifest.entries[path] = entry
            return
        if first.checksum != entry.checksum:
            out.append(
                finding(
                    "BAG_DUPLICATE_ENTRY",
                    f"{name} lists {path!r} twice with different checksums (lines "
                    f"{first.line} and {entry.line}); a manifest must list a file once",
                    file=name,
                    record=entry.line,
                    expected=first.checksum,
                    found=entry.checksum,
                )
            )
        elif version >= (1, 0):
            out.append(
                finding(
                    "BAG_DUPLICATE_ENTRY",
                    f"{name} lists {path!r} twice (lines {first.line} and {entry.line}), with "
                    "the same checksum; BagIt 1.0 requires each file listed exactly once",
                    file=name,
                    record=entry.line,
                )
            )
        else:
            out.append(
                finding(
                    "BAG_WARNING",
                    f"{name} lists {path!r} twice (lines {first.line} and {entry.line}) with "
                    f"the same checksum; tolerated in BagIt {_version_text(version)}, an "
                    "error from 1.0 on",
                    file=name,
                    record=entry.line,
                )
            )

    def _check_fetch(
        self,
        out: list[Finding],
        version: tuple[int, int],
        encoding: str,
        manifests: list[_Manifest],
    ) -> set[str]:
        record = self._files.get("fetch.txt")
        if record is None:
            return set()
        if record.content is None:
            out.append(
                finding(
                    "BAG_FETCH_INVALID",
                    record.content_problem or "fetch.txt could not be read",
                    file="fetch.txt",
                )
            )
            return set()
        try:
            parsed = fmt.parse_fetch(record.content, encoding, version=version)
        except MalformedError as exc:
            out.append(finding("BAG_FETCH_INVALID", str(exc), file="fetch.txt"))
            return set()
        report_line_problems(out, "fetch.txt", parsed.problems, "BAG_FETCH_INVALID")
        listed = {p for m in manifests if not m.is_tag for p in m.entries}
        fetched: set[str] = set()
        for entry in parsed.entries:
            if not entry.path.startswith(PAYLOAD_PREFIX):
                out.append(
                    finding(
                        "BAG_FETCH_INVALID",
                        f"fetch.txt line {entry.line} lists {entry.path!r}, outside data/; "
                        "only payload files may be fetched (RFC 8493 §2.2.3)",
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
                continue
            if entry.path not in listed:
                out.append(
                    finding(
                        "BAG_FETCH_INVALID",
                        f"fetch.txt line {entry.line} lists {entry.path!r}, which no payload "
                        "manifest lists (RFC 8493 §2.2.3)",
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
            present = self._files.get(entry.path)
            if present is not None and entry.length is not None and present.size != entry.length:
                out.append(
                    finding(
                        "BAG_WARNING",
                        f"fetch.txt line {entry.line} gives {entry.length} bytes for "
                        f"{entry.path!r}, which holds {present.size}",
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
            fetched.add(entry.path)
        return fetched

    # completeness

    def _resolve(self, manifests: list[_Manifest], fixity: bool) -> dict[str, str | None]:
        """Map every listed path to the present file it designates: itself, or -- when it
        is absent -- a present file whose name differs only by case or Unicode form (with
        the same checksums, or not listed itself). ``None`` when nothing matches."""
        listed: dict[str, dict[str, str]] = defaultdict(dict)
        for manifest in manifests:
            for path, entry in manifest.entries.items():
                listed[path].setdefault(manifest.algorithm, entry.checksum)
        by_key: dict[str, list[str]] = defaultdict(list)
        for path in self._files:
            by_key[fmt.name_key(path)].append(path)
        resolution: dict[str, str | None] = {}
        claimed: set[str] = set()
        for path in sorted(listed):
            if path in self._files:
                resolution[path] = path
                continue
            candidates = sorted(q for q in by_key.get(fmt.name_key(path), []) if q != path)
            target = None
            for q in candidates:
                digests = self._files[q].digests
                common = [a for a in listed[path] if a in digests]
                same = all(digests[a] == listed[path][a] for a in common)
                if same and (common or not fixity):
                    target = q
                    break
            if target is None:
                unlisted = [q for q in candidates if q not in listed and q not in claimed]
                if len(unlisted) == 1:
                    target = unlisted[0]  # renamed in transit: fixity will judge the content
            if target is not None:
                claimed.add(target)
            resolution[path] = target
        return resolution

    def _check_completeness(
        self,
        out: list[Finding],
        manifests: list[_Manifest],
        resolution: dict[str, str | None],
        fetched: set[str],
        version: tuple[int, int],
    ) -> list[tuple[str, bool]]:
        """Report absent and unlisted files; return the absent OS metadata files, each with
        whether its checksum says it was empty (for the Payload-Oxum check)."""
        listed_in: dict[str, list[tuple[_Manifest, fmt.ManifestEntry]]] = defaultdict(list)
        for manifest in manifests:
            for path, entry in manifest.entries.items():
                listed_in[path].append((manifest, entry))
        missing_os: list[tuple[str, bool]] = []
        for path in sorted(listed_in):
            target = resolution.get(path)
            where = ", ".join(f"{m.name} line {e.line}" for m, e in listed_in[path])
            if target == path:
                continue
            if target is not None:
                kind = (
                    "Unicode normalisation"
                    if fmt.name_key(path) == fmt.name_key(target) and nfc(path) == nfc(target)
                    else "letter case"
                )
                out.append(
                    finding(
                        "BAG_NAME_CLASH",
                        f"{shown(path)} ({where}) is absent, but {shown(target)} is present "
                        "and differs "
                        f"from it only by {kind}; a file system that ignores {kind} sees one "
                        "file, so it was checked in its place",
                        file=path,
                        found=target,
                    )
                )
                continue
            if path.startswith(PAYLOAD_PREFIX) and is_os_metadata(path):
                empty = all(
                    e.checksum == _EMPTY_DIGESTS.get(m.algorithm) for m, e in listed_in[path]
                )
                missing_os.append((path, empty))
                out.append(
                    finding(
                        "BAG_SYSTEM_FILE",
                        f"{path!r} ({where}) is an operating-system metadata file, and it is "
                        "absent; such files are routinely dropped by copy tools and are not "
                        "counted as missing payload",
                        file=path,
                    )
                )
                continue
            suffix = " (listed in fetch.txt, not fetched yet)" if path in fetched else ""
            out.append(
                finding(
                    "BAG_FILE_MISSING",
                    f"{path!r} is listed in {where} but absent from the bag{suffix}",
                    file=path,
                )
            )
        # Every payload file in every payload manifest (RFC 8493 §3; a SHOULD before 1.0).
        payload_manifests = [m for m in manifests if not m.is_tag]
        covered = {
            m.name: {resolution.get(p) for p in m.entries} - {None} for m in payload_manifests
        }
        everything = set().union(*covered.values()) if covered else set()
        for path in sorted(p for p in self._files if p.startswith(PAYLOAD_PREFIX)):
            if is_os_metadata(path):
                out.append(
                    finding(
                        "BAG_SYSTEM_FILE",
                        f"{path!r} is an operating-system metadata file (Finder or Explorer "
                        "cache), most likely bagged by accident",
                        file=path,
                    )
                )
            if not payload_manifests:
                continue
            if path not in everything:
                out.append(
                    finding(
                        "BAG_FILE_UNEXPECTED",
                        f"{path!r} is in the payload but no payload manifest lists it",
                        file=path,
                    )
                )
                continue
            for manifest in payload_manifests:
                if path in covered[manifest.name]:
                    continue
                if version >= (1, 0):
                    code, rule = "BAG_FILE_UNEXPECTED", "RFC 8493 §3 requires"
                else:
                    code, rule = "BAG_WARNING", f"BagIt {_version_text(version)} recommends"
                out.append(
                    finding(
                        code,
                        f"{path!r} is not listed in {manifest.name}; {rule} every payload "
                        "file in every payload manifest",
                        file=path,
                    )
                )
        return missing_os

    def _check_names(self, out: list[Finding]) -> None:
        """Present files whose names clash on case- or normalisation-insensitive systems."""
        by_key: dict[str, list[str]] = defaultdict(list)
        for path in self._files:
            by_key[fmt.name_key(path)].append(path)
        for group in by_key.values():
            if len(group) < 2:
                continue
            group.sort()
            first = group[0]
            for other in group[1:]:
                a, b = self._files[first], self._files[other]
                common = [alg for alg in a.digests if alg in b.digests]
                same = (
                    a.size == b.size
                    and bool(common)
                    and all(a.digests[alg] == b.digests[alg] for alg in common)
                )
                if nfc(first) == nfc(other) and not same:
                    out.append(
                        finding(
                            "BAG_NAME_COLLISION",
                            f"{shown(first)} and {shown(other)} are different files whose "
                            "names are "
                            "the same text in different Unicode forms; on a file system that "
                            "normalises names (macOS) one would overwrite the other",
                            file=other,
                            found=first,
                        )
                    )
                else:
                    kind = "Unicode form" if nfc(first) == nfc(other) else "letter case"
                    out.append(
                        finding(
                            "BAG_NAME_CLASH",
                            f"{shown(first)} and {shown(other)} differ only by {kind}; they "
                            "cannot "
                            "both exist on a file system that ignores it (macOS, Windows)",
                            file=other,
                            found=first,
                        )
                    )

    # fixity

    def _check_fixity(
        self,
        out: list[Finding],
        manifests: list[_Manifest],
        resolution: dict[str, str | None],
        *,
        payload: bool,
    ) -> None:
        """Compare checksums: of tag files always (they are small and always read), of
        payload files when ``payload``."""
        for manifest in manifests:
            if not manifest.supported:
                continue
            uncomputed: list[str] = []
            for path in sorted(manifest.entries):
                entry = manifest.entries[path]
                target = resolution.get(path)
                if target is None or (not payload and target.startswith(PAYLOAD_PREFIX)):
                    continue
                digest = self._files[target].digests.get(manifest.algorithm)
                if digest is None:
                    uncomputed.append(target)
                    continue
                if digest != entry.checksum:
                    out.append(
                        finding(
                            "BAG_CHECKSUM_MISMATCH",
                            f"{target!r}: its {manifest.algorithm} checksum differs from "
                            f"{manifest.name} line {entry.line}",
                            file=target,
                            expected=entry.checksum,
                            found=digest,
                        )
                    )
            if uncomputed:
                out.append(
                    finding(
                        "BAG_MANIFEST_INVALID",
                        f"{manifest.name}: {len(uncomputed)} file(s) were read before this "
                        f"manifest and not hashed with {manifest.algorithm} (first: "
                        f"{uncomputed[0]!r}); they cannot be verified in one pass",
                        file=manifest.name,
                    )
                )
