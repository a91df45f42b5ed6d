"""The Library of Congress BagIt conformance suite, and hostile bags beyond it.

The suite is stored in ``tests/data/bagit-conformance/`` (public domain / CC0; its README
names its origin).

Every bag is checked twice: as a directory (``validate_bag_directory``) and as a stream of
tar members fed to ``BagValidator`` in several orders, through ``tarfile`` in
non-seeking stream mode, exactly as the backup verifier will. Both must give the same
findings.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
import unicodedata
from pathlib import Path

import pytest

from fiscalsafe.errors import UsageError
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.verify.bag import MAX_LINE_FINDINGS, BagValidator, validate_bag_directory
from fiscalsafe.verify.findings import Finding, Severity

SUITE = Path(__file__).resolve().parent / "data" / "bagit-conformance"
CATEGORIES = ("valid", "invalid", "warning")

# Every bag of the suite: its category (the folder it sits in) and the finding code that
# names its problem -- an error code for invalid bags, a warning code for warning bags.
EXPECTED: dict[str, tuple[str, str | None]] = {
    "v0.97/invalid/baginfo-missing-encoding": ("invalid", "BAG_DECLARATION_INVALID"),
    "v0.97/invalid/bom-in-bagit.txt": ("invalid", "BAG_DECLARATION_INVALID"),
    "v0.97/invalid/corrupt-data-file": ("invalid", "BAG_CHECKSUM_MISMATCH"),
    "v0.97/invalid/corrupt-tag-file": ("invalid", "BAG_CHECKSUM_MISMATCH"),
    "v0.97/invalid/extra-file-in-bag": ("invalid", "BAG_FILE_UNEXPECTED"),
    "v0.97/invalid/invalid-version-number": ("invalid", "BAG_DECLARATION_INVALID"),
    "v0.97/invalid/missing-baginfo": ("invalid", "BAG_FILE_MISSING"),
    "v0.97/invalid/missing-bagit.txt": ("invalid", "BAG_DECLARATION_MISSING"),
    "v0.97/invalid/out-of-scope-file-paths-using-dot-notation": ("invalid", "BAG_PATH_UNSAFE"),
    "v0.97/invalid/out-of-scope-file-paths-using-dot-notation-for-fetch": (
        "invalid",
        "BAG_PATH_UNSAFE",
    ),
    "v0.97/invalid/same-filename-listed-twice-with-different-hashes": (
        "invalid",
        "BAG_DUPLICATE_ENTRY",
    ),
    "v0.97/valid/ISO-8859-1-encoded-tag-files": ("valid", None),
    "v0.97/valid/UTF-16-encoded-tag-files": ("valid", None),
    "v0.97/valid/bag-in-a-bag": ("valid", None),
    "v0.97/valid/bag-with-encoded-names": ("valid", None),
    "v0.97/valid/bag-with-escapable-characters": ("valid", None),
    "v0.97/valid/bag-with-leading-dot-slash-in-manifest": ("valid", None),
    "v0.97/valid/bag-with-space": ("valid", None),
    "v0.97/valid/basic-bag": ("valid", None),
    "v0.97/valid/duplicate-metadata-entries": ("valid", None),
    "v0.97/valid/holey-bag": ("valid", None),
    "v0.97/valid/minimal-bag": ("valid", None),
    "v0.97/valid/uncommon-metadata-separators": ("valid", None),
    "v0.97/warning/duplicate-file-with-different-case": ("warning", "BAG_NAME_CLASH"),
    "v0.97/warning/made-with-md5sum-tools": ("warning", "BAG_MANIFEST_NONSTANDARD"),
    "v0.97/warning/relative-path": ("warning", "BAG_MANIFEST_NONSTANDARD"),
    "v0.97/warning/same-filename-listed-twice-with-different-normalization": (
        "warning",
        "BAG_NAME_CLASH",
    ),
    "v0.97/warning/same-filename-listed-twice-with-the-same-hash": ("warning", "BAG_WARNING"),
    "v0.97/warning/special-system-files": ("warning", "BAG_SYSTEM_FILE"),
    "v1.0/invalid/bagit-with-invalid-whitespace": ("invalid", "BAG_DECLARATION_INVALID"),
    "v1.0/invalid/notAllManifestsListAllFiles": ("invalid", "BAG_FILE_UNEXPECTED"),
    "v1.0/invalid/same-filename-listed-twice-with-different-hashes": (
        "invalid",
        "BAG_DUPLICATE_ENTRY",
    ),
    "v1.0/invalid/same-filename-listed-twice-with-the-same-hash": (
        "invalid",
        "BAG_DUPLICATE_ENTRY",
    ),
    "v1.0/valid/basicBag": ("valid", None),
}

# Other errors some invalid bags rightly have as well: their creators edited bagit.txt
# after writing the tag manifest, so bagit.txt's checksum no longer matches.
ALSO_EXPECTED: dict[str, set[str]] = {
    "v0.97/invalid/baginfo-missing-encoding": {"BAG_CHECKSUM_MISMATCH"},
    "v0.97/invalid/corrupt-data-file": {"BAG_OXUM_MISMATCH"},
    "v0.97/invalid/extra-file-in-bag": {"BAG_OXUM_MISMATCH"},
    "v0.97/invalid/invalid-version-number": {"BAG_CHECKSUM_MISMATCH"},
    "v0.97/invalid/missing-bagit.txt": {"BAG_FILE_MISSING"},
    "v1.0/invalid/same-filename-listed-twice-with-different-hashes": {
        "BAG_DECLARATION_INVALID",  # "BagIt-Version: 1.0 " has a trailing space
        "BAG_CHECKSUM_MISMATCH",
    },
    "v1.0/invalid/same-filename-listed-twice-with-the-same-hash": {"BAG_CHECKSUM_MISMATCH"},
}


def suite_root() -> Path:
    assert SUITE.is_dir(), f"BagIt conformance suite not found at {SUITE}"
    return SUITE


def discover_bags(root: Path) -> list[str]:
    """Every directory directly inside ``v*/{valid,invalid,warning}/`` is a bag (as in the
    suite's own test harness); Makefiles and other files at that level are not."""
    return sorted(
        bag.relative_to(root).as_posix()
        for version in root.iterdir()
        if version.is_dir() and version.name.startswith("v")
        for category in CATEGORIES
        if (version / category).is_dir()
        for bag in (version / category).iterdir()
        if bag.is_dir()
    )


def codes(findings: list[Finding], severity: Severity) -> set[str]:
    return {f.code for f in findings if f.severity is severity}


def check_verdict(name: str, findings: list[Finding]) -> None:
    category, code = EXPECTED[name]
    errors = codes(findings, Severity.ERROR)
    warnings = codes(findings, Severity.WARNING)
    listing = "\n".join(f"  {f.severity} {f.code}: {f.message}" for f in findings)
    for f in findings:
        assert f.message.strip(), f
    if category == "valid":
        assert findings == [], f"{name} must validate with no finding:\n{listing}"
    elif category == "invalid":
        assert code in errors, f"{name} must be rejected with {code}:\n{listing}"
        assert errors <= {code} | ALSO_EXPECTED.get(name, set()), listing
    else:
        assert not errors, f"{name} must validate (with a warning):\n{listing}"
        assert code in warnings, f"{name} must warn with {code}:\n{listing}"


def test_the_table_covers_every_bag_of_the_suite() -> None:
    root = suite_root()
    assert discover_bags(root) == sorted(EXPECTED)
    assert len(EXPECTED) == 34
    for name, (category, _code) in EXPECTED.items():
        assert name.split("/")[1] == category


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_directory_verdict(name: str) -> None:
    bag = suite_root() / name
    check_verdict(name, validate_bag_directory(bag))


# --- streaming: the same bags as tar members, in any order ----------------------------------


def tar_bag(bag: Path, order: str) -> bytes:
    """The bag as an in-memory tar under a top directory named like the bag, its members
    (directories too) in the given order."""
    members = sorted(bag.rglob("*"))
    if order == "reversed":
        members.reverse()
    elif order == "shuffled":
        random.Random(bag.name).shuffle(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            arcname = f"{bag.name}/{path.relative_to(bag).as_posix()}"
            tar.add(path, arcname=arcname, recursive=False)
    return buffer.getvalue()


def validate_tar_stream(data: bytes, chunk_size: int = 7) -> list[Finding]:
    """What the backup verifier does: read the tar once, forward only (``r|``), strip the
    top directory and feed each member to the validator chunk by chunk."""
    validator = BagValidator()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for member in tar:
            top, _, relpath = member.name.partition("/")
            if not relpath:
                continue
            if member.isdir():
                validator.add_directory(relpath)
            elif member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                validator.feed_member(relpath, iter(lambda h=handle: h.read(chunk_size), b""))
            else:
                validator.reject_member(relpath, "not a regular file")
    return validator.finish()


@pytest.mark.parametrize("order", ["sorted", "reversed", "shuffled"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stream_verdict_matches_directory(name: str, order: str) -> None:
    bag = suite_root() / name
    streamed = validate_tar_stream(tar_bag(bag, order))
    check_verdict(name, streamed)
    assert [f.to_json() for f in streamed] == [f.to_json() for f in validate_bag_directory(bag)]


def test_reference_validator_disagreements_are_right() -> None:
    """The bags the reference validator (bagit 1.9.0) gets wrong: we reject the first
    and accept the warning bags with a warning."""
    root = suite_root()
    findings = validate_bag_directory(root / "v1.0/invalid/bagit-with-invalid-whitespace")
    [declaration] = [f for f in findings if f.code == "BAG_DECLARATION_INVALID"]
    assert "whitespace between the label and the colon" in declaration.message
    assert declaration.file == "bagit.txt"


def test_completeness_only_mode() -> None:
    """``fixity=False`` reads no payload: every verdict but payload corruption stands."""
    root = suite_root()
    for name in EXPECTED:
        findings = validate_bag_directory(root / name, fixity=False)
        if name == "v0.97/invalid/corrupt-data-file":
            assert {f.code for f in findings} == {"BAG_OXUM_MISMATCH"}  # sizes still differ
        else:
            check_verdict(name, findings)


# --- hostile and unusual bags beyond the suite ---------------------------------------------


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def make_bag(root: Path, payload: dict[str, bytes], *, extra_manifest_lines: str = "") -> Path:
    """A small BagIt 1.0 bag written with the renderers."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    for rel, content in payload.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "bagit.txt").write_bytes(fmt.render_bagit_txt())
    oxum = fmt.payload_oxum(sum(len(c) for c in payload.values()), len(payload))
    (root / "bag-info.txt").write_bytes(fmt.render_bag_info([("Payload-Oxum", oxum)]))
    manifest = fmt.render_manifest([(rel, sha512(c)) for rel, c in payload.items()])
    (root / "manifest-sha512.txt").write_bytes(manifest + extra_manifest_lines.encode())
    return root


def test_manifest_paths_escaping_the_bag_are_unsafe(tmp_path: Path) -> None:
    digest = sha512(b"x")
    lines = "".join(
        f"{digest}  {p}\n"
        for p in ("/etc/passwd", "data/../../x", "C:/x", "~root/x", "data\\x", "..")
    )
    bag = make_bag(tmp_path / "bag", {"data/a": b"a"}, extra_manifest_lines=lines)
    findings = validate_bag_directory(bag)
    unsafe = [f for f in findings if f.code == "BAG_PATH_UNSAFE"]
    assert [f.record for f in unsafe] == [2, 3, 4, 5, 6, 7]
    assert all(f.file == "manifest-sha512.txt" for f in unsafe)


def test_fetch_paths_escaping_the_bag_are_unsafe(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"data/a": b"a"})
    (bag / "fetch.txt").write_text(
        "https://example.org/a - /etc/passwd\n"
        "https://example.org/b 1 data/../../b\n"
        "not-a-url - data/a\n"
        "https://example.org/c - bagit.txt\n"
    )
    findings = validate_bag_directory(bag)
    got = [(f.code, f.record) for f in findings if f.file == "fetch.txt"]
    assert got == [
        ("BAG_PATH_UNSAFE", 1),
        ("BAG_PATH_UNSAFE", 2),
        ("BAG_FETCH_INVALID", 3),
        ("BAG_FETCH_INVALID", 4),
    ]


def test_symlinks_and_special_files_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside the bag")
    bag = make_bag(tmp_path / "bag", {"data/a": b"a"})
    (bag / "data" / "link").symlink_to(secret)
    (bag / "data" / "dirlink").symlink_to(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(bag / "data" / "fifo")  # reading it would block forever
    findings = validate_bag_directory(bag)
    unsafe = sorted(f.file for f in findings if f.code == "BAG_PATH_UNSAFE")
    expected = ["data/dirlink", "data/link"] + (["data/fifo"] if hasattr(os, "mkfifo") else [])
    assert unsafe == sorted(expected)
    assert not any(f.code == "BAG_FILE_UNEXPECTED" for f in findings)


def test_two_files_whose_names_differ_only_by_normalisation_collide(tmp_path: Path) -> None:
    nfc = "data/" + unicodedata.normalize("NFC", "Núñez")
    nfd = "data/" + unicodedata.normalize("NFD", "Núñez")
    validator = BagValidator()
    for rel, content in {
        "bagit.txt": fmt.render_bagit_txt(),
        nfc: b"genuine",
        nfd: b"forged",
        "manifest-sha512.txt": fmt.render_manifest(
            [(nfc, sha512(b"genuine")), (nfd, sha512(b"forged"))]
        ),
    }.items():
        validator.feed_member(rel, [content])
    findings = validator.finish()
    [collision] = [f for f in findings if f.code == "BAG_NAME_COLLISION"]
    assert collision.severity is Severity.ERROR
    assert "NFC" in collision.message and "NFD" in collision.message


def test_case_only_clash_between_present_files_is_a_warning() -> None:
    validator = BagValidator()
    payload = {"data/Readme": b"one", "data/README": b"two"}
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    for rel, content in payload.items():
        validator.feed_member(rel, [content])
    validator.feed_member(
        "manifest-sha512.txt", [fmt.render_manifest([(p, sha512(c)) for p, c in payload.items()])]
    )
    findings = validator.finish()
    assert [(f.code, f.severity) for f in findings] == [("BAG_NAME_CLASH", Severity.WARNING)]


def test_every_failure_is_reported_not_just_the_first(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"data/a": b"a", "data/b": b"b", "data/c": b"c"})
    (bag / "data" / "a").write_bytes(b"A")  # corrupt
    (bag / "data" / "b").unlink()  # missing
    (bag / "data" / "d").write_bytes(b"dd")  # unexpected
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding:UTF-8")
    findings = validate_bag_directory(bag)
    assert [f.code for f in findings] == [
        "BAG_DECLARATION_INVALID",
        "BAG_OXUM_MISMATCH",
        "BAG_FILE_MISSING",
        "BAG_FILE_UNEXPECTED",
        "BAG_CHECKSUM_MISMATCH",
    ]
    mismatch = findings[-1]
    assert (mismatch.file, mismatch.expected, mismatch.found) == (
        "data/a",
        sha512(b"a"),
        sha512(b"A"),
    )


def test_missing_payload_directory_and_manifest() -> None:
    validator = BagValidator()
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    assert [f.code for f in validator.finish()] == ["BAG_FILE_MISSING", "BAG_MANIFEST_MISSING"]


def test_empty_payload_is_valid_when_data_directory_is_present() -> None:
    validator = BagValidator()
    validator.add_directory("data/")
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("manifest-sha256.txt", [b""])
    assert validator.finish() == []


def test_duplicate_and_unsafe_members_in_a_stream() -> None:
    validator = BagValidator()
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("bagit.txt", [b"junk"])
    validator.feed_member("../escape", [b"x"])
    validator.feed_member("/abs", [b"x"])
    validator.add_directory("data")
    validator.feed_member("manifest-sha256.txt", [b""])
    got = [(f.code, f.file) for f in validator.finish()]
    assert got == [
        ("BAG_DUPLICATE_ENTRY", "bagit.txt"),
        ("BAG_PATH_UNSAFE", "../escape"),
        ("BAG_PATH_UNSAFE", "/abs"),
    ]


def test_oversized_tag_file_is_refused_without_buffering_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fmt, "MAX_TAG_FILE_BYTES", 100)
    validator = BagValidator()
    validator.add_directory("data")
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("manifest-sha256.txt", [b"0" * 64 + b"  data/x\n"] * 10)
    [problem] = validator.finish()
    assert problem.code == "BAG_MANIFEST_INVALID"
    assert "limit" in problem.message


def test_algorithm_hint_and_a_manifest_that_comes_too_late() -> None:
    validator = BagValidator(algorithms={"sha512"})
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("data/a", [b"a"])  # hashed with sha512 only
    validator.feed_member("manifest-sha512.txt", [fmt.render_manifest([("data/a", sha512(b"a"))])])
    late = fmt.render_manifest([("data/a", hashlib.md5(b"a").hexdigest())])
    validator.feed_member("manifest-md5.txt", [late])
    [problem] = validator.finish()
    assert (problem.code, problem.file) == ("BAG_MANIFEST_INVALID", "manifest-md5.txt")
    assert "one pass" in problem.message
    with pytest.raises(UsageError):
        BagValidator(algorithms={"crc32"})


def test_unsupported_algorithm_is_reported_and_completeness_still_checked() -> None:
    validator = BagValidator()
    validator.add_directory("data")
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("data/a", [b"a"])
    validator.feed_member("manifest-blake3.txt", [b"ab" * 32 + b"  data/b\n"])
    got = [(f.code, f.severity) for f in validator.finish()]
    assert got == [
        ("BAG_MANIFEST_MISSING", Severity.ERROR),
        ("BAG_WARNING", Severity.WARNING),
        ("BAG_FILE_MISSING", Severity.ERROR),
        ("BAG_FILE_UNEXPECTED", Severity.ERROR),
    ]


def test_weak_algorithm_warning_is_opt_in() -> None:
    root = suite_root()
    bag = root / "v0.97/valid/basic-bag"  # md5 only
    assert validate_bag_directory(bag) == []
    [weak] = validate_bag_directory(bag, warn_weak_algorithms=True)
    assert (weak.code, weak.severity) == ("BAG_WEAK_ALGORITHM", Severity.WARNING)


def test_tag_files_need_their_content_with_add_file() -> None:
    validator = BagValidator()
    with pytest.raises(UsageError):
        validator.add_file("bagit.txt", 55, {})
    validator.add_file("bagit.txt", 55, {}, content=fmt.render_bagit_txt())
    validator.add_file("data/a", 1, {"sha512": sha512(b"a").upper()})
    validator.add_file(
        "manifest-sha512.txt", 0, {}, content=fmt.render_manifest([("data/a", sha512(b"a"))])
    )
    assert validator.finish() == []
    with pytest.raises(UsageError):
        validator.finish()


def test_validate_bag_directory_refuses_a_non_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        validate_bag_directory(tmp_path / "nope")


def test_a_manifest_of_garbage_gives_a_bounded_number_of_findings() -> None:
    validator = BagValidator()
    validator.add_directory("data")
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("manifest-sha256.txt", [b"not a manifest line\n" * 5000])
    findings = validator.finish()
    assert len(findings) == MAX_LINE_FINDINGS + 1
    assert findings[-1].message.startswith("manifest-sha256.txt: 4900 more invalid lines")
