"""BagIt (RFC 8493) tag files: bytes in, structured objects out, and the few writers the
backup needs.

Pure functions, no I/O. The validator (``fiscalsafe.verify.bag``) decides what a problem
means for the bag; this module only says what the bytes contain. It is the one place
callers import from; the parts with a job of their own live beside it and are
re-exported here:

- ``bagit.txt`` (the bag declaration, RFC 8493 §2.1.1), in :mod:`.bagit_declaration`:
  :func:`parse_bagit_txt` is strict (exact line format, UTF-8, no byte-order mark) and
  raises :class:`MalformedError`; :func:`sniff_bagit_txt` is a lenient best effort so that
  a validator can go on checking the rest of a bag whose declaration is broken;
- ``bag-info.txt`` (§2.2.2): :func:`parse_bag_info`, labels with continuation lines, and
  :func:`parse_payload_oxum`;
- payload and tag manifests (§2.1.3, §2.2.1): :func:`parse_checksum_manifest` returns every entry
  plus per-line problems, so that a validator can report all of them, not the first;
- ``fetch.txt`` (§2.2.3): :func:`parse_fetch`;
- paths, in :mod:`.bagit_paths`: :func:`encode_path` / :func:`decode_path`
  (percent-encoding of CR, LF and ``%``) and :func:`unsafe_path_reason` (absolute, ``..``,
  drive letters, backslashes...);
- line breaks and character encodings, in :mod:`.bagit_text`.

Every parser refuses input larger than :data:`MAX_TAG_FILE_BYTES` so that a hostile bag
cannot make us hold gigabytes of "tag file" in memory.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.bagit_declaration import (  # noqa: F401 - re-exported
    KNOWN_VERSIONS,
    MAX_DECLARATION_BYTES,
    Declaration,
    parse_bagit_txt,
    render_bagit_txt,
    sniff_bagit_txt,
)
from fiscalsafe.formats.bagit_paths import (  # noqa: F401 - re-exported
    decode_path,
    encode_path,
    name_key,
    normalize_relative_path,
    strip_dot_slash,
    unsafe_path_reason,
)
from fiscalsafe.formats.bagit_text import check_encoding, check_size, split_lines
from fiscalsafe.i18n import _

# --- limits -------------------------------------------------------------------------------

#: Largest tag file (bag-info, manifest, fetch) we agree to parse.
MAX_TAG_FILE_BYTES = 64 * 1024 * 1024
#: Digits allowed in a Payload-Oxum or fetch length (Python refuses int() of > 4300 digits).
_MAX_NUMBER_DIGITS = 30

# --- algorithms ---------------------------------------------------------------------------

#: Manifest algorithm name (as in ``manifest-<name>.txt``) -> hex digest length.
#: The four of RFC 8493 §2.4 plus the two SHA-2 variants bagit-python and bagit-java write.
DIGEST_HEX_LENGTHS: dict[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
}
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(DIGEST_HEX_LENGTHS)
WEAK_ALGORITHMS: frozenset[str] = frozenset({"md5", "sha1"})


_MANIFEST_NAME = re.compile(r"(tag)?manifest-([A-Za-z0-9_-]+)\.txt")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def manifest_algorithm(filename: str) -> tuple[bool, str] | None:
    """``manifest-sha256.txt`` -> ``(False, "sha256")``; ``tagmanifest-md5.txt`` ->
    ``(True, "md5")``; anything else -> ``None``. The name is not checked against
    :data:`SUPPORTED_ALGORITHMS`: a bag may carry a manifest we cannot verify."""
    match = _MANIFEST_NAME.fullmatch(filename)
    if match is None:
        return None
    return (match.group(1) is not None, match.group(2))


def decode_tag_file(data: bytes, encoding: str, what: str) -> tuple[str, list[str]]:
    """Decode a tag file with the bag's declared encoding. Returns the text and notes (a
    UTF-8 byte-order mark, which RFC 8493 §2.1.1 forbids in bagit.txt and bagit-python
    warns about elsewhere, is dropped with a note). UTF-16/32 files keep their BOM: the
    codec needs it to know the byte order."""
    check_size(data, MAX_TAG_FILE_BYTES, what)
    codec = check_encoding(encoding)
    notes: list[str] = []
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        notes.append(
            _("{what} starts with a UTF-8 byte-order mark, which BagIt does not use", what=what)
        )
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise MalformedError(
            _(
                "{what} is not valid {encoding} (byte {byte}: {reason})",
                what=what,
                encoding=encoding,
                byte=exc.start,
                reason=exc.reason,
            )
        ) from None
    if text.startswith("\ufeff"):  # UTF-16/32 with BOM decode it away; be sure
        text = text[1:]
    return text, notes


# --- bag-info.txt -------------------------------------------------------------------------


@dataclass(frozen=True)
class BagInfo:
    """The metadata elements of ``bag-info.txt`` in file order, repeats kept.

    ``notes`` are departures from the exact ``Label: value`` form of RFC 8493 §2.2.2
    (whitespace before the colon, several spaces after it) that the parser accepted."""

    fields: tuple[tuple[str, str], ...]
    notes: tuple[tuple[int, str], ...] = ()

    def get_all(self, label: str) -> list[str]:
        """Every value of ``label``, compared case-insensitively."""
        wanted = label.casefold()
        return [value for name, value in self.fields if name.casefold() == wanted]

    def get(self, label: str) -> str | None:
        values = self.get_all(label)
        return values[0] if values else None


def parse_bag_info(data: bytes, encoding: str = "UTF-8") -> BagInfo:
    """Parse ``bag-info.txt``: ``label: value`` lines, a value continued on following lines
    that start with a space or tab (the line break and that indentation are replaced by a
    single space). Blank lines are skipped. Raises :class:`MalformedError` on a line with
    no colon, an empty label or a continuation with nothing to continue."""
    text, _bom_notes = decode_tag_file(data, encoding, "bag-info.txt")
    fields: list[list[str]] = []
    notes: list[tuple[int, str]] = []
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "":
            continue
        if line[0] in " \t":
            if not fields:
                raise MalformedError(
                    _(
                        "bag-info.txt line {number} is indented (a continuation line) but no "
                        "metadata element precedes it",
                        number=number,
                    )
                )
            continued = line.strip(" \t")
            fields[-1][1] = f"{fields[-1][1]} {continued}".strip(" \t")
            continue
        label, colon, value = line.partition(":")
        if not colon:
            raise MalformedError(
                _(
                    "bag-info.txt line {number} has no ':' separating a label from a value: {line}",
                    number=number,
                    line=repr(line[:80]),
                )
            )
        if label.strip() == "":
            raise MalformedError(_("bag-info.txt line {number} has an empty label", number=number))
        if label != label.rstrip(" \t") or not (value[:1] in (" ", "\t") or value == ""):
            notes.append(
                (number, _("line {number} is not in the exact 'Label: value' form", number=number))
            )
        elif value[1:2] in (" ", "\t"):
            notes.append(
                (number, _("line {number} has more than one space after the colon", number=number))
            )
        fields.append([label.rstrip(" \t"), value.strip(" \t")])
    return BagInfo(tuple((a, b) for a, b in fields), tuple(notes))


def render_bag_info(fields: list[tuple[str, str]]) -> bytes:
    """``Label: value`` lines, in the given order, UTF-8, LF-terminated. Labels must be
    non-empty, without ``:``, line breaks or surrounding whitespace; values must not
    contain line breaks (no folding: we never write lines that need it)."""
    out: list[str] = []
    for label, value in fields:
        if label == "" or ":" in label or label != label.strip() or any(c in label for c in "\r\n"):
            raise ValueError(_("invalid bag-info label {label}", label=repr(label)))
        if any(c in value for c in "\r\n") or value != value.strip(" \t"):
            raise ValueError(
                _(
                    "invalid bag-info value for {label}: {value}",
                    label=repr(label),
                    value=repr(value),
                )
            )
        out.append(f"{label}: {value}\n")
    return "".join(out).encode("utf-8")


@dataclass(frozen=True)
class Oxum:
    """``Payload-Oxum: <octets>.<streams>``: total payload bytes and payload file count."""

    octets: int
    streams: int


_OXUM = re.compile(rf"([0-9]{{1,{_MAX_NUMBER_DIGITS}}})\.([0-9]{{1,{_MAX_NUMBER_DIGITS}}})")


def parse_payload_oxum(value: str) -> Oxum:
    match = _OXUM.fullmatch(value.strip(" \t"))
    if match is None:
        raise MalformedError(
            _(
                "Payload-Oxum {value} is not of the form <octet count>.<file count>",
                value=repr(value[:60]),
            )
        )
    return Oxum(int(match.group(1)), int(match.group(2)))


def payload_oxum(total_bytes: int, file_count: int) -> str:
    """The Payload-Oxum value for a payload of ``file_count`` files, ``total_bytes`` long."""
    if total_bytes < 0 or file_count < 0:
        raise ValueError(_("Payload-Oxum counts cannot be negative"))
    return f"{int(total_bytes)}.{int(file_count)}"


# --- manifests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry:
    """One ``checksum filepath`` line. ``path`` is decoded and canonical (no ``./``);
    ``raw_path`` is the text as written. The flags record accepted departures from the
    canonical form."""

    line: int
    checksum: str  # lower-case hex
    path: str
    raw_path: str
    leading_dot_slash: bool = False
    binary_marker: bool = False  # md5sum's "<hex> *<path>" binary-mode marker
    other_noise: bool = False  # "." or empty path components
    trailing_whitespace: bool = False


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str
    unsafe: bool = False  # the path could reach outside the bag


@dataclass(frozen=True)
class ChecksumManifest:
    algorithm: str
    entries: tuple[ManifestEntry, ...]
    problems: tuple[LineProblem, ...] = ()
    blank_lines: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default=())


_MANIFEST_LINE = re.compile(r"([0-9A-Fa-f]+)([ \t]+)(.*)", re.S)


def parse_checksum_manifest(
    data: bytes,
    algorithm: str,
    encoding: str = "UTF-8",
    *,
    name: str = "manifest",
    version: tuple[int, int] = (1, 0),
) -> ChecksumManifest:
    """Parse a payload or tag manifest (RFC 8493 §2.1.3): lines ``checksum filepath``,
    the two separated by one or more spaces or tabs, the path percent-decoded.

    Raises :class:`MalformedError` only when the whole file is unusable (too large, not in
    the declared encoding). Bad lines are returned in ``problems`` and skipped, so a
    validator can report all of them. Accepted with a flag on the entry: a leading ``./``,
    md5sum's binary-mode marker (``<hex> *<path>``: exactly one space then ``*``), ``.``
    or empty path components, trailing whitespace (kept as part of the file name)."""
    text, notes = decode_tag_file(data, encoding, name)
    entries: list[ManifestEntry] = []
    problems: list[LineProblem] = []
    blanks: list[int] = []
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "":
            blanks.append(number)
            continue
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            problems.append(_unparsable_line(name, number, line))
            continue
        checksum, separator, raw = match.groups()
        problem = _checksum_problem(name, number, checksum, raw, algorithm)
        if problem is not None:
            problems.append(problem)
            continue
        binary = separator == " " and raw.startswith("*")
        path_text = raw[1:] if binary else raw
        trailing = path_text != path_text.rstrip(" \t")
        path = decode_path(path_text, version=version)
        canonical, leading, noise = normalize_relative_path(path)
        if canonical == "":
            no_file = _("{name} line {number} names no file", name=name, number=number)
            problems.append(LineProblem(number, no_file))
            continue
        reason = unsafe_path_reason(strip_dot_slash(path))
        if reason is not None:
            problems.append(
                LineProblem(
                    number,
                    _(
                        "{name} line {number} lists {path}: {reason}",
                        name=name,
                        number=number,
                        path=repr(raw),
                        reason=reason,
                    ),
                    unsafe=True,
                )
            )
            continue
        entries.append(
            ManifestEntry(
                line=number,
                checksum=checksum.lower(),
                path=canonical,
                raw_path=raw,
                leading_dot_slash=leading,
                binary_marker=binary,
                other_noise=noise,
                trailing_whitespace=trailing,
            )
        )
    return ChecksumManifest(algorithm, tuple(entries), tuple(problems), tuple(blanks), tuple(notes))


def _unparsable_line(name: str, number: int, line: str) -> LineProblem:
    """Why a manifest line is not ``<checksum> <path>`` at all."""
    where = {"name": name, "number": number}
    hex_prefix = _HEX.match(line)
    if line[0].isspace():
        why = _(
            "{name} line {number} starts with whitespace; it must start with the checksum",
            **where,
        )
    elif hex_prefix is not None and hex_prefix.end() == len(line):
        why = _("{name} line {number} has a checksum but no file path", **where)
    else:
        why = _(
            "{name} line {number} is not '<hex checksum> <file path>' separated by spaces or tabs",
            **where,
        )
    return LineProblem(number, why)


def _checksum_problem(
    name: str, number: int, checksum: str, raw: str, algorithm: str
) -> LineProblem | None:
    """A line with no path, or a checksum of the wrong length for ``algorithm``."""
    if raw == "" or raw.strip() == "":
        return LineProblem(
            number, _("{name} line {number} has no file path", name=name, number=number)
        )
    expected = DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is not None and len(checksum) != expected:
        return LineProblem(
            number,
            _(
                "{name} line {number}: the checksum has {found} hex digits, a {algorithm} "
                "checksum has {expected}",
                name=name,
                number=number,
                found=len(checksum),
                algorithm=algorithm,
                expected=expected,
            ),
        )
    return None


def render_manifest(entries: list[tuple[str, str]]) -> bytes:
    """``<hexdigest>  <path>`` lines (two spaces, as bagit-python and the coreutils write
    them), sorted by path, paths percent-encoded, UTF-8, LF-terminated. Refuses unsafe or
    duplicate paths and non-hex digests."""
    seen: set[str] = set()
    lines: list[tuple[str, str]] = []
    for path, digest in entries:
        reason = unsafe_path_reason(path)
        if reason is not None:
            raise ValueError(
                _("cannot list {path} in a manifest: {reason}", path=repr(path), reason=reason)
            )
        if normalize_relative_path(path)[0] != path:
            raise ValueError(_("{path} is not a canonical relative path", path=repr(path)))
        if path in seen:
            raise ValueError(_("{path} listed twice", path=repr(path)))
        if not _HEX.fullmatch(digest):
            raise ValueError(_("{digest} is not a hex digest", digest=repr(digest)))
        seen.add(path)
        lines.append((path, digest.lower()))
    lines.sort()
    return "".join(f"{digest}  {encode_path(path)}\n" for path, digest in lines).encode("utf-8")


# --- fetch.txt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchEntry:
    line: int
    url: str
    length: int | None  # None for "-"
    path: str


@dataclass(frozen=True)
class Fetch:
    entries: tuple[FetchEntry, ...]
    problems: tuple[LineProblem, ...] = ()


_FETCH_LINE = re.compile(rf"(\S+)[ \t]+([0-9]{{1,{_MAX_NUMBER_DIGITS}}}|-)[ \t]+(.+)", re.S)


def parse_fetch(
    data: bytes, encoding: str = "UTF-8", *, version: tuple[int, int] = (1, 0)
) -> Fetch:
    """Parse ``fetch.txt`` (RFC 8493 §2.2.3): ``url length filepath`` lines, length a
    number of octets or ``-``. Bad lines and unsafe paths are returned in ``problems``."""
    text, _notes = decode_tag_file(data, encoding, "fetch.txt")
    entries: list[FetchEntry] = []
    problems: list[LineProblem] = []
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "":
            continue
        match = _FETCH_LINE.fullmatch(line)
        if match is None:
            problems.append(
                LineProblem(
                    number,
                    _("fetch.txt line {number} is not '<url> <length> <path>'", number=number),
                )
            )
            continue
        url, length, raw = match.groups()
        parts = urlsplit(url)
        if not parts.scheme or (not parts.netloc and parts.scheme != "file"):
            problems.append(
                LineProblem(
                    number,
                    _(
                        "fetch.txt line {number}: {url} is not a URL",
                        number=number,
                        url=repr(url[:80]),
                    ),
                )
            )
            continue
        path = decode_path(raw, version=version)
        reason = unsafe_path_reason(strip_dot_slash(path))
        if reason is not None:
            problems.append(
                LineProblem(
                    number,
                    _(
                        "fetch.txt line {number} lists {path}: {reason}",
                        number=number,
                        path=repr(raw),
                        reason=reason,
                    ),
                    True,
                )
            )
            continue
        canonical, _leading, _noise = normalize_relative_path(path)
        entries.append(FetchEntry(number, url, None if length == "-" else int(length), canonical))
    return Fetch(tuple(entries), tuple(problems))
