"""BagIt (RFC 8493) tag files: bytes in, structured objects out, and the few writers the
backup needs.

Pure functions, no I/O. The validator (``fiscalsafe.verify.bag``) decides what a problem
means for the bag; this module only says what the bytes contain:

- ``bagit.txt`` (the bag declaration, RFC 8493 §2.1.1): :func:`parse_bagit_txt` is strict
  (exact line format, UTF-8, no byte-order mark) and raises :class:`MalformedError`;
  :func:`sniff_bagit_txt` is a lenient best effort so that a validator can go on checking
  the rest of a bag whose declaration is broken;
- ``bag-info.txt`` (§2.2.2): :func:`parse_bag_info`, labels with continuation lines, and
  :func:`parse_payload_oxum`;
- payload and tag manifests (§2.1.3, §2.2.1): :func:`parse_checksum_manifest` returns every entry
  plus per-line problems, so that a validator can report all of them, not the first;
- ``fetch.txt`` (§2.2.3): :func:`parse_fetch`;
- paths: :func:`encode_path` / :func:`decode_path` (percent-encoding of CR, LF and ``%``)
  and :func:`unsafe_path_reason` (absolute, ``..``, drive letters, backslashes...).

Every parser refuses input larger than :data:`MAX_TAG_FILE_BYTES` so that a hostile bag
cannot make us hold gigabytes of "tag file" in memory.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats import paths

# --- limits -------------------------------------------------------------------------------

#: Largest tag file (bag-info, manifest, fetch) we agree to parse.
MAX_TAG_FILE_BYTES = 64 * 1024 * 1024
#: Largest bagit.txt we agree to parse: it has two short lines.
MAX_DECLARATION_BYTES = 64 * 1024
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

#: BagIt versions whose rules we know.
KNOWN_VERSIONS: frozenset[tuple[int, int]] = frozenset(
    {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}
)

_MANIFEST_NAME = re.compile(r"(tag)?manifest-([A-Za-z0-9_-]+)\.txt")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEX = re.compile(r"[0-9A-Fa-f]+")

_BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF32_LE, "UTF-32LE"),  # before UTF-16LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)


def manifest_algorithm(filename: str) -> tuple[bool, str] | None:
    """``manifest-sha256.txt`` -> ``(False, "sha256")``; ``tagmanifest-md5.txt`` ->
    ``(True, "md5")``; anything else -> ``None``. The name is not checked against
    :data:`SUPPORTED_ALGORITHMS`: a bag may carry a manifest we cannot verify."""
    match = _MANIFEST_NAME.fullmatch(filename)
    if match is None:
        return None
    return (match.group(1) is not None, match.group(2))


def _split_lines(text: str) -> list[str]:
    """Split on LF, CR or CRLF (RFC 8493 §2: any of the three ends a line). A final line
    terminator is optional and does not create an empty last line. Unlike
    ``str.splitlines`` this does not split on VT, FF, NEL, U+2028..."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _check_size(data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise MalformedError(f"{what} is {len(data)} bytes, more than the {limit}-byte limit")


def check_encoding(name: str) -> str:
    """Return the Python codec name for a Tag-File-Character-Encoding value, or raise
    :class:`MalformedError` if Python has no text codec of that name."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise MalformedError(f"unknown character encoding {name!r}") from None
    try:
        b"x".decode(name)  # refuses codecs that are not text encodings: rot13, zlib...
    except UnicodeDecodeError:
        pass  # a text codec that just cannot decode one byte alone (UTF-16...)
    except (LookupError, TypeError, ValueError):
        raise MalformedError(f"unknown character encoding {name!r}") from None
    return info.name


def decode_tag_file(data: bytes, encoding: str, what: str) -> tuple[str, list[str]]:
    """Decode a tag file with the bag's declared encoding. Returns the text and notes (a
    UTF-8 byte-order mark, which RFC 8493 §2.1.1 forbids in bagit.txt and bagit-python
    warns about elsewhere, is dropped with a note). UTF-16/32 files keep their BOM: the
    codec needs it to know the byte order."""
    _check_size(data, MAX_TAG_FILE_BYTES, what)
    codec = check_encoding(encoding)
    notes: list[str] = []
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        notes.append(f"{what} starts with a UTF-8 byte-order mark, which BagIt does not use")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise MalformedError(
            f"{what} is not valid {encoding} (byte {exc.start}: {exc.reason})"
        ) from None
    if text.startswith("\ufeff"):  # UTF-16/32 with BOM decode it away; be sure
        text = text[1:]
    return text, notes


# --- paths --------------------------------------------------------------------------------

_PERCENT_ESCAPE_V1 = re.compile(r"%(0[AaDd]|25)")
_PERCENT_ESCAPE_V0 = re.compile(r"%(0[AaDd])")
_ESCAPED = {"0a": "\n", "0d": "\r", "25": "%"}
_DRIVE = re.compile(r"[A-Za-z]:")


def encode_path(path: str) -> str:
    """Percent-encode a file path for a manifest or fetch line (RFC 8493 §2.1.3): CR, LF
    and ``%`` -- and only those -- become ``%0D``, ``%0A`` and ``%25``."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(text: str, *, version: tuple[int, int] = (1, 0)) -> str:
    """Undo :func:`encode_path` in a single left-to-right pass, so that ``%250A`` decodes
    to the five characters ``%0A``. Any other ``%`` sequence is left as it is.

    Bags older than 1.0 were written by tools (bagit-python among them) that escaped CR
    and LF but not ``%``: for them ``%25`` is left alone, as those tools read it."""
    pattern = _PERCENT_ESCAPE_V1 if version >= (1, 0) else _PERCENT_ESCAPE_V0
    return pattern.sub(lambda m: _ESCAPED[m.group(1).lower()], text)


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` (relative to the bag's base directory, ``/``-separated) could reach
    outside the bag or mean different files on different systems; ``None`` if it cannot.
    The one path policy (:mod:`fiscalsafe.formats.paths`) decides."""
    return paths.bag_path_reason(path)


def _strip_dot_slash(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path


def normalize_relative_path(path: str) -> tuple[str, bool, bool]:
    """Canonical form of a safe relative path: leading ``./`` removed, ``.`` and empty
    components dropped. Returns ``(path, had_leading_dot_slash, had_other_noise)``."""
    leading = False
    while path.startswith("./"):
        path = path[2:]
        leading = True
    parts = path.split("/")
    kept = [p for p in parts if p not in ("", ".")]
    return "/".join(kept), leading, len(kept) != len(parts)


name_key = paths.name_key


# --- bagit.txt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """The content of ``bagit.txt``."""

    version: tuple[int, int]
    version_text: str
    encoding: str
    notes: tuple[str, ...] = ()


_VERSION_LINE = re.compile(r"BagIt-Version: ([0-9]{1,4})\.([0-9]{1,4})")
_ENCODING_LINE = re.compile(r"Tag-File-Character-Encoding: ([!-~]+)")
_LAX_VERSION = re.compile(r"\s*BagIt-Version\s*:\s*([0-9]{0,4})\.([0-9]{1,4})\s*", re.I)
_LAX_ENCODING = re.compile(r"\s*Tag-File-Character-Encoding\s*:\s*([!-~]+)\s*", re.I)


def _declaration_line_problem(line: str, label: str, shape: str) -> str:
    """Explain why a bagit.txt line is not exactly ``<label>: <value>``."""
    if not line.lower().lstrip().startswith(label.lower()):
        return f"expected '{label}: {shape}', found {line!r}"
    if line[:1].isspace():
        return f"{line!r} starts with whitespace"
    rest = line[len(label) :] if line.startswith(label) else None
    if rest is None:
        return f"the label must be spelt exactly '{label}', found {line!r}"
    if rest[:1].isspace():
        return f"{line!r} has whitespace between the label and the colon"
    if not rest.startswith(": "):
        return f"{line!r} must have exactly ': ' (colon, one space) after the label"
    value = rest[2:]
    if value != value.strip():
        return f"{line!r} has whitespace around the value {value.strip()!r}"
    return f"{value!r} is not of the form {shape}"


def parse_bagit_txt(data: bytes) -> Declaration:
    """Parse ``bagit.txt`` strictly (RFC 8493 §2.1.1): UTF-8 without byte-order mark,
    exactly the two lines ``BagIt-Version: M.N`` and ``Tag-File-Character-Encoding: ENC``
    in that order, one space after each colon, no other whitespace. Raises
    :class:`MalformedError` naming the rule that is broken."""
    _check_size(data, MAX_DECLARATION_BYTES, "bagit.txt")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise MalformedError(
                f"bagit.txt starts with a {name} byte-order mark; RFC 8493 §2.1.1 requires "
                "UTF-8 without a byte-order mark"
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"bagit.txt is not valid UTF-8 (byte {exc.start})") from None
    lines = _split_lines(text)
    notes: list[str] = []
    while lines and lines[-1].strip() == "" and len(lines) > 2:
        lines.pop()
        notes.append("bagit.txt ends with blank lines after the two declaration lines")
    if len(lines) < 2:
        if not lines or not _LAX_VERSION.fullmatch(lines[0]):
            raise MalformedError(
                "bagit.txt must consist of the two lines 'BagIt-Version: M.N' and "
                "'Tag-File-Character-Encoding: ENCODING'; the version line is missing"
            )
        raise MalformedError(
            "bagit.txt has no 'Tag-File-Character-Encoding' line (RFC 8493 §2.1.1 requires "
            "it as the second line)"
        )
    if len(lines) > 2:
        raise MalformedError(
            f"bagit.txt has {len(lines)} lines; RFC 8493 §2.1.1 requires exactly two "
            f"(the third is {lines[2]!r})"
        )
    version_line, encoding_line = lines
    if _LAX_ENCODING.fullmatch(version_line) and _LAX_VERSION.fullmatch(encoding_line):
        raise MalformedError(
            "bagit.txt lists Tag-File-Character-Encoding before BagIt-Version; "
            "RFC 8493 §2.1.1 requires the version first"
        )
    match = _VERSION_LINE.fullmatch(version_line)
    if match is None:
        problem = _declaration_line_problem(version_line, "BagIt-Version", "M.N")
        raise MalformedError(f"bagit.txt line 1 is not a valid version line: {problem}")
    version = (int(match.group(1)), int(match.group(2)))
    version_text = f"{match.group(1)}.{match.group(2)}"
    enc_match = _ENCODING_LINE.fullmatch(encoding_line)
    if enc_match is None:
        problem = _declaration_line_problem(
            encoding_line, "Tag-File-Character-Encoding", "ENCODING"
        )
        raise MalformedError(f"bagit.txt line 2 is not a valid encoding line: {problem}")
    encoding = enc_match.group(1)
    check_encoding(encoding)
    if version not in KNOWN_VERSIONS:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(KNOWN_VERSIONS))
        raise MalformedError(f"BagIt-Version {version_text} is not a known version ({known})")
    return Declaration(version, version_text, encoding, tuple(notes))


def sniff_bagit_txt(data: bytes) -> Declaration | None:
    """Best-effort reading of a broken ``bagit.txt`` (stray whitespace, BOM, missing line)
    so that a validator can check the rest of the bag with the intended version and
    encoding. ``None`` when nothing usable is found. Never raises."""
    text = data[:MAX_DECLARATION_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
    version: tuple[int, int] | None = None
    version_text = ""
    encoding = "UTF-8"
    for line in _split_lines(text):
        match = _LAX_VERSION.fullmatch(line)
        if match and version is None:
            version_text = f"{match.group(1)}.{match.group(2)}"
            version = (int(match.group(1) or 0), int(match.group(2)))
            continue
        enc = _LAX_ENCODING.fullmatch(line)
        if enc:
            try:
                check_encoding(enc.group(1))
                encoding = enc.group(1)
            except MalformedError:
                pass
    if version is None:
        return None
    return Declaration(version, version_text, encoding)


def render_bagit_txt(version: str = "1.0", encoding: str = "UTF-8") -> bytes:
    """The bag declaration, exactly as RFC 8493 §2.1.1 shows it."""
    text = f"BagIt-Version: {version}\nTag-File-Character-Encoding: {encoding}\n"
    parse_bagit_txt(text.encode("utf-8"))  # refuse to write what we would not accept
    return text.encode("utf-8")


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
    for number, line in enumerate(_split_lines(text), start=1):
        if line.strip() == "":
            continue
        if line[0] in " \t":
            if not fields:
                raise MalformedError(
                    f"bag-info.txt line {number} is indented (a continuation line) but no "
                    "metadata element precedes it"
                )
            continued = line.strip(" \t")
            fields[-1][1] = f"{fields[-1][1]} {continued}".strip(" \t")
            continue
        label, colon, value = line.partition(":")
        if not colon:
            raise MalformedError(
                f"bag-info.txt line {number} has no ':' separating a label from a value: "
                f"{line[:80]!r}"
            )
        if label.strip() == "":
            raise MalformedError(f"bag-info.txt line {number} has an empty label")
        if label != label.rstrip(" \t") or not (value[:1] in (" ", "\t") or value == ""):
            notes.append((number, f"line {number} is not in the exact 'Label: value' form"))
        elif value[1:2] in (" ", "\t"):
            notes.append((number, f"line {number} has more than one space after the colon"))
        fields.append([label.rstrip(" \t"), value.strip(" \t")])
    return BagInfo(tuple((a, b) for a, b in fields), tuple(notes))


def render_bag_info(fields: list[tuple[str, str]]) -> bytes:
    """``Label: value`` lines, in the given order, UTF-8, LF-terminated. Labels must be
    non-empty, without ``:``, line breaks or surrounding whitespace; values must not
    contain line breaks (no folding: we never write lines that need it)."""
    out: list[str] = []
    for label, value in fields:
        if label == "" or ":" in label or label != label.strip() or any(c in label for c in "\r\n"):
            raise ValueError(f"invalid bag-info label {label!r}")
        if any(c in value for c in "\r\n") or value != value.strip(" \t"):
            raise ValueError(f"invalid bag-info value for {label!r}: {value!r}")
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
            f"Payload-Oxum {value[:60]!r} is not of the form <octet count>.<file count>"
        )
    return Oxum(int(match.group(1)), int(match.group(2)))


def payload_oxum(total_bytes: int, file_count: int) -> str:
    """The Payload-Oxum value for a payload of ``file_count`` files, ``total_bytes`` long."""
    if total_bytes < 0 or file_count < 0:
        raise ValueError("Payload-Oxum counts cannot be negative")
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
    expected_len = DIGEST_HEX_LENGTHS.get(algorithm)
    entries: list[ManifestEntry] = []
    problems: list[LineProblem] = []
    blanks: list[int] = []
    for number, line in enumerate(_split_lines(text), start=1):
        if line.strip() == "":
            blanks.append(number)
            continue
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            hex_prefix = _HEX.match(line)
            if line[0].isspace():
                why = "starts with whitespace; it must start with the checksum"
            elif hex_prefix is not None and hex_prefix.end() == len(line):
                why = "has a checksum but no file path"
            else:
                why = "is not '<hex checksum> <file path>' separated by spaces or tabs"
            problems.append(LineProblem(number, f"{name} line {number} {why}"))
            continue
        checksum, separator, raw = match.groups()
        if raw == "" or raw.strip() == "":
            problems.append(LineProblem(number, f"{name} line {number} has no file path"))
            continue
        if expected_len is not None and len(checksum) != expected_len:
            problems.append(
                LineProblem(
                    number,
                    f"{name} line {number}: the checksum has {len(checksum)} hex digits, "
                    f"a {algorithm} checksum has {expected_len}",
                )
            )
            continue
        binary = separator == " " and raw.startswith("*")
        path_text = raw[1:] if binary else raw
        trailing = path_text != path_text.rstrip(" \t")
        path = decode_path(path_text, version=version)
        canonical, leading, noise = normalize_relative_path(path)
        if canonical == "":
            problems.append(LineProblem(number, f"{name} line {number} names no file"))
            continue
        reason = unsafe_path_reason(_strip_dot_slash(path))
        if reason is not None:
            problems.append(
                LineProblem(number, f"{name} line {number} lists {raw!r}: {reason}", unsafe=True)
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


def render_manifest(entries: list[tuple[str, str]]) -> bytes:
    """``<hexdigest>  <path>`` lines (two spaces, as bagit-python and the coreutils write
    them), sorted by path, paths percent-encoded, UTF-8, LF-terminated. Refuses unsafe or
    duplicate paths and non-hex digests."""
    seen: set[str] = set()
    lines: list[tuple[str, str]] = []
    for path, digest in entries:
        reason = unsafe_path_reason(path)
        if reason is not None:
            raise ValueError(f"cannot list {path!r} in a manifest: {reason}")
        if normalize_relative_path(path)[0] != path:
            raise ValueError(f"{path!r} is not a canonical relative path")
        if path in seen:
            raise ValueError(f"{path!r} listed twice")
        if not _HEX.fullmatch(digest):
            raise ValueError(f"{digest!r} is not a hex digest")
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
    for number, line in enumerate(_split_lines(text), start=1):
        if line.strip() == "":
            continue
        match = _FETCH_LINE.fullmatch(line)
        if match is None:
            problems.append(
                LineProblem(number, f"fetch.txt line {number} is not '<url> <length> <path>'")
            )
            continue
        url, length, raw = match.groups()
        parts = urlsplit(url)
        if not parts.scheme or (not parts.netloc and parts.scheme != "file"):
            problems.append(
                LineProblem(number, f"fetch.txt line {number}: {url[:80]!r} is not a URL")
            )
            continue
        path = decode_path(raw, version=version)
        reason = unsafe_path_reason(_strip_dot_slash(path))
        if reason is not None:
            problems.append(
                LineProblem(number, f"fetch.txt line {number} lists {raw!r}: {reason}", True)
            )
            continue
        canonical, _leading, _noise = normalize_relative_path(path)
        entries.append(FetchEntry(number, url, None if length == "-" else int(length), canonical))
    return Fetch(tuple(entries), tuple(problems))
