"""The manifests: parsing them, their entries, and which present file each listed path is."""

from __future__ import annotations

from collections import defaultdict

from fiscalsafe import localformat
from fiscalsafe.errors import MalformedError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import _, n_
from fiscalsafe.verify.bag.lines import report_line_problems
from fiscalsafe.verify.bag.names import PAYLOAD_PREFIX
from fiscalsafe.verify.bag.records import ManifestRecord, version_text
from fiscalsafe.verify.findings import Finding, finding


class ManifestChecks:
    """The manifest checks, mixed into :class:`BagValidator`,
    which keeps the state they read."""

    def _load_manifests(
        self, out: list[Finding], version: tuple[int, int], encoding: str
    ) -> list[ManifestRecord]:
        manifests: list[ManifestRecord] = []
        for name in sorted(p for p in self._files if "/" not in p):
            kind = fmt.manifest_algorithm(name)
            if kind is None:
                continue
            is_tag, algorithm = kind
            manifest = ManifestRecord(
                name, algorithm, is_tag, algorithm in fmt.SUPPORTED_ALGORITHMS
            )
            record = self._files[name]
            if record.content is None:
                out.append(
                    finding(
                        "BAG_MANIFEST_INVALID",
                        record.content_problem or _("{name} could not be read", name=name),
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
                    _(
                        "the bag has no payload manifest (manifest-<algorithm>.txt); RFC 8493 "
                        "§2.1.3 requires at least one"
                    ),
                )
            )
        else:
            payload = [m for m in manifests if not m.is_tag]
            if not any(m.supported for m in payload):
                out.append(
                    finding(
                        "BAG_MANIFEST_MISSING",
                        _(
                            "no payload manifest uses an algorithm this validator can compute "
                            "({algorithms}): the payload cannot be verified",
                            algorithms=", ".join(sorted(fmt.SUPPORTED_ALGORITHMS)),
                        ),
                    )
                )
            elif self._warn_weak and all(
                m.algorithm in fmt.WEAK_ALGORITHMS for m in payload if m.supported
            ):
                out.append(
                    finding(
                        "BAG_WEAK_ALGORITHM",
                        _(
                            "every payload manifest uses MD5 or SHA-1, which no longer resist "
                            "deliberate collisions; add a manifest-sha256.txt or -sha512.txt"
                        ),
                    )
                )
        _note_unsupported(out, manifests)
        return manifests

    @staticmethod
    def _note_nonstandard(out: list[Finding], name: str, parsed: fmt.ChecksumManifest) -> None:
        entries = parsed.entries
        marked = [e for e in entries if e.binary_marker]
        if marked:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    n_(
                        "{name}: {count} line carries md5sum's binary-mode marker '*' "
                        "before the path, which is not BagIt syntax ({example})",
                        "{name}: {count} lines carry md5sum's binary-mode marker '*' "
                        "before the path, which is not BagIt syntax ({example})",
                        len(marked),
                        name=name,
                        count=localformat.count(len(marked)),
                        example=_example(marked[0]),
                    ),
                    file=name,
                    record=marked[0].line,
                )
            )
        if entries and all(e.leading_dot_slash for e in entries):
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    _(
                        "{name}: every path is written relative to './' rather than to the "
                        "bag's base directory, as generic checksum tools write them ({example})",
                        name=name,
                        example=_example(entries[0]),
                    ),
                    file=name,
                    record=entries[0].line,
                )
            )
        noisy = [e for e in entries if e.other_noise]
        if noisy:
            out.append(
                finding(
                    "BAG_MANIFEST_NONSTANDARD",
                    n_(
                        "{name}: {count} path contains empty or '.' components ({example})",
                        "{name}: {count} paths contain empty or '.' components ({example})",
                        len(noisy),
                        name=name,
                        count=localformat.count(len(noisy)),
                        example=_example(noisy[0]),
                    ),
                    file=name,
                    record=noisy[0].line,
                )
            )
        _note_spacing(out, name, parsed)

    def _add_entry(
        self,
        out: list[Finding],
        manifest: ManifestRecord,
        entry: fmt.ManifestEntry,
        version: tuple[int, int],
    ) -> None:
        name, path = manifest.name, entry.path
        if not manifest.is_tag and not path.startswith(PAYLOAD_PREFIX):
            out.append(
                finding(
                    "BAG_MANIFEST_INVALID",
                    _(
                        "{name} line {line} lists {path}, outside the payload directory "
                        "data/; a payload manifest lists payload files only (RFC 8493 §2.1.3)",
                        name=name,
                        line=localformat.count(entry.line),
                        path=repr(path),
                    ),
                    file=name,
                    record=entry.line,
                )
            )
            return
        if manifest.is_tag and path == name:
            out.append(
                finding(
                    "BAG_MANIFEST_INVALID",
                    _(
                        "{name} line {line} lists {name} itself, which no checksum can match",
                        name=name,
                        line=localformat.count(entry.line),
                    ),
                    file=name,
                    record=entry.line,
                )
            )
            return
        if manifest.is_tag and path.startswith(PAYLOAD_PREFIX):
            out.append(
                finding(
                    "BAG_WARNING",
                    _(
                        "{name} line {line} lists the payload file {path}; tag "
                        "manifests list tag files (RFC 8493 §2.2.1); checked anyway",
                        name=name,
                        line=localformat.count(entry.line),
                        path=repr(path),
                    ),
                    file=name,
                    record=entry.line,
                )
            )
        first = manifest.entries.get(path)
        if first is None:
            manifest.entries[path] = entry
            return
        _note_duplicate(out, name, path, first, entry, version)

    def _resolve(self, manifests: list[ManifestRecord], fixity: bool) -> dict[str, str | None]:
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


def _example(entry: fmt.ManifestEntry) -> str:
    return _(
        "line {line}: {raw} read as {path}",
        line=localformat.count(entry.line),
        raw=repr(entry.raw_path),
        path=repr(entry.path),
    )


def _note_unsupported(out: list[Finding], manifests: list[ManifestRecord]) -> None:
    for manifest in manifests:
        if not manifest.supported:
            out.append(
                finding(
                    "BAG_WARNING",
                    _(
                        "{name}: algorithm {algorithm} is not supported; "
                        "its checksums are not verified (its list of files is)",
                        name=manifest.name,
                        algorithm=repr(manifest.algorithm),
                    ),
                    file=manifest.name,
                )
            )


def _note_spacing(out: list[Finding], name: str, parsed: fmt.ChecksumManifest) -> None:
    """Spaces ending paths, blank lines and the parser's own notes."""
    entries = parsed.entries
    trailing = [e for e in entries if e.trailing_whitespace]
    if trailing:
        out.append(
            finding(
                "BAG_MANIFEST_NONSTANDARD",
                n_(
                    "{name}: {count} path ends with spaces or tabs, kept as part "
                    "of the file name (line {line}: {path})",
                    "{name}: {count} paths end with spaces or tabs, kept as part "
                    "of the file name (line {line}: {path})",
                    len(trailing),
                    name=name,
                    count=localformat.count(len(trailing)),
                    line=localformat.count(trailing[0].line),
                    path=repr(trailing[0].raw_path),
                ),
                file=name,
                record=trailing[0].line,
            )
        )
    if parsed.blank_lines:
        out.append(
            finding(
                "BAG_MANIFEST_NONSTANDARD",
                _(
                    "{name}: blank line(s) ignored (line {line})",
                    name=name,
                    line=localformat.count(parsed.blank_lines[0]),
                ),
                file=name,
                record=parsed.blank_lines[0],
            )
        )
    for note in parsed.notes:
        out.append(finding("BAG_MANIFEST_NONSTANDARD", note, file=name))


def _note_duplicate(
    out: list[Finding],
    name: str,
    path: str,
    first: fmt.ManifestEntry,
    entry: fmt.ManifestEntry,
    version: tuple[int, int],
) -> None:
    """A path a manifest lists twice: an error, or before BagIt 1.0 with one checksum a
    warning."""
    if first.checksum != entry.checksum:
        out.append(
            finding(
                "BAG_DUPLICATE_ENTRY",
                _(
                    "{name} lists {path} twice with different checksums (lines "
                    "{first} and {second}); a manifest must list a file once",
                    name=name,
                    path=repr(path),
                    first=localformat.count(first.line),
                    second=localformat.count(entry.line),
                ),
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
                _(
                    "{name} lists {path} twice (lines {first} and {second}), with "
                    "the same checksum; BagIt 1.0 requires each file listed exactly once",
                    name=name,
                    path=repr(path),
                    first=localformat.count(first.line),
                    second=localformat.count(entry.line),
                ),
                file=name,
                record=entry.line,
            )
        )
    else:
        out.append(
            finding(
                "BAG_WARNING",
                _(
                    "{name} lists {path} twice (lines {first} and {second}) with "
                    "the same checksum; tolerated in BagIt {version}, an "
                    "error from 1.0 on",
                    name=name,
                    path=repr(path),
                    first=localformat.count(first.line),
                    second=localformat.count(entry.line),
                    version=version_text(version),
                ),
                file=name,
                record=entry.line,
            )
        )
