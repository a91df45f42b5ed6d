"""Damaged media: every kind of damage is caught, by a named finding, and ``restore``
of a damaged backup leaves neither its destination nor its staging folder behind.

Damage table: truncation at every tar member boundary (the cut tar recompressed, so only
the tar structure can tell) and inside members, cuts of the compressed file, any single
flipped bit (a Hypothesis property over a real backup, and an exhaustive sweep over every
byte of a 2 KB one), zeroed 512-byte and 4 KiB blocks, a missing sidecar (a warning:
the signed inner manifest still proves everything), a sidecar swapped in from another
backup, and two backups spliced together.
"""

from __future__ import annotations

import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from conftest import AS_OF, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscalsafe import minisign
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.pipeline.backup import BackupOptions, BackupResult, backup_dossier
from fiscalsafe.pipeline.restore import restore_backup
from fiscalsafe.pipeline.verify_backup import VerifyReport, verify_stream
from fiscalsafe.verify.findings import Severity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.corpus import sign_sidecar, tiny_backup, tiny_dossier  # noqa: E402

CONTAINER = {"CONTAINER_TRUNCATED", "CONTAINER_CORRUPT"}
#: Findings that come from the sidecar alone; the rest is what the content itself shows.
SIDECAR_CODES = {"SIDECAR_SIGNATURE_INVALID", "SIDECAR_MISSING", "PART_EXTRA"}
SMALL = {"years": 1, "size": 128 * 1024, "tickets_per_day": 1}


@dataclass(frozen=True)
class Media:
    a: BackupResult  # MAG001
    a_next_day: BackupResult  # MAG001, backed up again a day later
    b: BackupResult  # MAG002
    b_same_name: BackupResult  # MAG002 under MAG001's bag name, for splicing
    secret: minisign.SecretKey
    public: minisign.PublicKey
    editor: Path
    tiny: BackupResult  # a 2 KB photos backup, for the exhaustive sweep


@pytest.fixture(scope="module")
def media(make_sample, tmp_path_factory) -> Media:
    sample = make_sample(**SMALL)
    secret = minisign.load_secret_key(sample.keys["shop_secret"], None)
    editor = sample.keys["editor_public"]
    base = tmp_path_factory.mktemp("damage-media")

    def backup(dossier: Path, folder: str, now=AS_OF, **options) -> BackupResult:
        dest = base / folder
        dest.mkdir()
        opts = BackupOptions(years=1, trust=[editor], **options)
        return backup_dossier(dossier, dest, secret, now=now, profile=DEFAULT_PROFILE, opts=opts)

    a = backup(sample.dossiers[0], "a")
    return Media(
        a=a,
        a_next_day=backup(sample.dossiers[0], "a2", now=AS_OF.replace(day=28)),
        b=backup(sample.dossiers[1], "b"),
        b_same_name=backup(sample.dossiers[1], "b2", name=a.bag),
        secret=secret,
        public=secret.public_key(),
        editor=editor,
        tiny=tiny_backup(tiny_dossier(base / "tiny"), _mkdir(base / "tiny-medium"), secret),
    )


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not under test here, and each restore would wait for the disk."""
    monkeypatch.setattr("os.fsync", lambda fd: None)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def decompressed(path: Path) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()


def recompress(tar: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1, write_checksum=True).compress(tar)


def member_boundaries(tar: bytes) -> list[tuple[str, int, int, int]]:
    """(name, header offset, content offset, content size) of every member."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return [(m.name, m.offset, m.offset_data, m.size) for m in tf]


def place(folder: Path, original: Path, data: bytes, sidecar: bytes | None) -> Path:
    """``data`` under the original backup's name in ``folder``, with ``sidecar`` beside."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / original.name
    path.write_bytes(data)
    side = Path(str(path) + ".minisig")
    if sidecar is not None:
        side.write_bytes(sidecar)
    else:
        side.unlink(missing_ok=True)
    return path


def sidecar_of(result: BackupResult) -> bytes:
    return Path(str(result.files[0]) + ".minisig").read_bytes()


def verify(m: Media, path: Path) -> VerifyReport:
    return verify_stream(
        [path], shop_key=m.public, trust=[m.editor], as_of=None, years=1, workers=1
    )


def errors(report: VerifyReport) -> set[str]:
    return {f.code for f in report.findings if f.severity is Severity.ERROR}


def restore_fails_cleanly(m: Media, path: Path) -> VerifyReport:
    """Restore next to ``path``: refused, and nothing is left but what was there."""
    folder = path.parent
    before = sorted(p.name for p in folder.iterdir())
    result = restore_backup(
        [path],
        folder / "dest",
        shop_key=m.public,
        trust=[m.editor],
        as_of=None,
        years=1,
        workers=1,
    )
    assert not result.restored
    assert not result.report.ok
    assert not (folder / "dest").exists()
    assert not (folder / ".dest.fiscalsafe-partial").exists()
    assert sorted(p.name for p in folder.iterdir()) == before
    return result.report


def test_the_undamaged_backups_verify(media: Media) -> None:
    for result in (media.a, media.a_next_day, media.b, media.b_same_name, media.tiny):
        report = verify(media, result.files[0])
        assert report.ok, [f.to_json() for f in report.findings]


# Truncation.


def test_truncation_at_every_member_boundary(media: Media, tmp_path: Path) -> None:
    """The cut tar is compressed again into a valid zstd stream: only the tar structure
    (a missing end-of-archive marker) can tell, and it does, at every boundary."""
    tar = decompressed(media.a.files[0])
    members = member_boundaries(tar)
    boundaries = [header for _, header, _, _ in members]
    _, _, content, size = members[-1]
    boundaries.append(content + size + (-size % 512))  # the end-of-archive marker
    assert len(boundaries) > 40
    for index, offset in enumerate(boundaries):
        path = place(
            tmp_path / f"cut{index}",
            media.a.files[0],
            recompress(tar[:offset]),
            sidecar_of(media.a),
        )
        report = restore_fails_cleanly(media, path)
        assert "CONTAINER_TRUNCATED" in errors(report), (offset, errors(report))
        assert "SIDECAR_SIGNATURE_INVALID" in errors(report)


def test_truncation_inside_members(media: Media, tmp_path: Path) -> None:
    """Inside a header, inside the content, inside the padding of each kind of member."""
    tar = decompressed(media.a.files[0])
    members = member_boundaries(tar)
    cuts = set()
    for _, header, content, size in members[:: max(1, len(members) // 12)] + members[-3:]:
        cuts.add(header + 100)  # inside the (pax) header
        cuts.add(content + size // 2)  # inside the content
        if size % 512:
            cuts.add(content + size + 1)  # inside the padding
    for index, offset in enumerate(sorted(cuts)):
        path = place(tmp_path / f"cut{index}", media.a.files[0], recompress(tar[:offset]), None)
        report = restore_fails_cleanly(media, path)
        assert errors(report) & CONTAINER, (offset, errors(report))


def test_truncation_of_the_compressed_file(media: Media, tmp_path: Path) -> None:
    data = media.a.files[0].read_bytes()
    cuts = {0, 1, 3, 4, 5, 13, len(data) - 1, len(data) - 4, len(data) - 5}
    cuts |= {len(data) * i // 40 for i in range(1, 40)}
    for index, offset in enumerate(sorted(cuts)):
        path = place(tmp_path / f"cut{index}", media.a.files[0], data[:offset], sidecar_of(media.a))
        report = restore_fails_cleanly(media, path)
        assert errors(report) & CONTAINER, (offset, errors(report))


# Flipped bits.


def flip_is_caught(m: Media, original: Path, folder: Path, bit: int) -> None:
    """With the sidecar, any flip fails. Without counting the sidecar, the content itself
    fails too, unless the flip left every decompressed byte as it was (a zstd header bit
    such as a larger window): then nothing the backup proves has changed."""
    data = bytearray(original.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path = place(folder, original, bytes(data), Path(str(original) + ".minisig").read_bytes())
    report = verify(m, path)
    found = errors(report)
    assert "SIDECAR_SIGNATURE_INVALID" in found, (bit, found)
    if not found - SIDECAR_CODES:
        try:
            same = decompressed(path) == decompressed(original)
        except zstandard.ZstdError:
            same = False
        assert same, f"bit {bit}: only the sidecar noticed a change of content"


@pytest.mark.slow
def test_any_flipped_bit_is_caught_property(media: Media, tmp_path_factory) -> None:
    original = media.a.files[0]
    size = original.stat().st_size
    folder = tmp_path_factory.mktemp("flips")

    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.integers(0, size * 8 - 1))
    def check(bit: int) -> None:
        flip_is_caught(media, original, folder, bit)

    check()


@pytest.mark.slow
def test_every_byte_flipped_in_a_small_backup(media: Media, tmp_path: Path) -> None:
    """Exhaustive over a ~2 KB backup: one bit of every byte (rotating which bit)."""
    original = media.tiny.files[0]
    size = original.stat().st_size
    assert size <= 3000
    for offset in range(size):
        flip_is_caught(media, original, tmp_path, offset * 8 + offset % 8)


@pytest.mark.parametrize("offset", [0, 4, 100, -1, -4])
def test_a_flipped_bit_makes_restore_fail_cleanly(
    media: Media, tmp_path: Path, offset: int
) -> None:
    data = bytearray(media.a.files[0].read_bytes())
    data[offset] ^= 0x10
    path = place(tmp_path, media.a.files[0], bytes(data), sidecar_of(media.a))
    report = restore_fails_cleanly(media, path)
    assert "SIDECAR_SIGNATURE_INVALID" in errors(report)


# Zeroed blocks.


@pytest.mark.parametrize("block", [512, 4096])
def test_zeroed_blocks_of_the_compressed_file(media: Media, tmp_path: Path, block: int) -> None:
    data = media.a.files[0].read_bytes()
    starts = range(0, len(data), block * max(1, len(data) // block // 16))
    for index, start in enumerate(starts):
        damaged = bytearray(data)
        damaged[start : start + block] = bytes(len(damaged[start : start + block]))
        if bytes(damaged) == data:
            continue
        path = place(tmp_path / f"z{index}", media.a.files[0], bytes(damaged), sidecar_of(media.a))
        report = restore_fails_cleanly(media, path)
        assert "SIDECAR_SIGNATURE_INVALID" in errors(report)
        assert errors(report) - SIDECAR_CODES, (start, errors(report))


@pytest.mark.parametrize("block", [512, 4096])
def test_zeroed_blocks_of_the_tar(media: Media, tmp_path: Path, block: int) -> None:
    """Zeros inside the tar, compressed validly: a header becomes an early end marker or
    a broken one, content fails its digest."""
    tar = decompressed(media.a.files[0])
    end = len(tar.rstrip(b"\0"))
    for index, start in enumerate(range(0, end, block * max(1, end // block // 16))):
        damaged = bytearray(tar)
        damaged[start : start + block] = bytes(block)
        if bytes(damaged) == tar:
            continue
        path = place(tmp_path / f"z{index}", media.a.files[0], recompress(bytes(damaged)), None)
        report = restore_fails_cleanly(media, path)
        assert errors(report) - SIDECAR_CODES, (start, errors(report))


# Sidecars.


def test_missing_sidecar_is_a_warning_the_inner_manifest_still_proves(
    media: Media, tmp_path: Path
) -> None:
    path = place(tmp_path, media.a.files[0], media.a.files[0].read_bytes(), None)
    report = verify(media, path)
    assert report.ok
    assert [(f.code, f.severity) for f in report.findings] == [
        ("SIDECAR_MISSING", Severity.WARNING)
    ]
    assert report.manifest is not None and report.fiscal is not None
    result = restore_backup(
        [path],
        tmp_path / "dest",
        shop_key=media.public,
        trust=[media.editor],
        as_of=None,
        years=1,
        workers=1,
    )
    assert result.restored


@pytest.mark.parametrize("other", ["other-dossier", "same-dossier-next-day"])
def test_sidecar_swapped_from_another_backup_fails(
    media: Media, tmp_path: Path, other: str
) -> None:
    donor = media.b if other == "other-dossier" else media.a_next_day
    path = place(tmp_path, media.a.files[0], media.a.files[0].read_bytes(), sidecar_of(donor))
    report = restore_fails_cleanly(media, path)
    assert "SIDECAR_SIGNATURE_INVALID" in errors(report)


def test_sidecar_signed_by_another_key_fails(media: Media, tmp_path: Path) -> None:
    stranger = minisign.generate_keypair(seed=b"\x07" * 32)
    path = place(tmp_path, media.a.files[0], media.a.files[0].read_bytes(), None)
    sign_sidecar(stranger, path, media.a.bag, None)
    report = restore_fails_cleanly(media, path)
    assert "SIDECAR_SIGNATURE_INVALID" in errors(report)


# Splicing.


@pytest.mark.parametrize("resigned", [False, True], ids=["original-sidecar", "resigned"])
def test_two_backups_spliced_together_fail(media: Media, tmp_path: Path, resigned: bool) -> None:
    """The first members of one backup, the rest from another of the same bag name (so no
    member is outside the bag). With a sidecar re-signed over the spliced bytes, only the
    content can tell; it does, at every splice point."""
    a_tar = decompressed(media.a.files[0])
    b_tar = decompressed(media.b_same_name.files[0])
    a_members = member_boundaries(a_tar)
    b_members = member_boundaries(b_tar)
    # From 2 on: the first member (bagit.txt) is the same in every backup.
    points = sorted({2, 4, len(a_members) // 2, len(a_members) - 3, len(a_members) - 1})
    for point in points:
        cut_a = a_members[point][1]
        cut_b = b_members[min(point, len(b_members) - 1)][1]
        spliced = recompress(a_tar[:cut_a] + b_tar[cut_b:])
        folder = tmp_path / f"splice{point}"
        path = place(folder, media.a.files[0], spliced, None if resigned else sidecar_of(media.a))
        if resigned:
            sign_sidecar(media.secret, path, media.a.bag, None)
        report = restore_fails_cleanly(media, path)
        content = errors(report) - SIDECAR_CODES
        assert content & {
            "FILE_DIGEST_MISMATCH",
            "FILE_MISSING",
            "FILE_UNEXPECTED",
            "BAG_CHECKSUM_MISMATCH",
            "MEMBER_DUPLICATE",
        }, (point, errors(report))
        if not resigned:
            assert "SIDECAR_SIGNATURE_INVALID" in errors(report)


# The command line says it in one line, without a traceback.


def test_cli_reports_a_truncated_backup_and_refuses_to_restore(
    media: Media, tmp_path: Path
) -> None:
    data = media.a.files[0].read_bytes()
    path = place(tmp_path / "medium", media.a.files[0], data[: len(data) // 2], None)
    shop_pub = tmp_path / "shop.pub"
    shop_pub.write_bytes(media.public.to_file_bytes())
    args = ("--key", shop_pub, "--trust", media.editor, "--years", "1")
    code, out, err = run_cli("verify", path, *args)
    assert code == 1, (out, err)
    assert "NOT PROVEN" in out and "CONTAINER_TRUNCATED" in out
    assert "Traceback" not in err
    code, out, err = run_cli("restore", path, tmp_path / "dest", *args)
    assert code == 1, (out, err)
    assert "NOT RESTORED" in out and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["medium", "shop.pub"]


def test_cli_proves_a_backup_whose_sidecar_is_missing_with_a_warning(
    media: Media, tmp_path: Path
) -> None:
    path = place(tmp_path, media.a.files[0], media.a.files[0].read_bytes(), None)
    shop_pub = tmp_path / "shop.pub"
    shop_pub.write_bytes(media.public.to_file_bytes())
    code, out, err = run_cli("verify", path, "--key", shop_pub, "--trust", media.editor)
    assert code == 0, (out, err)
    assert "PROVEN" in out and "warning SIDECAR_MISSING" in out
