"""Completeness, clashing names and fixity of the files a bag holds."""

from __future__ import annotations

from collections import defaultdict

from fiscalsafe import localformat
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import N_, _, n_
from fiscalsafe.verify.bag.names import PAYLOAD_PREFIX, is_os_metadata, nfc, shown
from fiscalsafe.verify.bag.records import EMPTY_DIGESTS, ManifestRecord, version_text
from fiscalsafe.verify.findings import Finding, finding


class PayloadChecks:
    """The checks of present against listed files, mixed into :class:`BagValidator`,
    which keeps the state they read."""

    def _check_completeness(
        self,
        out: list[Finding],
        manifests: list[ManifestRecord],
        resolution: dict[str, str | None],
        fetched: set[str],
        version: tuple[int, int],
    ) -> list[tuple[str, bool]]:
        """Report absent and unlisted files; return the absent OS metadata files, each with
        whether its checksum says it was empty (for the Payload-Oxum check)."""
        missing_os = self._check_listed_files(out, manifests, resolution, fetched)
        self._check_unlisted_files(out, manifests, resolution, version)
        return missing_os

    def _check_listed_files(
        self,
        out: list[Finding],
        manifests: list[ManifestRecord],
        resolution: dict[str, str | None],
        fetched: set[str],
    ) -> list[tuple[str, bool]]:
        """Every file a manifest lists is present (or stands in under a clashing name)."""
        listed_in: dict[str, list[tuple[ManifestRecord, fmt.ManifestEntry]]] = defaultdict(list)
        for manifest in manifests:
            for path, entry in manifest.entries.items():
                listed_in[path].append((manifest, entry))
        missing_os: list[tuple[str, bool]] = []
        for path in sorted(listed_in):
            target = resolution.get(path)
            where = ", ".join(
                _("{name} line {line}", name=m.name, line=localformat.count(e.line))
                for m, e in listed_in[path]
            )
            if target == path:
                continue
            if target is not None:
                out.append(
                    finding(
                        "BAG_NAME_CLASH",
                        _stand_in_message(path, target, where),
                        file=path,
                        found=target,
                    )
                )
                continue
            if path.startswith(PAYLOAD_PREFIX) and is_os_metadata(path):
                empty = all(
                    e.checksum == EMPTY_DIGESTS.get(m.algorithm) for m, e in listed_in[path]
                )
                missing_os.append((path, empty))
                out.append(
                    finding(
                        "BAG_SYSTEM_FILE",
                        _(
                            "{path} ({where}) is an operating-system metadata file, and it is "
                            "absent; such files are routinely dropped by copy tools and are not "
                            "counted as missing payload",
                            path=repr(path),
                            where=where,
                        ),
                        file=path,
                    )
                )
                continue
            message = (
                N_(
                    "{path} is listed in {where} but absent from the bag "
                    "(listed in fetch.txt, not fetched yet)"
                )
                if path in fetched
                else N_("{path} is listed in {where} but absent from the bag")
            )
            out.append(
                finding(
                    "BAG_FILE_MISSING",
                    _(message, path=repr(path), where=where),
                    file=path,
                )
            )
        return missing_os

    def _check_unlisted_files(
        self,
        out: list[Finding],
        manifests: list[ManifestRecord],
        resolution: dict[str, str | None],
        version: tuple[int, int],
    ) -> None:
        """Every payload file in every payload manifest (RFC 8493 §3; a SHOULD before 1.0)."""
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
                        _(
                            "{path} is an operating-system metadata file (Finder or Explorer "
                            "cache), most likely bagged by accident",
                            path=repr(path),
                        ),
                        file=path,
                    )
                )
            if not payload_manifests:
                continue
            if path not in everything:
                out.append(
                    finding(
                        "BAG_FILE_UNEXPECTED",
                        _(
                            "{path} is in the payload but no payload manifest lists it",
                            path=repr(path),
                        ),
                        file=path,
                    )
                )
                continue
            for manifest in payload_manifests:
                if path in covered[manifest.name]:
                    continue
                if version >= (1, 0):
                    code = "BAG_FILE_UNEXPECTED"
                    message = _(
                        "{path} is not listed in {name}; RFC 8493 §3 requires every payload "
                        "file in every payload manifest",
                        path=repr(path),
                        name=manifest.name,
                    )
                else:
                    code = "BAG_WARNING"
                    message = _(
                        "{path} is not listed in {name}; BagIt {version} recommends every "
                        "payload file in every payload manifest",
                        path=repr(path),
                        name=manifest.name,
                        version=version_text(version),
                    )
                out.append(
                    finding(
                        code,
                        message,
                        file=path,
                    )
                )

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
                            _(
                                "{first} and {other} are different files whose names are "
                                "the same text in different Unicode forms; on a file system "
                                "that normalises names (macOS) one would overwrite the other",
                                first=shown(first),
                                other=shown(other),
                            ),
                            file=other,
                            found=first,
                        )
                    )
                else:
                    message = (
                        N_(
                            "{first} and {other} differ only by Unicode form; they cannot "
                            "both exist on a file system that ignores it (macOS, Windows)"
                        )
                        if nfc(first) == nfc(other)
                        else N_(
                            "{first} and {other} differ only by letter case; they cannot "
                            "both exist on a file system that ignores it (macOS, Windows)"
                        )
                    )
                    out.append(
                        finding(
                            "BAG_NAME_CLASH",
                            _(message, first=shown(first), other=shown(other)),
                            file=other,
                            found=first,
                        )
                    )

    # fixity

    def _check_fixity(
        self,
        out: list[Finding],
        manifests: list[ManifestRecord],
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
                            _(
                                "{path}: its {algorithm} checksum differs from {name} line {line}",
                                path=repr(target),
                                algorithm=manifest.algorithm,
                                name=manifest.name,
                                line=localformat.count(entry.line),
                            ),
                            file=target,
                            expected=entry.checksum,
                            found=digest,
                        )
                    )
            if uncomputed:
                out.append(
                    finding(
                        "BAG_MANIFEST_INVALID",
                        n_(
                            "{name}: {count} file was read before this manifest and not "
                            "hashed with {algorithm} (first: {path}); it cannot be verified "
                            "in one pass",
                            "{name}: {count} files were read before this manifest and not "
                            "hashed with {algorithm} (first: {path}); they cannot be verified "
                            "in one pass",
                            len(uncomputed),
                            name=manifest.name,
                            count=localformat.count(len(uncomputed)),
                            algorithm=manifest.algorithm,
                            path=repr(uncomputed[0]),
                        ),
                        file=manifest.name,
                    )
                )


def _stand_in_message(path: str, target: str, where: str) -> str:
    """Why ``target`` was checked in the place of the absent ``path``."""
    if fmt.name_key(path) == fmt.name_key(target) and nfc(path) == nfc(target):
        message = N_(
            "{path} ({where}) is absent, but {target} is present and differs "
            "from it only by Unicode normalisation; a file system that ignores "
            "Unicode normalisation sees one file, so it was checked in its place"
        )
    else:
        message = N_(
            "{path} ({where}) is absent, but {target} is present and differs "
            "from it only by letter case; a file system that ignores "
            "letter case sees one file, so it was checked in its place"
        )
    return _(message, path=shown(path), where=where, target=shown(target))
