"""What the signed manifest binds: names and sidecar claims, the creation time against the
verifier's clock, and every meaningful byte of the container (modes, times, members, tag
files, zstd frames, the tar's end), judged whether or not the sidecar is present.

Each case alters a real backup the way a hostile shop floor could, and asserts the finding
that names the alteration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path

import backup_support as bs
import pytest
import zstandard

from fiscalsafe import minisign
from fiscalsafe.formats.layout import parse_comment
from fiscalsafe.pipeline.restore import restore_backup
from fiscalsafe.pipeline.verify_backup import verify_stream
from fiscalsafe.verify.findings import Severity

RECORD = 20 * 512


pytestmark = pytest.mark.usefixtures("one_worker")


def run(w, files: list[Path], now: dt.datetime = bs.NOW):
    return verify_stream(
        files, shop_key=w.public, trust=[w.editor], as_of=None, years=bs.YEARS, workers=1, now=now
    )


def findings_of(report, code: str) -> list:
    return [f for f in report.findings if f.code == code]


# --- names and sidecar claims ------------------------------------------------------------


def test_the_good_backup_binds_every_claim(w):
    report = run(w, w.backup.files)
    assert report.ok, bs.describe(report)
    assert report.verified_at == "2026-11-27T12:00:00Z"
    assert report.checks == [
        "parts", "container", "members", "bag", "manifest", "claims", "completeness",
        "signed-container", "fiscal", "coverage",
    ]  # fmt: skip


@pytest.mark.parametrize("sidecar", [True, False], ids=["with-sidecar", "sidecar-deleted"])
def test_an_older_backup_renamed_to_todays_name_is_refused(w, tmp_path, sidecar):
    renamed = tmp_path / "MAG001_2026-11-30_full.tar.zst"
    renamed.write_bytes(w.archive.read_bytes())
    if sidecar:
        Path(str(renamed) + ".minisig").write_bytes(Path(str(w.archive) + ".minisig").read_bytes())
    report = run(w, [renamed])
    claims = findings_of(report, "CLAIM_MISMATCH")
    name_claim = [f for f in claims if f.message.startswith("file name:")]
    assert name_claim and name_claim[0].expected == w.backup.bag
    assert name_claim[0].found == "MAG001_2026-11-30_full"
    if sidecar:
        (file_claim,) = [f for f in claims if f.message.startswith("file:")]
        assert file_claim.expected == renamed.name and file_claim.found == w.archive.name
    assert not report.ok


def resign(w, archive: Path, **changes: str) -> None:
    """Sign ``archive`` again with the shop key, its sidecar's claims changed."""
    side = Path(str(archive) + ".minisig")
    fields = parse_comment(minisign.parse_signature(side.read_bytes()).trusted_comment)
    fields.update(changes)
    comment = "fiscalsafe-backup v1 " + " ".join(f"{k}={v}" for k, v in fields.items())
    digest = hashlib.blake2b(archive.read_bytes(), digest_size=64).digest()
    side.write_bytes(minisign.sign_stream(w.secret, digest, comment))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("kind", "photos"),
        ("created", "2026-11-30T12:00:00Z"),
        ("dossier", "MAG002"),
        ("bag", "MAG001_2026-11-30_full"),
        ("part", "1/2"),
    ],
)
def test_a_sidecar_claim_that_disagrees_with_the_manifest_is_refused(w, tmp_path, claim, value):
    (archive,) = bs.copy_files(bs.backup_paths(w.backup), tmp_path)[:1]
    resign(w, archive, **{claim: value})
    report = run(w, [archive])
    mismatches = [f for f in findings_of(report, "CLAIM_MISMATCH") if f.found == value]
    assert len(mismatches) == 1, bs.describe(report)
    assert mismatches[0].message.startswith(f"{claim}: ")
    assert mismatches[0].severity is Severity.ERROR
    assert not report.ok


def test_extra_fields_in_a_sidecar_comment_are_tolerated(w, tmp_path):
    (archive,) = bs.copy_files(bs.backup_paths(w.backup), tmp_path)[:1]
    resign(w, archive, head="0123abcd")
    assert run(w, [archive]).ok


# --- creation time against the verifier's clock ------------------------------------------


def test_a_backup_from_the_verifiers_future_is_refused(w):
    report = run(w, w.backup.files, now=bs.NOW - dt.timedelta(hours=1))
    (future,) = findings_of(report, "BACKUP_FROM_FUTURE")
    assert future.found == "2026-11-27T12:00:00Z"
    assert future.expected == "<= 2026-11-27T11:00:00Z"
    assert report.verified_at == "2026-11-27T11:00:00Z"


def test_a_few_minutes_of_clock_skew_are_tolerated(w):
    assert run(w, w.backup.files, now=bs.NOW - dt.timedelta(minutes=9)).ok


def test_cli_shows_the_verifiers_clock_and_refuses_a_future_backup(w, monkeypatch):
    bs.freeze_clock(monkeypatch, bs.NOW + dt.timedelta(days=3))
    args = ("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS)
    r = bs.invoke(*args)
    assert r.code == 0, r
    assert "backup of 2026-11-27T12:00:00Z (verifier's clock 2026-11-30T12:00:00Z)" in r.out
    assert "checks: parts and sidecars, container, members, bag" in r.out
    doc = json.loads(bs.invoke(*args, "--json").out)
    assert doc["reports"][0]["verified_at"] == "2026-11-30T12:00:00Z"
    bs.freeze_clock(monkeypatch, bs.NOW - dt.timedelta(days=1))
    r = bs.invoke(*args)
    assert r.code == 1 and "BACKUP_FROM_FUTURE" in r.out, r


# --- the container against the signed manifest -------------------------------------------


def tar_of(archive: Path) -> bytes:
    return bs.decompress_tar([archive])


def tar_body(tar: bytes) -> bytes:
    """The members, without the end-of-archive marker and its padding."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        last = tf.getmembers()[-1]
    return tar[: last.offset_data + -(-last.size // 512) * 512]


def finish(body: bytes) -> bytes:
    end = body + bytes(1024)
    return end + bytes(-len(end) % RECORD)


def headers(tar: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return {m.name: m for m in tf.getmembers()}


def rewrite_header(tar: bytes, name: str, pax: dict[str, str] | None = None, **changes) -> bytes:
    """The tar with ``name``'s headers written again by ``tarfile``, fields changed."""
    info = headers(tar)[name]
    new = tarfile.TarInfo(name)
    new.size, new.mode, new.mtime, new.type = info.size, info.mode, info.mtime, info.type
    new.uid = new.gid = 0
    new.uname = new.gname = ""
    new.pax_headers = dict(info.pax_headers) | (pax or {})
    for field, value in changes.items():
        setattr(new, field, value)
    raw = new.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
    return finish(tar_body(tar[: info.offset] + raw + tar[info.offset_data :]))


def insert_member(tar: bytes, info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    """``info`` (and its content) added as the last member."""
    raw = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict") + data + bytes(-len(data) % 512)
    return finish(tar_body(tar) + raw)


def place(tmp_path: Path, w, data: bytes) -> Path:
    """The altered backup under its own name, its sidecar deleted (what the writer never
    makes must be refused even when no sidecar says the bytes changed)."""
    path = tmp_path / w.archive.name
    path.write_bytes(data)
    return path


def compress(tar: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1, write_checksum=True).compress(tar)


def payload_member(w, tar: bytes) -> str:
    """A payload member whose time has no nanoseconds (stored in the ustar header)."""
    for name, info in headers(tar).items():
        if "/data/" in name and "mtime" not in info.pax_headers:
            return name
    raise AssertionError("no payload member without a pax time")


def test_an_untouched_backup_recompressed_without_its_sidecar_is_proven(w, tmp_path):
    report = run(w, [place(tmp_path, w, compress(tar_of(w.archive)))])
    assert report.ok, bs.describe(report)
    assert [f.code for f in report.findings] == ["SIDECAR_MISSING"]


def test_a_payload_mode_other_than_the_signed_one_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    name = payload_member(w, tar)
    path = place(tmp_path, w, compress(rewrite_header(tar, name, mode=0o4777)))
    report = run(w, [path])
    (bad,) = findings_of(report, "MEMBER_METADATA_MISMATCH")
    assert bad.message == "mode differs from the signed manifest"
    assert bad.file == name.partition("/")[2] and bad.found == "0o4777"
    assert not report.ok


def test_a_payload_time_other_than_the_signed_one_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    name = payload_member(w, tar)
    altered = rewrite_header(tar, name, pax={"mtime": "1700000000.5"})
    report = run(w, [place(tmp_path, w, compress(altered))])
    (bad,) = findings_of(report, "MEMBER_METADATA_MISMATCH")
    assert bad.message == "modification time differs from the signed manifest"
    assert bad.found == 1_700_000_000_500_000_000


def test_a_tag_file_time_other_than_the_writers_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    name = f"{w.backup.bag}/bagit.txt"
    report = run(w, [place(tmp_path, w, compress(rewrite_header(tar, name, mtime=0)))])
    (bad,) = findings_of(report, "MEMBER_METADATA_MISMATCH")
    assert bad.file == "bagit.txt" and bad.found == 0


def test_a_pax_record_the_writer_never_writes_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    name = payload_member(w, tar)
    altered = rewrite_header(tar, name, pax={"SCHILY.xattr.user.note": "x"})
    report = run(w, [place(tmp_path, w, compress(altered))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert "SCHILY.xattr.user.note" in bad.message


def test_an_extra_tag_file_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    info = tarfile.TarInfo(f"{w.backup.bag}/notes.txt")
    info.size, info.mode, info.mtime = 6, 0o644, int(bs.NOW.timestamp())
    report = run(w, [place(tmp_path, w, compress(insert_member(tar, info, b"hello\n")))])
    unexpected = [f for f in findings_of(report, "FILE_UNEXPECTED") if f.file == "notes.txt"]
    assert unexpected and unexpected[0].message == "tag file not in the signed manifest"


def test_a_directory_member_is_refused(w, tmp_path):
    tar = tar_of(w.archive)
    info = tarfile.TarInfo(f"{w.backup.bag}/data")
    info.type, info.mode = tarfile.DIRTYPE, 0o777
    report = run(w, [place(tmp_path, w, compress(insert_member(tar, info)))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.file == f"{w.backup.bag}/data" and "directory member" in bad.message


def test_a_skippable_zstd_frame_is_refused(w, tmp_path):
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    path = place(tmp_path, w, w.archive.read_bytes() + skippable)
    report = run(w, [path])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.message == "1 skippable zstd frame"


def test_a_tar_cut_into_several_zstd_frames_is_judged_by_its_bytes(w, tmp_path):
    """The writer cuts large files into frames of their own: a frame holds only the bytes
    it decompresses to, so the cut is not judged; what the frames hold still is."""
    tar = tar_of(w.archive)
    cuts = [0, RECORD, RECORD + 7, len(tar) // 2, len(tar)]
    framed = b"".join(compress(tar[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))
    report = run(w, [place(tmp_path, w, framed)])
    assert not findings_of(report, "CONTAINER_UNSIGNED_DATA"), bs.describe(report)
    assert {f.code for f in report.findings if f.severity is Severity.ERROR} == set()
    # A skippable frame between them is still refused.
    skippable = (0x184D2A50).to_bytes(4, "little") + (2).to_bytes(4, "little") + b"hi"
    split = len(compress(tar[:RECORD]))
    report = run(w, [place(tmp_path, w, framed[:split] + skippable + framed[split:])])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.message == "1 skippable zstd frame"


def raw_frame(tar: bytes, descriptor: int = 0x00, hidden: bytes = b"") -> bytes:
    """The tar as one zstd frame of raw blocks, with ``hidden`` carried in RLE blocks of
    size 0 (each decodes to nothing and carries one byte) after the first block."""
    blocks = [tar[i : i + 64 * 1024] for i in range(0, len(tar), 64 * 1024)]
    out = bytearray((0xFD2FB528).to_bytes(4, "little") + bytes([descriptor, 0x50]))
    for n, block in enumerate(blocks):
        last = n == len(blocks) - 1
        out += ((len(block) << 3) | int(last)).to_bytes(3, "little") + block
        if n == 0:
            for byte in hidden:
                out += (1 << 1).to_bytes(3, "little") + bytes([byte])
    return bytes(out)


def test_blocks_and_frames_that_decode_to_nothing_are_refused(w, tmp_path):
    """They carry bytes the signed manifest does not cover; the writer makes none."""
    tar = tar_of(w.archive)
    report = run(w, [place(tmp_path, w, raw_frame(tar))])
    assert not findings_of(report, "CONTAINER_UNSIGNED_DATA"), bs.describe(report)
    # Five bytes in RLE blocks of size 0, inside the frame.
    report = run(w, [place(tmp_path, w, raw_frame(tar, hidden=b"hello"))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.message == "5 zstd blocks or frames that decode to nothing"
    # A whole frame of them, before the archive: it decodes to nothing.
    empty = (0xFD2FB528).to_bytes(4, "little") + bytes([0x00, 0x00])
    empty += b"".join((1 << 1).to_bytes(3, "little") + bytes([c]) for c in b"hi")
    empty += (1).to_bytes(3, "little")  # the last block: raw, size 0
    report = run(w, [place(tmp_path, w, empty + w.archive.read_bytes())])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.message == "3 zstd blocks or frames that decode to nothing"
    # The frame header's unused bit.
    report = run(w, [place(tmp_path, w, raw_frame(tar, descriptor=0x10))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.message == "1 zstd block or frame that decodes to nothing"


def test_zero_records_after_the_end_marker_are_refused(w, tmp_path):
    tar = tar_of(w.archive) + bytes(RECORD)
    report = run(w, [place(tmp_path, w, compress(tar))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert "bytes after the end-of-archive marker" in bad.message


def test_an_altered_tag_manifest_is_refused(w, tmp_path):
    """The tag manifest is the one tag file no digest in the manifest covers."""
    tar = bytearray(tar_of(w.archive))
    info = headers(bytes(tar))[f"{w.backup.bag}/tagmanifest-sha256.txt"]
    content = bytes(tar[info.offset_data : info.offset_data + info.size])
    # Same bytes, lines in another order: BagIt accepts it, the writer never writes it.
    lines = content.splitlines(keepends=True)
    reordered = b"".join(reversed(lines))
    tar[info.offset_data : info.offset_data + info.size] = reordered
    report = run(w, [place(tmp_path, w, compress(bytes(tar)))])
    (bad,) = findings_of(report, "CONTAINER_UNSIGNED_DATA")
    assert bad.file == "tagmanifest-sha256.txt"


def test_restore_refuses_modes_that_are_not_signed(w, tmp_path):
    tar = tar_of(w.archive)
    name = payload_member(w, tar)
    path = place(tmp_path, w, compress(rewrite_header(tar, name, mode=0o777)))
    result = restore_backup(
        [path],
        tmp_path / "dest",
        shop_key=w.public,
        trust=[w.editor],
        as_of=None,
        years=bs.YEARS,
        workers=1,
        now=bs.NOW,
    )
    assert not result.restored and not (tmp_path / "dest").exists()
    assert "MEMBER_METADATA_MISMATCH" in bs.error_codes(result.report)
