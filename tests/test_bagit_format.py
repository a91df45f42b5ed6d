"""Tests of fiscalsafe.formats.bagit: parsing and writing BagIt tag files.

The last tests write a whole bag with the renderers and check that both our validator and
the reference implementation (the ``bagit`` package, 1.9.0) accept it.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import bagit as reference
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.verify.bag import validate_bag_directory

SHA256_A = hashlib.sha256(b"a").hexdigest()

# --- bagit.txt ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n",
        b"BagIt-Version: 1.0\rTag-File-Character-Encoding: UTF-8\r",
        b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8",  # no final line break
    ],
)
def test_bagit_txt_line_endings(data: bytes) -> None:
    declaration = fmt.parse_bagit_txt(data)
    assert (declaration.version, declaration.encoding) == ((1, 0), "UTF-8")
    assert declaration.notes == ()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (codecs.BOM_UTF8 + fmt.render_bagit_txt(), "byte-order mark"),
        (codecs.BOM_UTF16_LE + "BagIt-Version: 1.0\n".encode("utf-16-le"), "byte-order mark"),
        (b"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n", "label and the colon"),
        (b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n", "around the value"),
        (b"BagIt-Version:1.0\nTag-File-Character-Encoding: UTF-8\n", "exactly ': '"),
        (b"BagIt-Version:  1.0\nTag-File-Character-Encoding: UTF-8\n", "around the value"),
        (b" BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "starts with whitespace"),
        (b"BagIt-Version:\t1.0\nTag-File-Character-Encoding: UTF-8\n", "exactly ': '"),
        (b"bagit-version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "spelt exactly"),
        (b"BagIt-Version: .97\nTag-File-Character-Encoding: UTF-8\n", "not of the form M.N"),
        (b"BagIt-Version: 1\nTag-File-Character-Encoding: UTF-8\n", "not of the form M.N"),
        (b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n", "not a known version"),
        (b"BagIt-Version: 0.97\n", "no 'Tag-File-Character-Encoding' line"),
        (b"", "version line is missing"),
        (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", "before BagIt-Version"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nX: y\n", "exactly two"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: NOPE-42\n", "unknown character"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: rot13\n", "unknown character"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8 \n", "around the value"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding : UTF-8\n", "label and the colon"),
        (b"BagIt-Version: 1.0\xff\n", "not valid UTF-8"),
    ],
)
def test_bagit_txt_rejects(data: bytes, fragment: str) -> None:
    with pytest.raises(MalformedError) as info:
        fmt.parse_bagit_txt(data)
    assert fragment in str(info.value)


def test_bagit_txt_whitespace_before_colon_is_named() -> None:
    with pytest.raises(MalformedError) as info:
        fmt.parse_bagit_txt(b"BagIt-Version : 1.0\nTag-File-Character-Encoding : UTF-8\n")
    assert "whitespace between the label and the colon" in str(info.value)
    assert "line 1" in str(info.value)


def test_bagit_txt_trailing_blank_lines_are_a_note() -> None:
    declaration = fmt.parse_bagit_txt(fmt.render_bagit_txt() + b"\n\n")
    assert declaration.version == (1, 0)
    assert declaration.notes


def test_bagit_txt_size_cap() -> None:
    with pytest.raises(MalformedError, match="limit"):
        fmt.parse_bagit_txt(fmt.render_bagit_txt() + b" " * fmt.MAX_DECLARATION_BYTES)


def test_sniff_reads_what_it_can() -> None:
    sniffed = fmt.sniff_bagit_txt(
        codecs.BOM_UTF8 + b"BagIt-Version : 0.97 \nTag-File-Character-Encoding :  UTF-16\n"
    )
    assert sniffed is not None
    assert (sniffed.version, sniffed.encoding) == ((0, 97), "UTF-16")
    assert fmt.sniff_bagit_txt(b"garbage") is None
    assert fmt.sniff_bagit_txt(b"BagIt-Version: 1.0\n").encoding == "UTF-8"  # type: ignore[union-attr]


def test_render_bagit_txt_round_trip() -> None:
    data = fmt.render_bagit_txt()
    assert data == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    declaration = fmt.parse_bagit_txt(data)
    assert (declaration.version_text, declaration.encoding) == ("1.0", "UTF-8")
    with pytest.raises(MalformedError):
        fmt.render_bagit_txt(version="9.9")


# --- bag-info.txt -------------------------------------------------------------------------


def test_bag_info_labels_repeats_and_continuations() -> None:
    data = (
        b"Source-Organization: Spengler University\r\n"
        b"External-Description: Uncompressed greyscale TIFF images from the\r\n"
        b"         Yoshimuri papers collection.\r\n"
        b"Contact-Name: A\r\n"
        b"\r\n"
        b"contact-name: B\r\n"
        b"Empty:\r\n"
        b"Payload-Oxum: 12.3"
    )
    info = fmt.parse_bag_info(data)
    assert info.get("External-Description") == (
        "Uncompressed greyscale TIFF images from the Yoshimuri papers collection."
    )
    assert info.get_all("Contact-Name") == ["A", "B"]
    assert info.get("empty") == ""
    assert info.get("payload-oxum") == "12.3"
    assert info.get("Missing") is None
    assert info.notes == ()


def test_bag_info_uncommon_separators_are_accepted_with_notes() -> None:
    info = fmt.parse_bag_info(b"A : 1\nB:   2\nC:3\nD:\t4\n")
    assert info.fields == (("A", "1"), ("B", "2"), ("C", "3"), ("D", "4"))
    assert [line for line, _ in info.notes] == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"no colon here\n", "no ':'"),
        (b"  indented: first\n", "continuation"),
        (b": value\n", "empty label"),
        (b"A: \xff\n", "not valid UTF-8"),
    ],
)
def test_bag_info_rejects(data: bytes, fragment: str) -> None:
    with pytest.raises(MalformedError) as info:
        fmt.parse_bag_info(data)
    assert fragment in str(info.value)


def test_bag_info_other_encodings_and_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    utf16 = "Contact-Name: Núñez\n".encode("utf-16")  # with a byte-order mark
    assert fmt.parse_bag_info(utf16, "UTF-16").get("Contact-Name") == "Núñez"
    latin1 = "Contact-Name: Núñez\n".encode("latin-1")
    assert fmt.parse_bag_info(latin1, "ISO-8859-1").get("Contact-Name") == "Núñez"
    with pytest.raises(MalformedError, match="unknown character encoding"):
        fmt.parse_bag_info(b"A: b\n", "EBCDIC-NOPE")
    monkeypatch.setattr(fmt, "MAX_TAG_FILE_BYTES", 10)
    with pytest.raises(MalformedError, match="limit"):
        fmt.parse_bag_info(b"A: 12345678901\n")


def test_render_bag_info_round_trip() -> None:
    fields = [
        ("Source-Organization", "Boulangerie Núñez"),
        ("Payload-Oxum", fmt.payload_oxum(1234, 5)),
        ("Internal-Sender-Identifier", "caisse-1"),
        ("Internal-Sender-Identifier", "caisse-2"),
        ("Bag-Group-Identifier", ""),
    ]
    data = fmt.render_bag_info(fields)
    assert data.startswith(b"Source-Organization: Boulangerie N\xc3\xba\xc3\xb1ez\n")
    info = fmt.parse_bag_info(data)
    assert list(info.fields) == fields
    assert info.notes == ()


@pytest.mark.parametrize(
    "fields",
    [
        [("", "x")],
        [("A:B", "x")],
        [(" A", "x")],
        [("A", "two\nlines")],
        [("A", "carriage\rreturn")],
        [("A", " padded")],
    ],
)
def test_render_bag_info_refuses(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        fmt.render_bag_info(fields)


@pytest.mark.parametrize(
    ("text", "oxum"),
    [("58.2", fmt.Oxum(58, 2)), ("0.0", fmt.Oxum(0, 0)), (" 7.1 ", fmt.Oxum(7, 1))],
)
def test_payload_oxum(text: str, oxum: fmt.Oxum) -> None:
    assert fmt.parse_payload_oxum(text) == oxum
    assert fmt.parse_payload_oxum(fmt.payload_oxum(oxum.octets, oxum.streams)) == oxum


@pytest.mark.parametrize("text", ["58", "58.", ".2", "5 8.2", "-1.2", "1.2.3", "1" * 40 + ".1"])
def test_payload_oxum_rejects(text: str) -> None:
    with pytest.raises(MalformedError, match="Payload-Oxum"):
        fmt.parse_payload_oxum(text)
    with pytest.raises(ValueError):
        fmt.payload_oxum(-1, 0)


# --- manifests ----------------------------------------------------------------------------


def test_manifest_algorithm_from_file_name() -> None:
    assert fmt.manifest_algorithm("manifest-sha256.txt") == (False, "sha256")
    assert fmt.manifest_algorithm("tagmanifest-md5.txt") == (True, "md5")
    assert fmt.manifest_algorithm("manifest-blake3.txt") == (False, "blake3")
    for name in ("manifest.txt", "manifest-sha256.txt.bak", "xmanifest-md5.txt"):
        assert fmt.manifest_algorithm(name) is None


def test_manifest_lines() -> None:
    data = (
        f"{SHA256_A}  data/a\r\n"
        f"{SHA256_A.upper()}\tdata/with space.txt\r\n"
        f"{SHA256_A} \t data/tabs\n"
        f"{SHA256_A} ./data/dot\n"
        f"{SHA256_A} *data/star\n"
        f"{SHA256_A}  *data/literal-star\n"
        f"{SHA256_A}  data//x/./y\n"
        f"{SHA256_A}  data/trailing \n"
        "\n"
    ).encode()
    manifest = fmt.parse_checksum_manifest(data, "sha256")
    # A name ending with a space is one Windows cannot hold: refused by the path policy.
    assert [(p.line, p.unsafe) for p in manifest.problems] == [(8, True)]
    assert "ends with a dot or a space" in manifest.problems[0].message
    assert manifest.blank_lines == (9,)
    assert [e.path for e in manifest.entries] == [
        "data/a",
        "data/with space.txt",
        "data/tabs",
        "data/dot",
        "data/star",
        "*data/literal-star",
        "data/x/y",
    ]
    assert all(e.checksum == SHA256_A for e in manifest.entries)
    flags = {
        e.path: (e.leading_dot_slash, e.binary_marker, e.other_noise, e.trailing_whitespace)
        for e in manifest.entries
    }
    assert flags["data/dot"] == (True, False, False, False)
    assert flags["data/star"] == (False, True, False, False)
    assert flags["data/x/y"] == (False, False, True, False)
    assert flags["data/a"] == (False, False, False, False)


def test_manifest_bad_lines_are_all_reported() -> None:
    data = (
        (
            f" {SHA256_A}  data/leading-space\n"  # 1
            f"{SHA256_A}\n"  # 2
            f"{SHA256_A[:-1]}  data/short\n"  # 3
            f"xyz  data/not-hex\n"  # 4
            f"{SHA256_A}\u00a0data/nbsp\n"  # 5: NO-BREAK SPACE is not a separator
            f"{SHA256_A}  ../up\n"  # 6
            f"{SHA256_A}  /abs\n"  # 7
            f"{SHA256_A}  ./\n"  # 8
            f"{SHA256_A}  data/ok\n"  # 9
            f"{SHA256_A}\x0bdata/vt\n"  # 10: VT neither separates nor ends a line
        ).encode()
    )
    manifest = fmt.parse_checksum_manifest(data, "sha256", name="manifest-sha256.txt")
    assert [e.path for e in manifest.entries] == ["data/ok"]
    assert [(p.line, p.unsafe) for p in manifest.problems] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
        (7, True),
        (8, False),
        (10, False),
    ]
    assert "starts with whitespace" in manifest.problems[0].message
    assert "no file path" in manifest.problems[1].message
    assert "63 hex digits" in manifest.problems[2].message
    assert all(p.message.startswith("manifest-sha256.txt line ") for p in manifest.problems)


def test_manifest_percent_decoding_depends_on_version() -> None:
    data = f"{SHA256_A}  data/b%25d%7Ee%zz\n".encode()
    [v1] = fmt.parse_checksum_manifest(data, "sha256").entries
    assert v1.path == "data/b%d%7Ee%zz"
    [v097] = fmt.parse_checksum_manifest(data, "sha256", version=(0, 97)).entries
    assert v097.path == "data/b%25d%7Ee%zz"  # bagit-python never encoded '%'
    assert fmt.decode_path("a%0Ab%0dc") == "a\nb\rc"


def test_manifest_names_with_line_breaks_are_refused_by_the_path_policy() -> None:
    data = f"{SHA256_A}  data/a%0Ab\n{SHA256_A}  data/c%0Dd\n".encode()
    manifest = fmt.parse_checksum_manifest(data, "sha256")
    assert manifest.entries == ()
    assert [(p.line, p.unsafe) for p in manifest.problems] == [(1, True), (2, True)]
    assert all("control character" in p.message for p in manifest.problems)


def test_manifest_utf16_and_bom_notes() -> None:
    text = f"{SHA256_A}  data/Núñez\n"
    [entry] = fmt.parse_checksum_manifest(text.encode("utf-16"), "sha256", "UTF-16").entries
    assert entry.path == "data/Núñez"
    manifest = fmt.parse_checksum_manifest(codecs.BOM_UTF8 + text.encode(), "sha256")
    assert [e.path for e in manifest.entries] == ["data/Núñez"]
    assert manifest.notes and "byte-order mark" in manifest.notes[0]
    with pytest.raises(MalformedError, match="not valid UTF-8"):
        fmt.parse_checksum_manifest(b"\xff\xfe\xfd", "sha256")


def test_manifest_unknown_algorithm_skips_length_check() -> None:
    [entry] = fmt.parse_checksum_manifest(b"abcd  data/x\n", "blake3").entries
    assert entry.checksum == "abcd"


@pytest.mark.parametrize(
    ("path", "unsafe"),
    [
        ("data/a", False),
        ("data/dir1/~test3.txt", False),
        ("data/a..b", False),
        ("bagit.txt", False),
        ("", True),
        ("/etc/passwd", True),
        ("../x", True),
        ("data/../../x", True),
        ("data/..", True),
        ("..", True),
        ("C:/Windows", True),
        ("c:", True),
        ("data\\x", True),
        ("\\\\?\\C:\\x", True),
        ("~/x", True),
        ("~root/x", True),
        ("data/a\x00b", True),
        ("data/a\nb", True),
        ("data/a\x7fb", True),
        ("data/CON", True),
        ("data/aux.txt", True),
        ("data/Lpt9.tar.gz", True),
        ("data/x.", True),
        ("data/x ", True),
        ("data/name:stream", True),
        ("data/CONSOLE", False),
        ("data/.hidden", False),
    ],
)
def test_unsafe_path_reason(path: str, unsafe: bool) -> None:
    assert (fmt.unsafe_path_reason(path) is not None) is unsafe


def test_render_manifest_round_trip() -> None:
    entries = [
        ("data/z.txt", SHA256_A.upper()),
        ("data/100% pur beurre.txt", SHA256_A),
        ("data/a/Núñez.txt", SHA256_A),
    ]
    data = fmt.render_manifest(entries)
    assert data.splitlines()[0] == f"{SHA256_A}  data/100%25 pur beurre.txt".encode()
    parsed = fmt.parse_checksum_manifest(data, "sha256")
    assert parsed.problems == () and parsed.blank_lines == ()
    assert [(e.path, e.checksum) for e in parsed.entries] == sorted(
        (p, d.lower()) for p, d in entries
    )


@pytest.mark.parametrize(
    "entries",
    [
        [("../x", SHA256_A)],
        [("./data/x", SHA256_A)],
        [("data//x", SHA256_A)],
        [("data/x", SHA256_A), ("data/x", SHA256_A)],
        [("data/x", "not hex")],
        [("data/line\nbreak", SHA256_A)],
        [("data/NUL", SHA256_A)],
    ],
)
def test_render_manifest_refuses(entries: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        fmt.render_manifest(entries)


# --- fetch.txt ----------------------------------------------------------------------------


def test_fetch_lines() -> None:
    data = (
        b"http://example.org/a%201.txt - data/a 1.txt\r\n"
        b"https://example.org/b 12\tdata/b%0Ac\r\n"
        b"file:///srv/c 3 data/c\r\n"
        b"ftp://h/x - ../../README.md\r\n"
        b"no-scheme 1 data/d\r\n"
        b"http://h/e\r\n"
        b"http://h/f x data/f\r\n"
    )
    fetch = fmt.parse_fetch(data)
    assert [(e.url, e.length, e.path) for e in fetch.entries] == [
        ("http://example.org/a%201.txt", None, "data/a 1.txt"),
        ("file:///srv/c", 3, "data/c"),
    ]
    assert [(p.line, p.unsafe) for p in fetch.problems] == [
        (2, True),  # a line break in a name: refused by the path policy
        (4, True),
        (5, False),
        (6, False),
        (7, False),
    ]


# --- percent-encoding properties -----------------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
SEGMENT = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="/\\:"),
    min_size=1,
    max_size=12,
).filter(lambda s: fmt.unsafe_path_reason(s) is None and s != ".")


@given(TEXT)
def test_percent_encoding_round_trips(text: str) -> None:
    encoded = fmt.encode_path(text)
    assert "\r" not in encoded and "\n" not in encoded
    assert fmt.decode_path(encoded) == text


@given(st.lists(st.lists(SEGMENT, min_size=1, max_size=4), min_size=1, max_size=8, unique_by=str))
def test_manifest_paths_round_trip(paths: list[list[str]]) -> None:
    names = sorted({"data/" + "/".join(segments) for segments in paths})
    data = fmt.render_manifest([(name, SHA256_A) for name in names])
    parsed = fmt.parse_checksum_manifest(data, "sha256")
    assert parsed.problems == ()
    assert [e.path for e in parsed.entries] == names


# --- a bag written with the renderers ------------------------------------------------------


def write_bag(root: Path, payload: dict[str, bytes]) -> Path:
    """Write a BagIt 1.0 bag the way the backup will: payload, bagit.txt, bag-info.txt,
    SHA-256 and SHA-512 payload and tag manifests."""
    for rel, content in payload.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "data").mkdir(parents=True, exist_ok=True)
    tag_files = {
        "bagit.txt": fmt.render_bagit_txt(),
        "bag-info.txt": fmt.render_bag_info(
            [
                ("Source-Organization", "Boulangerie Núñez"),
                ("Bagging-Date", "2024-06-30"),
                ("Payload-Oxum", fmt.payload_oxum(sum(map(len, payload.values())), len(payload))),
            ]
        ),
    }
    for alg in ("sha256", "sha512"):
        tag_files[f"manifest-{alg}.txt"] = fmt.render_manifest(
            [(rel, hashlib.new(alg, content).hexdigest()) for rel, content in payload.items()]
        )
    for alg in ("sha256", "sha512"):
        (root / f"tagmanifest-{alg}.txt").write_bytes(
            fmt.render_manifest(
                [(rel, hashlib.new(alg, c).hexdigest()) for rel, c in tag_files.items()]
            )
        )
    for rel, content in tag_files.items():
        (root / rel).write_bytes(content)
    return root


PAYLOAD = {
    "data/archives/2024/Z-0001.bin": bytes(range(256)) * 10,
    "data/journal/jet.log": b"event 1\nevent 2\n",
    "data/Núñez et fils/ticket 42.txt": "Café crème 2,40 €\n".encode(),
    "data/empty": b"",
}


def test_written_bag_validates_with_ours_and_the_reference(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "bag", PAYLOAD)
    assert validate_bag_directory(bag) == []
    reference_bag = reference.Bag(str(bag))
    reference_bag.validate()
    assert reference_bag.version_info == (1, 0)
    total = sum(len(content) for content in PAYLOAD.values())
    assert reference_bag.info["Payload-Oxum"] == fmt.payload_oxum(total, len(PAYLOAD))


def test_written_bag_with_escaped_names_validates_with_ours(tmp_path: Path) -> None:
    """ "%" in names is percent-encoded as RFC 8493 §2.1.3 requires. (The
    reference bagit 1.9.0 decodes %0A and %0D but not %25, so it would not find
    'data/100% beurre.txt'; RFC 8493 is on our side.)"""
    payload = {"data/100% beurre.txt": b"a", "data/%0A": b"c"}
    bag = write_bag(tmp_path / "bag", payload)
    manifest = (bag / "manifest-sha256.txt").read_bytes()
    assert b"data/100%25 beurre.txt" in manifest
    assert b"data/%250A" in manifest
    assert validate_bag_directory(bag) == []


def test_tampering_with_a_written_bag_is_caught_by_both(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "bag", PAYLOAD)
    (bag / "data/journal/jet.log").write_bytes(b"event 1\nevent X\n")
    findings = validate_bag_directory(bag)
    assert [(f.code, f.file) for f in findings] == [
        ("BAG_CHECKSUM_MISMATCH", "data/journal/jet.log"),
        ("BAG_CHECKSUM_MISMATCH", "data/journal/jet.log"),
    ]
    with pytest.raises(reference.BagValidationError):
        reference.Bag(str(bag)).validate()
