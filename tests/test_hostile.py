"""Hostile input: crafted archives, bombs, poisoned fiscal files, signed-but-hostile
manifests, malformed JSON. Every one is refused with a named finding (or one error line)
and a non-zero exit, without a traceback, without writing anything outside the target,
and in bounded memory.

Crafted backups are correctly signed with the shop key (sidecar and inner manifest), so
only their *content* is hostile: this is the archive an attacker who stole the shop key,
or the shop itself, could hand to an auditor.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest
import zstandard
from conftest import AS_OF, AS_OF_ARG, cli_env, copy_sample, run_cli
from typer.testing import CliRunner

from fiscalsafe import minisign
from fiscalsafe.crypto import load_signing_key_pem
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, DossierIdentity
from fiscalsafe.formats.manifest import MAX_MANIFEST_BYTES
from fiscalsafe.formats.packing import pack
from fiscalsafe.pipeline import verify_members
from fiscalsafe.pipeline.backup import BackupOptions, backup_dossier
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.pipeline.restore import restore_backup
from fiscalsafe.pipeline.verify_backup import MAX_HELD_FISCAL, VerifyReport, verify_stream
from fiscalsafe.verify.findings import Severity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.corpus import (  # noqa: E402
    TINY_BAG,
    Seeds,
    build_seeds,
    craft_backup,
    pax_member,
    sign_sidecar,
    tiny_members,
)

BAG = TINY_BAG
SMALL = {"years": 1, "size": 128 * 1024, "tickets_per_day": 1}
MEMORY_LIMIT_MB = 200
GB = 1024**3


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not under test here, and each restore would wait for the disk."""
    monkeypatch.setattr("os.fsync", lambda fd: None)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return build_seeds(tmp_path_factory.mktemp("hostile-seeds"))


@dataclass
class Box:
    """``root/medium`` holds the archive; ``root/out`` receives the restore."""

    root: Path

    @property
    def medium(self) -> Path:
        return self.root / "medium"

    @property
    def out(self) -> Path:
        return self.root / "out"


@pytest.fixture
def box(tmp_path: Path) -> Box:
    b = Box(tmp_path / "box")
    b.medium.mkdir(parents=True)
    b.out.mkdir()
    return b


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_size for p in sorted(root.rglob("*"))}


def verify(seeds: Seeds, archive: Path, trust: list[Path] | None = None) -> VerifyReport:
    return verify_stream(
        [archive],
        shop_key=seeds.secret.public_key(),
        trust=trust if trust is not None else [seeds.editor_pub],
        as_of=None,
        years=1,
        workers=1,
    )


def errors(report: VerifyReport) -> set[str]:
    return {f.code for f in report.findings if f.severity is Severity.ERROR}


def refused_cleanly(seeds: Seeds, box: Box, archive: Path) -> set[str]:
    """Verify and restore ``archive``: both refuse, and nothing appears anywhere in the
    box (nor at the absolute paths the tests aim at, which live in the box's parent)."""
    before, around = snapshot(box.root), snapshot(box.root.parent)
    report = verify(seeds, archive)
    assert not report.ok
    result = restore_backup(
        [archive],
        box.out / "dest",
        shop_key=seeds.secret.public_key(),
        trust=[seeds.editor_pub],
        as_of=None,
        years=1,
        workers=1,
    )
    assert not result.restored
    assert snapshot(box.root) == before
    assert snapshot(box.root.parent) == around
    assert errors(result.report) == errors(report)
    return errors(report)


def test_the_crafted_baseline_is_proven(seeds: Seeds, box: Box) -> None:
    """Without hostile content, a crafted backup verifies: what fails below fails only
    because of what each test adds."""
    members, doc = tiny_members(seeds)
    archive = craft_backup(box.medium, seeds.secret, members, manifest_doc=doc)
    report = verify(seeds, archive)
    assert report.ok, [f.to_json() for f in report.findings]


# Hostile tar members, added to an otherwise valid, correctly signed backup.


def hostile_members(case: str, outside: Path) -> tuple[list, int]:
    """The members a case adds (placed first or last), and the tar format to write."""
    pax, gnu = tarfile.PAX_FORMAT, tarfile.GNU_FORMAT
    link, symlink = tarfile.LNKTYPE, tarfile.SYMTYPE
    table = {
        "absolute-path": ([pax_member(str(outside / "evil-absolute"), b"pwned")], pax),
        "dotdot-inside-bag": ([pax_member(f"{BAG}/data/../../evil-dotdot", b"pwned")], pax),
        "dotdot-at-top": ([pax_member("../evil-top", b"pwned")], pax),
        "dotdot-in-pax-path": (
            [pax_member(f"{BAG}/data/ok", b"pwned", pax_headers={"path": "../../evil-pax"})],
            pax,
        ),
        "symlink-out": (
            [pax_member(f"{BAG}/data/passwd", None, type=symlink, linkname="/etc/passwd")],
            pax,
        ),
        "symlink-then-write-through-it": (
            [
                pax_member(f"{BAG}/data/odeis", None, type=symlink, linkname=str(outside)),
                pax_member(f"{BAG}/data/odeis/evil-through-link", b"pwned"),
            ],
            pax,
        ),
        "hardlink-out": (
            [pax_member(f"{BAG}/data/shadow", None, type=link, linkname="/etc/shadow")],
            pax,
        ),
        "hardlink-to-sibling": (
            [pax_member(f"{BAG}/data/copy", None, type=link, linkname=f"{BAG}/bagit.txt")],
            pax,
        ),
        "char-device": (
            [pax_member(f"{BAG}/data/null", None, type=tarfile.CHRTYPE, devmajor=1, devminor=3)],
            pax,
        ),
        "block-device": (
            [pax_member(f"{BAG}/data/sda", None, type=tarfile.BLKTYPE, devmajor=8, devminor=0)],
            pax,
        ),
        "fifo": ([pax_member(f"{BAG}/data/pipe", None, type=tarfile.FIFOTYPE)], pax),
        "sparse-file": ([pax_member(f"{BAG}/data/sparse", None, type=b"S")], gnu),
        "duplicate-name": ([pax_member(f"{BAG}/data/photos/p0001.jpg", b"other bytes")], pax),
        "case-insensitive-clash": ([pax_member(f"{BAG}/data/photos/P0001.JPG", b"x")], pax),
        "unicode-normalisation-clash": (
            [
                pax_member(f"{BAG}/data/photos/e\u0301t\u00e9.jpg", b"nfd"),
                pax_member(f"{BAG}/data/photos/\u00e9t\u00e9.jpg", b"nfc"),
            ],
            pax,
        ),
        "file-below-a-file": ([pax_member(f"{BAG}/data/photos/p0001.jpg/x", b"x")], pax),
        "non-utf8-name-gnu": ([pax_member(f"{BAG}/data/\udcff\udcfe.bin", b"x")], gnu),
        "non-utf8-name-pax": ([pax_member(f"{BAG}/data/\udcff.bin", b"x")], pax),
        "outside-the-bag-folder": ([pax_member("OTHER_BAG/data/x", b"x")], pax),
        "backslash-path": ([pax_member(f"{BAG}/data/..\\..\\evil-backslash", b"x")], pax),
        "mtime-beyond-year-9999": (
            [pax_member(f"{BAG}/data/late", b"x", pax_headers={"mtime": "77777777777638170374"})],
            pax,
        ),
        "nul-in-pax-path": (
            [pax_member(f"{BAG}/data/a", b"x", pax_headers={"path": f"{BAG}/data/a\0b"})],
            pax,
        ),
    }
    return table[case]


HOSTILE_MEMBER_CASES = [
    "absolute-path",
    "dotdot-inside-bag",
    "dotdot-at-top",
    "dotdot-in-pax-path",
    "symlink-out",
    "symlink-then-write-through-it",
    "hardlink-out",
    "hardlink-to-sibling",
    "char-device",
    "block-device",
    "fifo",
    "sparse-file",
    "duplicate-name",
    "case-insensitive-clash",
    "unicode-normalisation-clash",
    "file-below-a-file",
    "non-utf8-name-gnu",
    "non-utf8-name-pax",
    "outside-the-bag-folder",
    "backslash-path",
    "nul-in-pax-path",
    "mtime-beyond-year-9999",
]


@pytest.mark.parametrize("first", [False, True], ids=["appended", "prepended"])
@pytest.mark.parametrize("case", HOSTILE_MEMBER_CASES)
def test_hostile_tar_member(seeds: Seeds, box: Box, case: str, first: bool) -> None:
    members, doc = tiny_members(seeds)
    extra, fmt = hostile_members(case, box.root.parent)
    # First: before bagit.txt, so the hostile member is the one that names the bag.
    members = extra + members if first else members + extra
    archive = craft_backup(box.medium, seeds.secret, members, manifest_doc=doc, fmt=fmt)
    found = refused_cleanly(seeds, box, archive)
    assert found & {"MEMBER_UNSAFE", "MEMBER_DUPLICATE", "CONTAINER_CORRUPT"}, found
    for name in ("evil-absolute", "evil-dotdot", "evil-top", "evil-pax", "evil-through-link"):
        assert not (box.root.parent / name).exists()
        assert not (box.root / name).exists()


def tar_prefix(members: list) -> bytes:
    """A tar of ``members`` without its end-of-archive marker."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data))
        end = tf.offset
    return out.getvalue()[:end]


def raw_header(
    name: bytes,
    typeflag: bytes,
    size_field: bytes,
    *,
    checksum_ok: bool = True,
    mtime_field: bytes = b"00000000000\0",
) -> bytes:
    """One 512-byte ustar header with a hand-made size field (octal or base-256)."""
    header = bytearray(512)
    header[0 : len(name)] = name
    header[100:108] = b"0000644\0"
    header[108:116] = header[116:124] = b"0000000\0"
    header[124:136] = size_field
    header[136:148] = mtime_field
    header[156:157] = typeflag
    header[257:265] = b"ustar\x0000"
    header[148:156] = b" " * 8
    checksum = sum(header) + (0 if checksum_ok else 1)
    header[148:156] = f"{checksum:06o}\0 ".encode()
    return bytes(header)


def base256(value: int) -> bytes:
    return b"\x80" + value.to_bytes(11, "big")


RAW_CASES = {
    "pax-header-declaring-10GB": raw_header(b"././@PaxHeader", b"x", base256(10 * GB)),
    "global-pax-header-declaring-10GB": raw_header(b"././@Global", b"g", base256(10 * GB)),
    "gnu-long-name-declaring-10GB": raw_header(b"././@LongLink", b"L", base256(10 * GB)),
    "member-declaring-10GB-without-data": raw_header(
        BAG.encode() + b"/data/big", b"0", base256(10 * GB)
    ),
    "base256-mtime-of-2**80-seconds": raw_header(
        BAG.encode() + b"/data/t", b"0", b"00000000000\0", mtime_field=base256(2**80)
    ),
    "negative-base256-size": raw_header(BAG.encode() + b"/data/neg", b"0", b"\xff" * 12),
    "size-not-a-number": raw_header(BAG.encode() + b"/data/nan", b"0", b"12x45678901\0"),
    "bad-header-checksum": raw_header(
        BAG.encode() + b"/data/c", b"0", b"00000000001\0", checksum_ok=False
    ),
    "pax-size-record-10GB": tar_prefix(
        [pax_member(f"{BAG}/data/big", b"abc", pax_headers={"size": str(10 * GB)})]
    ),
    "pax-size-negative": tar_prefix(
        [pax_member(f"{BAG}/data/neg", b"abc", pax_headers={"size": "-1"})]
    ),
    "pax-size-with-a-sign": tar_prefix(
        [pax_member(f"{BAG}/data/plus", b"abc", pax_headers={"size": "+3"})]
    ),
    "pax-size-beyond-16TiB": tar_prefix(
        [pax_member(f"{BAG}/data/huge", b"abc", pax_headers={"size": str(2**80)})]
    ),
    "octal-size-negative": raw_header(BAG.encode() + b"/data/neg", b"0", b"-0000000001\0"),
    "base256-size-beyond-16TiB": raw_header(BAG.encode() + b"/data/big", b"0", base256(2**80)),
    "malformed-pax-record": raw_header(b"././@PaxHeader", b"x", b"00000000020\0")
    + b"99 path=x\n".ljust(512, b"\0"),
}


@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_hostile_tar_header(seeds: Seeds, box: Box, case: str) -> None:
    members, _ = tiny_members(seeds)
    raw = tar_prefix(members[:2]) + RAW_CASES[case] + bytes(10240)
    archive = craft_backup(box.medium, seeds.secret, [], raw_tar=raw)
    found = refused_cleanly(seeds, box, archive)
    assert found & {"CONTAINER_CORRUPT", "CONTAINER_TRUNCATED"}, found


@pytest.mark.parametrize("case", [c for c in sorted(RAW_CASES) if "negative" in c or "16TiB" in c])
def test_negative_or_absurd_sizes_are_container_corrupt(seeds: Seeds, box: Box, case: str) -> None:
    members, _ = tiny_members(seeds)
    raw = tar_prefix(members[:2]) + RAW_CASES[case] + bytes(10240)
    archive = craft_backup(box.medium, seeds.secret, [], raw_tar=raw)
    report = verify(seeds, archive)
    [corrupt] = [f for f in report.findings if f.code == "CONTAINER_CORRUPT"]
    assert "size" in corrupt.message or "negative" in corrupt.message, corrupt.message


def test_tag_and_fiscal_files_share_one_memory_budget(
    seeds: Seeds, box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many large tag files (they compress to nothing) are held in memory only up to the
    budget that fiscal files share; the rest are reported, not read."""
    budget = 300_000
    monkeypatch.setattr(verify_members, "MAX_HELD_FISCAL", budget)
    members, doc = tiny_members(seeds)
    extra = [pax_member(f"{BAG}/extra-{n}.txt", bytes(100_000)) for n in range(6)]
    archive = craft_backup(box.medium, seeds.secret, members + extra, manifest_doc=doc)
    report = verify(seeds, archive)
    assert report.held_peak <= budget, report.held_peak
    over = [f for f in report.findings if "memory budget" in f.message]
    assert over and all(f.code == "MEMBER_UNSAFE" for f in over), report.findings


def test_zstd_frame_declaring_a_2GiB_window_is_refused(seeds: Seeds, box: Box) -> None:
    """The decoder would have to allocate the window: it refuses, we report it."""
    tar = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(seeds.tiny_backup.read_bytes()))
    params = zstandard.ZstdCompressionParameters(window_log=31, compression_level=1)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(
        out, closefd=False
    ) as writer:
        writer.write(tar.read())  # streamed: the window descriptor is in the header
    archive = box.medium / seeds.tiny_backup.name
    archive.write_bytes(out.getvalue())
    sign_sidecar(seeds.secret, archive, BAG, None)
    found = refused_cleanly(seeds, box, archive)
    assert "CONTAINER_CORRUPT" in found


@pytest.mark.parametrize(
    "tail",
    [b"garbage!", bytes(100), b"\x50\x2a\x4d\x18\xff\xff\xff\xff" + b"abc"],
    ids=["garbage", "zeros", "skippable-frame-declaring-4GB"],
)
def test_bytes_after_the_last_zstd_frame(seeds: Seeds, box: Box, tail: bytes) -> None:
    archive = box.medium / seeds.tiny_backup.name
    archive.write_bytes(seeds.tiny_backup.read_bytes() + tail)
    sign_sidecar(seeds.secret, archive, BAG, None)
    found = refused_cleanly(seeds, box, archive)
    assert found & {"CONTAINER_CORRUPT", "CONTAINER_TRUNCATED"}, found


# Manifests whose content is hostile, signed correctly with the shop key.


def manifest_case(case: str, doc: dict) -> dict | bytes:
    doc = json.loads(json.dumps(doc))
    first = doc["files"][0]
    if case == "path-listed-twice":
        doc["files"].append(dict(first))
    elif case == "path-outside-the-bag":
        doc["files"].append({**first, "path": "../outside"})
    elif case == "absolute-path":
        doc["files"].append({**first, "path": "/etc/passwd"})
    elif case == "dot-segments":
        doc["files"].append({**first, "path": "photos/./../../x"})
    elif case == "tag-file-outside-the-bag":
        doc["tag_files"]["../../outside"] = "0" * 64
    elif case == "bag-name-escapes":
        doc["bag"] = "../evil"
    elif case == "wrong-types":
        doc["files"][0]["size"] = "55"
    elif case == "files-not-a-list":
        doc["files"] = {"a": 1}
    elif case == "version-9":
        doc["version"] = [9, 0]
    elif case == "unknown-kind":
        doc["kind"] = "everything"
    elif case == "nested-too-deeply":
        return b"[" * 100_000 + b"]" * 100_000
    elif case == "integer-beyond-digit-limit":
        return json.dumps(doc).replace('"size": ', '"size": ' + "9" * 5000 + "0 + ", 1).encode()
    elif case == "not-utf8":
        return b"\xff\xfe{}"
    elif case == "not-an-object":
        return b"[1, 2, 3]"
    else:
        raise AssertionError(case)
    return doc


MANIFEST_CASES = [
    "path-listed-twice",
    "path-outside-the-bag",
    "absolute-path",
    "dot-segments",
    "tag-file-outside-the-bag",
    "bag-name-escapes",
    "wrong-types",
    "files-not-a-list",
    "version-9",
    "unknown-kind",
    "nested-too-deeply",
    "integer-beyond-digit-limit",
    "not-utf8",
    "not-an-object",
]


@pytest.mark.parametrize("case", MANIFEST_CASES)
def test_signed_manifest_with_hostile_content(seeds: Seeds, box: Box, case: str) -> None:
    members, doc = tiny_members(seeds)
    hostile = manifest_case(case, doc)
    if isinstance(hostile, dict):
        archive = craft_backup(box.medium, seeds.secret, members, manifest_doc=hostile)
    else:
        archive = craft_backup(box.medium, seeds.secret, members, manifest_bytes=hostile)
    found = refused_cleanly(seeds, box, archive)
    expected = "MANIFEST_VERSION_UNSUPPORTED" if case == "version-9" else "MANIFEST_MALFORMED"
    assert expected in found, found


def test_oversized_tag_member_is_not_read_into_memory(seeds: Seeds, box: Box) -> None:
    members, doc = tiny_members(seeds)
    manifest = (json.dumps(doc) + " " * (MAX_MANIFEST_BYTES + 1)).encode()
    archive = craft_backup(box.medium, seeds.secret, members, manifest_bytes=manifest)
    found = refused_cleanly(seeds, box, archive)
    assert "MEMBER_UNSAFE" in found and "MANIFEST_MISSING" in found


# Decompression bombs: memory stays bounded (measured in a child process).

MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr, "mb": peak}))
"""


def peak_memory_cli(*args) -> tuple[int, str, str, int]:
    """Run ``fiscalsafe ARGS`` below a fresh process; the peak RSS (MB) of the largest
    process in that tree (the verifier or one of its workers)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
        check=True,
    )
    doc = json.loads(done.stdout)
    return doc["code"], doc["out"], doc["err"], doc["mb"]


def write_bomb(path: Path, members: list[tuple[str, int, bytes | None]]) -> None:
    """A .tar.zst streamed member by member; ``None`` content means that many zeros."""
    zeros = bytes(1024 * 1024)
    with open(path, "wb") as fh, zstandard.ZstdCompressor(level=1).stream_writer(fh) as z:
        for name, size, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = size, 0o644
            z.write(info.tobuf(tarfile.PAX_FORMAT))
            if data is not None:
                z.write(data)
            else:
                for start in range(0, size, len(zeros)):
                    z.write(zeros[: min(len(zeros), size - start)])
            z.write(bytes(-size % 512))
        z.write(bytes(10240))


def identity_member(dossier_id: str = "MAG009") -> tuple[str, int, bytes]:
    identity = DossierIdentity(dossier_id, "Boutique", "55210055400013", "Europe/Paris", (1, 1))
    data = json.dumps(identity.to_json()).encode()
    return f"{BAG}/data/dossier.json", len(data), data


def bomb_verdict(seeds: Seeds, box: Box, members, *extra) -> tuple[str, int]:
    archive = box.medium / f"{BAG}.tar.zst"
    write_bomb(archive, members)
    assert archive.stat().st_size < 2 * 1024 * 1024  # it really is a bomb
    sign_sidecar(seeds.secret, archive, BAG, None)
    before = snapshot(box.root)
    code, out, err, mb = peak_memory_cli("verify", archive, "--key", seeds.shop_pub, *extra)
    assert code == 1, (out, err)
    assert "NOT PROVEN" in out and "Traceback" not in err, (out, err)
    assert snapshot(box.root) == before
    return out, mb


@pytest.mark.slow
def test_bomb_1GB_of_zeros_as_a_payload_file(seeds: Seeds, box: Box) -> None:
    members = [identity_member(), (f"{BAG}/data/photos/bomb.jpg", GB, None)]
    out, mb = bomb_verdict(seeds, box, members)
    assert mb < MEMORY_LIMIT_MB, f"{mb} MB"


@pytest.mark.slow
def test_bomb_1GB_of_zeros_as_the_journal(seeds: Seeds, box: Box) -> None:
    """A fiscal file is read into memory to be re-checked, but never past the limit."""
    members = [identity_member(), (f"{BAG}/data/jet/journal.jet", GB, None)]
    out, mb = bomb_verdict(seeds, box, members, "--trust", seeds.editor_pub)
    assert mb < MEMORY_LIMIT_MB, f"{mb} MB"
    assert "MEMBER_UNSAFE" in out


@pytest.mark.slow
def test_many_large_fiscal_archives_keep_memory_bounded(seeds: Seeds, box: Box) -> None:
    """100 archives of 8 MB of zeros (a few KB compressed) must not all be held in memory
    until the end of the stream (850 MB): they go to the fiscal checker as they arrive,
    once the identity and the editor key are known."""
    members = [identity_member()] + [
        (f"{BAG}/data/archives/A{n:06d}.fsa", 8 * 1024 * 1024, None) for n in range(100)
    ]
    out, mb = bomb_verdict(seeds, box, members, "--trust", seeds.editor_pub)
    assert mb < MEMORY_LIMIT_MB, f"{mb} MB"
    assert "MANIFEST_MISSING" in out


@pytest.mark.slow
def test_fiscal_archives_before_the_identity_are_held_within_a_limit(
    seeds: Seeds, box: Box
) -> None:
    """Archives that come before the dossier identity wait in memory; past the limit
    they are reported instead of kept."""
    members = [(f"{BAG}/data/archives/A{n:06d}.fsa", 64 * 1024 * 1024, None) for n in range(12)] + [
        identity_member()
    ]
    out, mb = bomb_verdict(seeds, box, members)
    assert mb < MAX_HELD_FISCAL // 1024**2 + MEMORY_LIMIT_MB, f"{mb} MB"
    assert "more than fiscalsafe holds in memory" in out


# Poisoned msgpack in a dossier: ``check`` reports findings, never a traceback.

HOSTILE_MSGPACK = {
    "deep-nesting": b"\x91" * 100_000 + b"\xc0",
    "huge-declared-array": b"\xdd\xff\xff\xff\xf0",
    "huge-declared-map": b"\xdf\xff\xff\xff\xf0",
    "huge-declared-bin": b"\xc6\xff\xff\xff\xf0" + b"x" * 16,
    "huge-declared-str": b"\xdb\xff\xff\xff\xf0abc",
    "ext-type": b"\xd4\x01\x00",
    "reserved-byte": b"\xc1" * 8,
    "empty": b"",
    "wrong-types": pack(
        {"format": 7, "version": "1.0", "body": "text", "dossier": [1], "sig": None}
    ),
    "unhashable-map-key": b"\x81\x91\x01\x01",
    "float-instead-of-int": pack([1.5, 2.5]),
}
PLACES = {
    "journal": ("jet/journal.jet", {"JOURNAL_MALFORMED"}),
    "journal-record": ("jet/journal.jet", {"JOURNAL_MALFORMED"}),
    "journal-head": ("jet/journal.head", {"JOURNAL_HEAD_INVALID"}),
    "archive": ("archives/A000002.fsa", {"ARCHIVE_MALFORMED"}),
}


@pytest.fixture(scope="module")
def fiscal_sample(make_sample):
    return make_sample(**SMALL)


#: Every document in every place, but for appending nothing to the journal (that is no damage).
HOSTILE_PLACEMENTS = [
    (doc, place)
    for place in sorted(PLACES)
    for doc in sorted(HOSTILE_MSGPACK)
    if HOSTILE_MSGPACK[doc] or place != "journal-record"
]


@pytest.mark.parametrize(("doc", "place"), HOSTILE_PLACEMENTS)
def test_hostile_msgpack_in_a_dossier(fiscal_sample, tmp_path: Path, doc: str, place: str):
    sample = copy_sample(fiscal_sample, tmp_path / "root")
    dossier = sample.dossiers[0]
    relpath, expected = PLACES[place]
    target = dossier / relpath
    data = HOSTILE_MSGPACK[doc]
    if place == "journal-record":
        data = target.read_bytes() + data
    target.write_bytes(data)
    report = check_dossier(
        dossier, as_of=AS_OF, years=1, trust=[sample.keys["editor_public"]], workers=1
    )
    found = {f.code for f in report.findings if f.severity is Severity.ERROR}
    assert found & (expected | {"JOURNAL_VERSION_UNSUPPORTED", "ARCHIVE_VERSION_UNSUPPORTED"})


def signed_archive(key, env: fa.Envelope, body: dict) -> bytes:
    data = pack(body)
    return fa.encode_envelope(data, env.alg, env.key_id, key.sign(data))


SIGNED_BODY_CHANGES = {
    "period-at-year-9999": {"period": ["9999-12-01", "9999-12-31"]},
    "period-at-year-1": {"period": ["0001-01-01", "0001-01-31"]},
    "period-reversed": {"period": ["2026-10-01", "2020-01-01"]},
    "period-not-dates": {"period": [1, {}]},
    "grand-totals-at-int64-limits": {"gt_open": 2**63 - 1, "gt_close": -(2**63)},
    "number-at-uint64-limit": {"number": 2**64 - 1},
    "created-at-int64-limit": {"created_ts": 2**63 - 1},
    "time-zone-path": {"tz": "../../../etc/passwd"},
    "closure-absurd": {
        "closures": [
            {
                "kind": "day",
                "start": "9999-12-31",
                "end": "0001-01-01",
                "vat": [[2000, 2**62, 0, 0]],
                "ttc": 0,
                "gt": 0,
                "tickets": -1,
            }
        ]
    },
    "ticket-body-deep": {"tickets": [[b"\x91" * 10_000 + b"\xc0", bytes(64)]]},
    "ticket-times-at-limits": {
        "tickets": [
            [
                pack({"seq": 1, "ts": ts, "ws": "", "op": "", "vat": [], "ttc": 0, "prev": b""}),
                bytes(64),
            ]
            for ts in (2**63 - 1, -(2**63))
        ]
    },
    "tickets-not-pairs": {"tickets": [[b"x"], "y", None]},
}


@pytest.mark.parametrize("case", sorted(SIGNED_BODY_CHANGES))
def test_archive_signed_by_the_editor_with_hostile_values(
    fiscal_sample, tmp_path: Path, case: str
) -> None:
    """The editor's key (the shop software vendor) signs whatever it is given: values at
    the limits of their types must still end in findings."""
    sample = copy_sample(fiscal_sample, tmp_path / "root")
    dossier = sample.dossiers[0]
    key = load_signing_key_pem(sample.keys["editor_secret"].read_bytes())
    path = sorted((dossier / "archives").glob("*.fsa"))[-1]
    env = fa.parse_envelope(path.read_bytes())
    body = msgpack.unpackb(env.body, raw=False)
    body.update(SIGNED_BODY_CHANGES[case])
    path.write_bytes(signed_archive(key, env, body))
    report = check_dossier(
        dossier, as_of=AS_OF, years=1, trust=[sample.keys["editor_public"]], workers=1
    )
    assert not report.ok


def test_journal_entry_signed_by_the_editor_with_hostile_values(
    fiscal_sample, tmp_path: Path
) -> None:
    sample = copy_sample(fiscal_sample, tmp_path / "root")
    dossier = sample.dossiers[0]
    key = load_signing_key_pem(sample.keys["editor_secret"].read_bytes())
    journal = dossier / "jet" / "journal.jet"
    last = list(fj.iter_records(io.BytesIO(journal.read_bytes())))[-1]
    for ts, code, data in ((2**63 - 1, 2**31, {"x": [1] * 1000}), (-(2**63), -1, {})):
        body = fj.encode_body(
            seq=last.seq + 1,
            ts=ts,
            tz="Nowhere/Land",
            utc_offset_min=10**9,
            code=code,
            workstation="",
            operator="",
            text="\x00" * 10,
            data=data,
            alg=last.alg,
            key_id=last.key_id,
            prev=last.signature,
        )
        journal.write_bytes(journal.read_bytes() + fj.encode_record(body, key.sign(body)))
    report = check_dossier(
        dossier, as_of=AS_OF, years=1, trust=[sample.keys["editor_public"]], workers=1
    )
    assert not report.ok


def test_cli_check_of_a_poisoned_dossier(fiscal_sample, tmp_path: Path) -> None:
    sample = copy_sample(fiscal_sample, tmp_path / "root")
    dossier = sample.dossiers[0]
    (dossier / "jet" / "journal.jet").write_bytes(HOSTILE_MSGPACK["deep-nesting"])
    (dossier / "jet" / "journal.head").write_bytes(HOSTILE_MSGPACK["huge-declared-bin"])
    (dossier / "archives" / "A000002.fsa").write_bytes(HOSTILE_MSGPACK["huge-declared-array"])
    before = snapshot(dossier)
    code, out, err = run_cli(
        "check",
        dossier,
        "--trust",
        sample.keys["editor_public"],
        "--as-of",
        AS_OF_ARG,
        "--years",
        "1",
    )
    assert code == 1, (out, err)
    assert "Traceback" not in err
    for name in ("JOURNAL_MALFORMED", "JOURNAL_HEAD_INVALID", "ARCHIVE_MALFORMED"):
        assert name in out
    assert snapshot(dossier) == before


def test_poisoned_dossier_backed_up_anyway_fails_verify_and_restore(
    fiscal_sample, tmp_path: Path
) -> None:
    """With --allow-findings the backup is made (and says so); an auditor's verify then
    re-checks the poisoned files from the stream, and restore refuses."""
    sample = copy_sample(fiscal_sample, tmp_path / "root")
    dossier = sample.dossiers[0]
    (dossier / "jet" / "journal.jet").write_bytes(HOSTILE_MSGPACK["deep-nesting"])
    (dossier / "archives" / "A000002.fsa").write_bytes(HOSTILE_MSGPACK["huge-declared-map"])
    medium = tmp_path / "medium"
    medium.mkdir()
    secret = minisign.load_secret_key(sample.keys["shop_secret"], None)
    result = backup_dossier(
        dossier,
        medium,
        secret,
        now=AS_OF,
        profile=DEFAULT_PROFILE,
        opts=BackupOptions(years=1, allow_findings=True, trust=[sample.keys["editor_public"]]),
    )
    args = {
        "shop_key": secret.public_key(),
        "trust": [sample.keys["editor_public"]],
        "as_of": None,
        "years": 1,
        "workers": 1,
    }
    report = verify_stream(result.files, **args)
    found = {f.code for f in report.findings}
    assert {"JOURNAL_MALFORMED", "ARCHIVE_MALFORMED", "BACKUP_WITH_FINDINGS"} <= found
    out = tmp_path / "out"
    out.mkdir()
    restored = restore_backup(result.files, out / "dest", **args)
    assert not restored.restored
    assert list(out.iterdir()) == []


# Malformed JSON documents and key files given on the command line.


def invoke(*args) -> tuple[int, str, str]:
    """The command line in this process: an exception other than the exit is a failure
    (it would have been a traceback)."""
    from fiscalsafe.cli.main import app

    env = {
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
        "FISCALSAFE_TRUST_DIR": "/nonexistent",
    }
    result = CliRunner(env=env).invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


BAD_JSON = {
    "not-json": b"{ this is not json",
    "binary": b"\xff\xfe\x00\x01",
    "nested-too-deeply": b"[" * 100_000,
    "integer-beyond-digit-limit": b'{"format": ' + b"9" * 5000 + b"}",
    "wrong-types": json.dumps(
        {"format": "fiscalsafe-profile", "version": [1, 0], "categories": 5}
    ).encode(),
    "version-9": json.dumps({"format": "fiscalsafe-profile", "version": [9, 0]}).encode(),
    "too-large": b" " * (2 * 1024 * 1024),
    "empty": b"",
}


def one_error_line(code: int, err: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_malformed_profile_is_one_line_error(sample_root, tmp_path: Path, case: str) -> None:
    profile = tmp_path / "profile.json"
    profile.write_bytes(BAD_JSON[case])
    code, _, err = invoke("check", sample_root.dossiers[0], "--profile", profile)
    one_error_line(code, err)
    assert "profile" in err


@pytest.mark.parametrize("case", sorted(set(BAD_JSON) - {"wrong-types", "version-9"}))
def test_malformed_dossier_identity_is_one_line_error(
    sample_root, tmp_path: Path, case: str
) -> None:
    dossier = tmp_path / "MAG001"
    shutil.copytree(sample_root.dossiers[0], dossier)
    (dossier / "dossier.json").write_bytes(BAD_JSON[case])
    code, _, err = invoke("check", dossier, "--as-of", AS_OF_ARG)
    one_error_line(code, err)
    assert "dossier.json" in err


def test_profile_that_is_a_folder_or_missing(sample_root, tmp_path: Path) -> None:
    for profile in (tmp_path, tmp_path / "missing.json"):
        code, _, err = invoke("check", sample_root.dossiers[0], "--profile", profile)
        one_error_line(code, err)


def test_evidence_file_that_cannot_be_written(seeds: Seeds, tmp_path: Path) -> None:
    """An evidence path naming a folder leaves no ``.NAME.partial`` file beside it
    (outside anything the user named)."""
    target = tmp_path / "evidence-is-a-folder"
    target.mkdir()
    before = snapshot(tmp_path)
    for evidence in (tmp_path / "no" / "such" / "folder" / "e.json", target):
        code, _, err = invoke(
            "verify", seeds.tiny_backup, "--key", seeds.shop_pub, "--evidence", evidence
        )
        one_error_line(code, err)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("which", ["--key", "--trust"])
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff" * 100,
        b"untrusted comment: x\nAAAA\n",
        b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
    ],
)
def test_malformed_key_files_are_one_line_errors(
    seeds: Seeds, tmp_path: Path, which: str, content: bytes
) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_bytes(content)
    key = bad if which == "--key" else seeds.shop_pub
    args = ["verify", seeds.tiny_backup, "--key", key]
    if which == "--trust":
        args += ["--trust", bad]
    code, _, err = invoke(*args)
    if which == "--trust" and code == 0:
        return  # a photos backup re-checks nothing fiscal: the editor key is not read
    one_error_line(code, err)


def test_cli_subprocess_never_shows_a_traceback(seeds: Seeds, box: Box, tmp_path: Path) -> None:
    """The real entry point, in a child process, on a medium of hostile archives and with
    a malformed profile: findings and one error line, never a traceback."""
    members, doc = tiny_members(seeds)
    for case in ("absolute-path", "symlink-then-write-through-it", "file-below-a-file"):
        extra, fmt = hostile_members(case, box.root.parent)
        craft_backup(
            box.medium, seeds.secret, members + extra, manifest_doc=doc, fmt=fmt, name=case
        )
    before = snapshot(box.root.parent)
    code, out, err = run_cli("verify", box.medium, "--key", seeds.shop_pub)
    assert code == 1 and "0 of 3 proven" in out and "Traceback" not in err, (out, err)
    for archive in sorted(box.medium.glob("*.tar.zst")):
        code, out, err = run_cli("restore", archive, box.out / "dest", "--key", seeds.shop_pub)
        assert code == 1 and "NOT RESTORED" in out and "Traceback" not in err, (out, err)
    assert snapshot(box.root.parent) == before
    profile = tmp_path / "deep.json"
    profile.write_bytes(BAD_JSON["nested-too-deeply"])
    code, out, err = run_cli("verify", box.medium, "--key", seeds.shop_pub, "--profile", profile)
    one_error_line(code, err)


# Planted sidecars: read before any signature is checked.


def plant_sidecar(folder: Path, comment: str, name: str = "planted.tar.zst") -> Path:
    """A well-formed ``.minisig`` signed by a stranger's key, with ``comment``."""
    stranger = minisign.generate_keypair(seed=b"\x42" * 32)
    sidecar = folder / f"{name}.minisig"
    sidecar.write_bytes(minisign.sign_bytes(stranger, b"", comment))
    return sidecar


def test_planted_sidecar_cannot_make_rotation_delete_outside_the_medium(
    fiscal_sample, tmp_path: Path
) -> None:
    """``backup --keep`` must not delete what an unsigned sidecar's ``file=`` names,
    ``../precious.txt`` for one, taking it for an old backup of the dossier."""
    medium = tmp_path / "medium"
    medium.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("the shop's accounts\n")
    plant_sidecar(
        medium,
        "fiscalsafe-backup v1 file=../precious.txt bag=x dossier=MAG001 kind=full "
        "created=2001-01-01T00:00:00Z part=1/1 set=0",
    )
    secret = minisign.load_secret_key(fiscal_sample.keys["shop_secret"], None)
    result = backup_dossier(
        fiscal_sample.dossiers[0],
        medium,
        secret,
        now=AS_OF,
        profile=DEFAULT_PROFILE,
        opts=BackupOptions(years=1, keep=1, trust=[fiscal_sample.keys["editor_public"]]),
    )
    assert precious.read_text() == "the shop's accounts\n"
    assert result.removed_by_rotation == []
    code, out, err = invoke("list", medium)
    assert code == 0 and "precious" not in out, out


@pytest.mark.parametrize("part", ["1/\u00b2", "1/" + "9" * 5000, "\u0661/\u0662", "1/"])
def test_planted_sidecar_with_hostile_part_numbers(seeds: Seeds, tmp_path: Path, part: str):
    """``part=1/²`` (a Unicode digit) or a 5000-digit total: ``verify`` reports a finding
    and ``list`` lists the medium, neither a ValueError traceback from ``int()``."""
    archive = tmp_path / seeds.tiny_backup.name
    shutil.copyfile(seeds.tiny_backup, archive)
    plant_sidecar(
        tmp_path,
        f"fiscalsafe-backup v1 file={archive.name} bag={BAG} dossier=MAG009 kind=photos "
        f"created=2026-11-27T12:00:00Z part={part} set=0",
        name=archive.name,
    )
    code, out, err = invoke("verify", archive, "--key", seeds.shop_pub)
    assert code == 1 and "SIDECAR_SIGNATURE_INVALID" in out, (out, err)
    code, out, err = invoke("list", tmp_path)
    assert code == 0, (out, err)
