"""bagit.txt, the payload directory, bag-info.txt and its Payload-Oxum, and fetch.txt."""

from __future__ import annotations

from fiscalsafe import localformat
from fiscalsafe.errors import MalformedError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.i18n import _
from fiscalsafe.verify.bag.lines import report_line_problems
from fiscalsafe.verify.bag.names import PAYLOAD_DIR, PAYLOAD_PREFIX
from fiscalsafe.verify.bag.records import ManifestRecord, version_text
from fiscalsafe.verify.findings import Finding, finding


class TagFileChecks:
    """The checks of the tag files other than manifests, mixed into :class:`BagValidator`,
    which keeps the state they read."""

    def _check_declaration(self, out: list[Finding]) -> tuple[tuple[int, int], str]:
        record = self._files.get("bagit.txt")
        if record is None:
            out.append(
                finding(
                    "BAG_DECLARATION_MISSING",
                    _(
                        "bagit.txt is missing: every bag starts with this declaration "
                        "(RFC 8493 §2.1.1); the rest is checked as a BagIt 1.0 bag in UTF-8"
                    ),
                    file="bagit.txt",
                )
            )
            return (1, 0), "UTF-8"
        if record.content is None:
            out.append(
                finding(
                    "BAG_DECLARATION_INVALID",
                    record.content_problem or _("{name} could not be read", name="bagit.txt"),
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
                    _(
                        "{problem} (the rest is checked as a BagIt {version} bag "
                        "with {encoding} tag files)",
                        problem=exc,
                        version=version_text(version),
                        encoding=encoding,
                    ),
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
                    _("'data' is a file; RFC 8493 §2.1.2 requires a payload directory 'data/'"),
                    file=PAYLOAD_DIR,
                )
            )
        elif PAYLOAD_DIR not in self._dirs and not any(
            p.startswith(PAYLOAD_PREFIX) for p in self._files
        ):
            out.append(
                finding(
                    "BAG_FILE_MISSING",
                    _("the payload directory 'data/' is missing (RFC 8493 §2.1.2)"),
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
                    record.content_problem or _("{name} could not be read", name="bag-info.txt"),
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
            lines = ", ".join(localformat.count(n) for n, _note in info.notes[:10])
            out.append(
                finding(
                    "BAG_WARNING",
                    _(
                        "bag-info.txt line(s) {lines} are not in the exact 'Label: value' form "
                        "(one colon, one space or tab) of RFC 8493 §2.2.2",
                        lines=lines,
                    ),
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
                    _(
                        "bag-info.txt gives Payload-Oxum {count} times; it must appear "
                        "at most once (RFC 8493 §2.2.2); the first one is checked",
                        count=localformat.count(len(values)),
                    ),
                    file="bag-info.txt",
                )
            )
        try:
            declared = fmt.parse_payload_oxum(values[0])
        except MalformedError as exc:
            message = _("bag-info.txt: {problem}", problem=exc)
            out.append(finding("BAG_INFO_INVALID", message, file="bag-info.txt"))
            return
        payload = [f for p, f in self._files.items() if p.startswith(PAYLOAD_PREFIX)]
        octets = sum(f.size for f in payload)
        streams = len(payload)
        if (declared.octets, declared.streams) == (octets, streams):
            return
        found = fmt.payload_oxum(octets, streams)
        # Absent OS metadata files (see _check_completeness) may still be counted.
        if missing_os and streams + len(missing_os) == declared.streams:
            all_empty = all(empty for _path, empty in missing_os)
            extra = declared.octets - octets
            if extra == 0 or (extra > 0 and not all_empty):
                names = ", ".join(p for p, _empty in missing_os)
                out.append(
                    finding(
                        "BAG_SYSTEM_FILE",
                        _(
                            "Payload-Oxum {declared} counts the absent OS metadata file(s) "
                            "{names}; the payload present is {found}",
                            declared=values[0],
                            names=names,
                            found=found,
                        ),
                        file="bag-info.txt",
                        expected=values[0],
                        found=found,
                    )
                )
                return
        out.append(
            finding(
                "BAG_OXUM_MISMATCH",
                _(
                    "bag-info.txt declares Payload-Oxum {declared} (bytes.files) but the "
                    "payload holds {found}",
                    declared=values[0],
                    found=found,
                ),
                file="bag-info.txt",
                expected=values[0],
                found=found,
            )
        )

    def _check_fetch(
        self,
        out: list[Finding],
        version: tuple[int, int],
        encoding: str,
        manifests: list[ManifestRecord],
    ) -> set[str]:
        record = self._files.get("fetch.txt")
        if record is None:
            return set()
        if record.content is None:
            out.append(
                finding(
                    "BAG_FETCH_INVALID",
                    record.content_problem or _("{name} could not be read", name="fetch.txt"),
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
                        _(
                            "fetch.txt line {line} lists {path}, outside data/; "
                            "only payload files may be fetched (RFC 8493 §2.2.3)",
                            line=localformat.count(entry.line),
                            path=repr(entry.path),
                        ),
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
                continue
            if entry.path not in listed:
                out.append(
                    finding(
                        "BAG_FETCH_INVALID",
                        _(
                            "fetch.txt line {line} lists {path}, which no payload "
                            "manifest lists (RFC 8493 §2.2.3)",
                            line=localformat.count(entry.line),
                            path=repr(entry.path),
                        ),
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
            present = self._files.get(entry.path)
            if present is not None and entry.length is not None and present.size != entry.length:
                out.append(
                    finding(
                        "BAG_WARNING",
                        _(
                            "fetch.txt line {line} gives {length} bytes for "
                            "{path}, which holds {size}",
                            line=localformat.count(entry.line),
                            length=localformat.count(entry.length),
                            path=repr(entry.path),
                            size=localformat.count(present.size),
                        ),
                        file="fetch.txt",
                        record=entry.line,
                    )
                )
            fetched.add(entry.path)
        return fetched
