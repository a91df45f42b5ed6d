"""Regenerate the parts of ``schemas/`` that are derived from the code or the golden vectors.

    .venv/bin/python schemas/generate.py          # rewrite what changed
    .venv/bin/python schemas/generate.py --check  # exit 1 if anything is out of date

Generated parts sit between ``<!-- generated:NAME -->`` and ``<!-- end:NAME -->`` lines in
the Markdown files; in ``finding.schema.json`` the code enum and the code -> severity rules
are generated, in ``manifest.schema.json`` the enum of backup kinds. Everything else is
written by hand. ``tests/test_schemas.py`` and ``tests/test_output_schemas.py`` fail when
a generated part is stale, so a new finding code, JET code or format change cannot slip
past the documentation.

The annotated dumps walk msgpack with the small reader below, written from the msgpack
specification rather than with the ``msgpack`` library: it doubles as a reference reader.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent
ROOT = SCHEMAS.parent
GOLDEN = ROOT / "fixtures" / "golden"

if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


# --- A reference msgpack reader that explains every byte -------------------------------


class Token:
    """One msgpack value: where it starts, its header bytes, and its payload."""

    def __init__(self, offset: int, header: bytes, kind: str, value: Any, size: int):
        self.offset = offset
        self.header = header  # type byte plus any length or fixed-size value bytes
        self.kind = kind  # the msgpack family name: fixmap, str8, uint64...
        self.value = value  # decoded scalar, or the entry count of a map/array
        self.size = size  # payload bytes after the header (str/bin only)


def read_token(data: bytes, pos: int) -> tuple[Token, int]:
    """Decode the header of the value at ``pos``; return it and the payload position."""
    b = data[pos]

    def fixed(fmt: str, n: int, kind: str) -> tuple[Token, int]:
        (value,) = struct.unpack(fmt, data[pos + 1 : pos + 1 + n])
        return Token(pos, data[pos : pos + 1 + n], kind, value, 0), pos + 1 + n

    def sized(n: int, kind: str) -> tuple[Token, int]:
        fmt = {1: ">B", 2: ">H", 4: ">I"}[n]
        (length,) = struct.unpack(fmt, data[pos + 1 : pos + 1 + n])
        return Token(pos, data[pos : pos + 1 + n], kind, None, length), pos + 1 + n

    def counted(n: int, kind: str) -> tuple[Token, int]:
        fmt = {2: ">H", 4: ">I"}[n]
        (count,) = struct.unpack(fmt, data[pos + 1 : pos + 1 + n])
        return Token(pos, data[pos : pos + 1 + n], kind, count, 0), pos + 1 + n

    one = data[pos : pos + 1]
    if b <= 0x7F:
        return Token(pos, one, "positive fixint", b, 0), pos + 1
    if b <= 0x8F:
        return Token(pos, one, "fixmap", b & 0x0F, 0), pos + 1
    if b <= 0x9F:
        return Token(pos, one, "fixarray", b & 0x0F, 0), pos + 1
    if b <= 0xBF:
        return Token(pos, one, "fixstr", None, b & 0x1F), pos + 1
    if b >= 0xE0:
        return Token(pos, one, "negative fixint", b - 0x100, 0), pos + 1
    simple = {0xC0: ("nil", None), 0xC2: ("false", False), 0xC3: ("true", True)}
    if b in simple:
        kind, value = simple[b]
        return Token(pos, one, kind, value, 0), pos + 1
    table: dict[int, Callable[[], tuple[Token, int]]] = {
        0xC4: lambda: sized(1, "bin8"),
        0xC5: lambda: sized(2, "bin16"),
        0xC6: lambda: sized(4, "bin32"),
        0xCC: lambda: fixed(">B", 1, "uint8"),
        0xCD: lambda: fixed(">H", 2, "uint16"),
        0xCE: lambda: fixed(">I", 4, "uint32"),
        0xCF: lambda: fixed(">Q", 8, "uint64"),
        0xD0: lambda: fixed(">b", 1, "int8"),
        0xD1: lambda: fixed(">h", 2, "int16"),
        0xD2: lambda: fixed(">i", 4, "int32"),
        0xD3: lambda: fixed(">q", 8, "int64"),
        0xD9: lambda: sized(1, "str8"),
        0xDA: lambda: sized(2, "str16"),
        0xDB: lambda: sized(4, "str32"),
        0xDC: lambda: counted(2, "array16"),
        0xDD: lambda: counted(4, "array32"),
        0xDE: lambda: counted(2, "map16"),
        0xDF: lambda: counted(4, "map32"),
    }
    if b not in table:
        raise ValueError(f"byte 0x{b:02x} at {pos}: not a type fiscalsafe documents use")
    return table[b]()


def _short(raw: bytes, limit: int = 10) -> str:
    text = raw[:limit].hex(" ")
    return text + (" …" if len(raw) > limit else "")


class Dump:
    """An annotated listing: offset, the bytes, and what they mean."""

    def __init__(self, data: bytes, base: int = 0):
        self.data = data
        self.base = base
        self.lines: list[tuple[int, str, str]] = []

    def value(self, pos: int, depth: int, label: str) -> int:
        token, pos = read_token(self.data, pos)
        indent = "  " * depth
        prefix = f"{indent}{label}: " if label else indent
        if token.kind.endswith(("map", "array")):
            what = "pair" if token.kind.endswith("map") else "item"
            plural = "" if token.value == 1 else "s"
            self.lines.append(
                (
                    token.offset,
                    token.header.hex(" "),
                    f"{prefix}{token.kind}, {token.value} {what}{plural}",
                )
            )
            for i in range(token.value):
                if token.kind.endswith("map"):
                    key_token, _ = read_token(self.data, pos)
                    key = self.data[pos + len(key_token.header) :][: key_token.size]
                    pos = self._scalar(pos, depth + 1, "key", "")
                    pos = self.value(pos, depth + 2, f"{key.decode()!r}")
                else:
                    pos = self.value(pos, depth + 1, f"[{i}]")
            return pos
        return self._scalar(token.offset, depth, label, prefix)

    def _scalar(self, pos: int, depth: int, label: str, prefix: str) -> int:
        token, pos = read_token(self.data, pos)
        if not prefix:
            prefix = "  " * depth + (f"{label}: " if label else "")
        payload = self.data[pos : pos + token.size]
        if token.kind in ("nil", "true", "false"):
            meaning = f"{prefix}{token.kind}"
        elif token.kind.startswith(("fixstr", "str")):
            meaning = f"{prefix}{token.kind}, {token.size} bytes: {payload.decode()!r}"
        elif token.kind.startswith("bin"):
            meaning = f"{prefix}{token.kind}, {token.size} bytes"
        else:
            meaning = f"{prefix}{token.kind}: {token.value!r}"
        shown = token.header + payload
        self.lines.append((token.offset, _short(shown), meaning))
        return pos + token.size

    def render(self) -> str:
        width = max(len(b) for _, b, _ in self.lines)
        out = [f"{'offset':>6}  {'bytes':<{width}}  meaning"]
        for offset, raw, meaning in self.lines:
            out.append(f"{self.base + offset:>6}  {raw:<{width}}  {meaning}")
        return "\n".join(out)


def dump(data: bytes, base: int = 0) -> str:
    """Annotate every value in ``data`` (which must hold whole msgpack values)."""
    d = Dump(data, base)
    pos = 0
    while pos < len(data):
        pos = d.value(pos, 0, "")
    return d.render()


def _unpack_pair(data: bytes) -> tuple[bytes, bytes]:
    """Split a ``[bin, bin]`` document (record or head) into its two byte strings."""
    token, pos = read_token(data, 0)
    assert token.kind == "fixarray" and token.value == 2
    parts = []
    for _ in range(2):
        t, pos = read_token(data, pos)
        parts.append(data[pos : pos + t.size])
        pos += t.size
    return parts[0], parts[1]


# --- Generated sections ------------------------------------------------------------------


def _golden() -> dict[str, Any]:
    return json.loads((GOLDEN / "vectors.json").read_text())


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in _golden()["vectors"] if v["name"] == name)


def _block(text: str) -> str:
    return f"```text\n{text}\n```"


def section_journal_dump() -> str:
    header = bytes.fromhex(_vector("journal-header")["hex"])
    rec1 = bytes.fromhex(_vector("journal-record-1")["record_hex"])
    body1 = bytes.fromhex(_vector("journal-record-1")["hex"])
    body4 = bytes.fromhex(_vector("journal-record-4")["hex"])
    head = bytes.fromhex(_vector("journal-head-file")["hex"])
    head_body, _ = _unpack_pair(head)
    body1_at = len(header) + rec1.index(body1)
    framing = Dump(rec1, len(header))
    framing.value(0, 0, "record 1")
    return "\n\n".join(
        [
            f"The file header (bytes 0 to {len(header) - 1} of `journal.jet`):",
            _block(dump(header)),
            "Record 1 as framed in the file (it starts right after the header):",
            _block(framing.render()),
            f"The body of record 1 (the genesis record; it starts at byte {body1_at} of the "
            "file), offsets relative to the body:",
            _block(dump(body1)),
            "The body of record 4 (code 20, an archive was created):",
            _block(dump(body4)),
            "`journal.head` and the body it carries:",
            _block(dump(head)),
            _block(dump(head_body)),
        ]
    )


def section_archive_dump() -> str:
    envelope = bytes.fromhex(_vector("archive-file")["hex"])
    body = bytes.fromhex(_vector("archive-body")["hex"])
    ticket = bytes.fromhex(_vector("ticket-1")["hex"])
    return "\n\n".join(
        [
            "The envelope (`A000001.fsa` as stored):",
            _block(dump(envelope)),
            f"The body (the bytes `sig` signs; they start at byte {envelope.index(body)} of the "
            "file), offsets relative to the body:",
            _block(dump(body)),
            "The body of ticket 1:",
            _block(dump(ticket)),
        ]
    )


def section_jet_codes() -> str:
    from fiscalsafe.formats import journal as fj

    roles = {
        fj.GENESIS_CODE: "must be the first record (seq 1, empty `prev`)",
        fj.INTEGRITY_FAILURE_CODE: "reported as `JOURNAL_INTEGRITY_EVENT` (warning)",
    }
    for code in fj.ARCHIVE_CODES:
        roles[code] = "`data` names the archive (see below); cross-checked"
    for code in fj.CLOSING_CODES:
        roles[code] = "`data` repeats the closure (see below); cross-checked"
    rows = ["| code | event | role in verification |", "|---:|---|---|"]
    for code, text in fj.JET_CODES.items():
        rows.append(f"| {code} | {text} | {roles.get(code, '')} |")
    return "\n".join(rows)


def _code_groups() -> list[tuple[str, list[str]]]:
    """The codes of ``codes.py`` in order, grouped under its ``# Group.`` comments."""
    from fiscalsafe.verify import codes

    source = Path(codes.__file__).read_text()
    groups: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        comment = re.match(r"\s*#\s*(.+?)\.?\s*$", line)
        code = re.match(r'\s*"([A-Z0-9_]+)":', line)
        if comment and "CODES" not in line:
            groups.append((comment.group(1), []))
        elif code:
            if not groups:
                groups.append(("Codes", []))
            groups[-1][1].append(code.group(1))
    listed = [c for _, cs in groups for c in cs]
    missing = [c for c in codes.CODES if c not in listed]
    if missing:  # a code the source scan missed (unusual formatting): still documented
        groups.append(("Other", missing))
    return [(g, cs) for g, cs in groups if cs]


def section_finding_codes() -> str:
    from fiscalsafe.verify.codes import CODES

    out = []
    for group, codes in _code_groups():
        out.append(f"### {group}\n")
        out.append("| code | severity | meaning |")
        out.append("|---|---|---|")
        for code in codes:
            severity, summary = CODES[code]
            out.append(f"| `{code}` | {severity} | {summary} |")
        out.append("")
    return "\n".join(out).rstrip()


def section_default_profile() -> str:
    from fiscalsafe.formats.dossier import DEFAULT_PROFILE

    return f"```json\n{json.dumps(DEFAULT_PROFILE.to_json(), indent=2)}\n```"


def section_algorithms() -> str:
    from fiscalsafe import crypto

    accepted = ", ".join(f"`{n}`" for n in sorted(crypto.ACCEPTED_ALGORITHMS))
    refused = ", ".join(f"`{n}`" for n in sorted(crypto.REFUSED_ALGORITHMS))
    return "\n".join(
        [
            f"- accepted `alg` values: {accepted};",
            f"- refused by name: {refused};",
            "- also refused: any other name containing `sha1` or `md5` (case-insensitive), "
            "and any name not in the accepted list.",
        ]
    )


def _size(n: int) -> str:
    """Bytes as the pages write them: an exact binary multiple, with the byte count."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit} ({n:,} bytes)".replace(",", " ")
    return f"{n:,} bytes".replace(",", " ")


def section_weekdays() -> str:
    from fiscalsafe.pipeline import media

    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    rows = ["| local weekday | stamp |", "|---|---|"]
    rows += [f"| {en} | `{fr}` |" for en, fr in zip(days, media.WEEKDAYS_FR, strict=True)]
    return "\n".join(rows)


def section_reserved_names() -> str:
    from fiscalsafe.pipeline import media

    names = sorted(media.WINDOWS_RESERVED, key=lambda n: (len(n), n))
    return "Reserved device names: " + ", ".join(f"`{n}`" for n in names) + "."


def section_backup_codes() -> str:
    from fiscalsafe.verify.codes import CODES

    group = next(cs for g, cs in _code_groups() if g.lower().startswith("backup"))
    rows = ["| code | severity | meaning |", "|---|---|---|"]
    rows += [f"| `{c}` | {CODES[c][0]} | {CODES[c][1]} |" for c in group]
    return "\n".join(rows)


def section_backup_limits() -> str:
    from fiscalsafe import minisign
    from fiscalsafe.formats import manifest, tarstream, zstdframes
    from fiscalsafe.pipeline import media, tarwrite, verify_backup

    rows = [
        ("tar record (the archive's length is a multiple of it)", _size(tarwrite.RECORD)),
        ("pax or GNU long-name header, read", _size(tarstream.MAX_META_BYTES)),
        ("zstd block, read", _size(zstdframes.MAX_BLOCK)),
        (
            "a tag file, the manifest included, read by `verify` (larger: `MEMBER_UNSAFE`)",
            _size(verify_backup.MAX_TAG_BYTES),
        ),
        ("`fiscalsafe/manifest.json`, parsed (`list`)", _size(manifest.MAX_MANIFEST_BYTES)),
        ("one fiscal file checked (larger: `MEMBER_UNSAFE`)", _size(verify_backup.MAX_FISCAL_FILE)),
        (
            "fiscal files held at once, waiting for the identity and keys",
            _size(verify_backup.MAX_HELD_FISCAL),
        ),
        ("a `.minisig` file, read", _size(minisign.MAX_FILE_BYTES)),
        ("a trusted comment, written", f"{minisign.MAX_TRUSTED_COMMENT_BYTES} bytes"),
        ("split part on a FAT file system (automatic)", _size(media.FAT32_PART_SIZE)),
    ]
    out = ["| limit | value |", "|---|---|"]
    out += [f"| {what} | {value} |" for what, value in rows]
    return "\n".join(out)


def manifest_schema() -> dict[str, Any]:
    """``manifest.schema.json`` with its kind enum from ``formats/manifest.py``."""
    from fiscalsafe.formats.manifest import KINDS

    path = SCHEMAS / "manifest.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["kind"]["enum"] = list(KINDS)
    return schema


SECTIONS: dict[str, dict[str, Callable[[], str]]] = {
    "journal.md": {"jet-codes": section_jet_codes, "journal-dump": section_journal_dump},
    "fiscal-archive.md": {"archive-dump": section_archive_dump},
    "findings.md": {"finding-codes": section_finding_codes},
    "profile.md": {"default-profile": section_default_profile},
    "keys.md": {"algorithms": section_algorithms},
    "backup-format.md": {
        "weekdays": section_weekdays,
        "reserved-names": section_reserved_names,
        "backup-codes": section_backup_codes,
        "backup-limits": section_backup_limits,
    },
}


def fill(text: str, name: str, content: str) -> str:
    begin, end = f"<!-- generated:{name} -->", f"<!-- end:{name} -->"
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers for {name!r} not found")
    note = "<!-- generated by schemas/generate.py from the code; do not edit by hand -->"
    return pattern.sub(lambda _: f"{begin}\n{note}\n\n{content}\n\n{end}", text, count=1)


def finding_schema() -> dict[str, Any]:
    """``finding.schema.json`` with its code enum and severity rules from ``codes.py``."""
    from fiscalsafe.verify.codes import CODES

    path = SCHEMAS / "finding.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["code"]["enum"] = list(CODES)
    rules = []
    for severity in ("error", "warning", "info"):
        codes = [c for c, (s, _) in CODES.items() if s == severity]
        if codes:
            rules.append(
                {
                    "if": {"properties": {"code": {"enum": codes}}, "required": ["code"]},
                    "then": {"properties": {"severity": {"const": severity}}},
                }
            )
    schema["allOf"] = rules
    return schema


def render_all() -> dict[Path, str]:
    """Every generated file's expected full text."""
    out: dict[Path, str] = {}
    for file, sections in SECTIONS.items():
        path = SCHEMAS / file
        text = path.read_text()
        for name, make in sections.items():
            text = fill(text, name, make())
        out[path] = text
    out[SCHEMAS / "finding.schema.json"] = json.dumps(finding_schema(), indent=2) + "\n"
    manifest_path = SCHEMAS / "manifest.schema.json"
    current = json.loads(manifest_path.read_text())
    wanted = manifest_schema()
    # Hand-formatted: rewritten (as indent=2) only when the generated part changed.
    out[manifest_path] = (
        manifest_path.read_text() if current == wanted else json.dumps(wanted, indent=2) + "\n"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [p for p, text in render_all().items() if p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    for path, text in render_all().items():
        if path in stale:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
