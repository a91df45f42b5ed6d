"""``bagit.txt``, the bag declaration (RFC 8493 §2.1.1): a strict parser, a lenient one
that lets a validator go on with a broken declaration, and the writer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.bagit_text import BOMS, check_encoding, check_size, split_lines
from fiscalsafe.i18n import _

#: Largest bagit.txt we agree to parse: it has two short lines.
MAX_DECLARATION_BYTES = 64 * 1024

#: BagIt versions whose rules we know.
KNOWN_VERSIONS: frozenset[tuple[int, int]] = frozenset(
    {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}
)


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
        return _(
            "expected '{label}: {shape}', found {line}", label=label, shape=shape, line=repr(line)
        )
    if line[:1].isspace():
        return _("{line} starts with whitespace", line=repr(line))
    rest = line[len(label) :] if line.startswith(label) else None
    if rest is None:
        return _(
            "the label must be spelt exactly '{label}', found {line}", label=label, line=repr(line)
        )
    if rest[:1].isspace():
        return _("{line} has whitespace between the label and the colon", line=repr(line))
    if not rest.startswith(": "):
        return _(
            "{line} must have exactly ': ' (colon, one space) after the label", line=repr(line)
        )
    value = rest[2:]
    if value != value.strip():
        return _(
            "{line} has whitespace around the value {value}",
            line=repr(line),
            value=repr(value.strip()),
        )
    return _("{value} is not of the form {shape}", value=repr(value), shape=shape)


def _declaration_lines(data: bytes) -> tuple[list[str], list[str]]:
    """The two lines of ``bagit.txt`` (blank lines after them dropped, with a note), or
    ``MalformedError`` for a byte-order mark, bytes that are not UTF-8 or another count."""
    check_size(data, MAX_DECLARATION_BYTES, "bagit.txt")
    for bom, name in BOMS:
        if data.startswith(bom):
            raise MalformedError(
                _(
                    "bagit.txt starts with a {name} byte-order mark; RFC 8493 §2.1.1 requires "
                    "UTF-8 without a byte-order mark",
                    name=name,
                )
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(
            _("bagit.txt is not valid UTF-8 (byte {byte})", byte=exc.start)
        ) from None
    lines = split_lines(text)
    notes: list[str] = []
    while lines and lines[-1].strip() == "" and len(lines) > 2:
        lines.pop()
        notes.append(_("bagit.txt ends with blank lines after the two declaration lines"))
    if len(lines) < 2:
        if not lines or not _LAX_VERSION.fullmatch(lines[0]):
            raise MalformedError(
                _(
                    "bagit.txt must consist of the two lines 'BagIt-Version: M.N' and "
                    "'Tag-File-Character-Encoding: ENCODING'; the version line is missing"
                )
            )
        raise MalformedError(
            _(
                "bagit.txt has no 'Tag-File-Character-Encoding' line (RFC 8493 §2.1.1 "
                "requires it as the second line)"
            )
        )
    if len(lines) > 2:
        raise MalformedError(
            _(
                "bagit.txt has {count} lines; RFC 8493 §2.1.1 requires exactly two (the "
                "third is {third})",
                count=len(lines),
                third=repr(lines[2]),
            )
        )
    return lines, notes


def parse_bagit_txt(data: bytes) -> Declaration:
    """Parse ``bagit.txt`` strictly (RFC 8493 §2.1.1): UTF-8 without byte-order mark,
    exactly the two lines ``BagIt-Version: M.N`` and ``Tag-File-Character-Encoding: ENC``
    in that order, one space after each colon, no other whitespace. Raises
    :class:`MalformedError` naming the rule that is broken."""
    lines, notes = _declaration_lines(data)
    version_line, encoding_line = lines
    if _LAX_ENCODING.fullmatch(version_line) and _LAX_VERSION.fullmatch(encoding_line):
        raise MalformedError(
            _(
                "bagit.txt lists Tag-File-Character-Encoding before BagIt-Version; "
                "RFC 8493 §2.1.1 requires the version first"
            )
        )
    match = _VERSION_LINE.fullmatch(version_line)
    if match is None:
        problem = _declaration_line_problem(version_line, "BagIt-Version", "M.N")
        raise MalformedError(
            _("bagit.txt line 1 is not a valid version line: {problem}", problem=problem)
        )
    version = (int(match.group(1)), int(match.group(2)))
    version_text = f"{match.group(1)}.{match.group(2)}"
    enc_match = _ENCODING_LINE.fullmatch(encoding_line)
    if enc_match is None:
        problem = _declaration_line_problem(
            encoding_line, "Tag-File-Character-Encoding", "ENCODING"
        )
        raise MalformedError(
            _("bagit.txt line 2 is not a valid encoding line: {problem}", problem=problem)
        )
    encoding = enc_match.group(1)
    check_encoding(encoding)
    if version not in KNOWN_VERSIONS:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(KNOWN_VERSIONS))
        raise MalformedError(
            _(
                "BagIt-Version {version} is not a known version ({known})",
                version=version_text,
                known=known,
            )
        )
    return Declaration(version, version_text, encoding, tuple(notes))


def sniff_bagit_txt(data: bytes) -> Declaration | None:
    """Best-effort reading of a broken ``bagit.txt`` (stray whitespace, BOM, missing line)
    so that a validator can check the rest of the bag with the intended version and
    encoding. ``None`` when nothing usable is found. Never raises."""
    text = data[:MAX_DECLARATION_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
    version: tuple[int, int] | None = None
    version_text = ""
    encoding = "UTF-8"
    for line in split_lines(text):
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
