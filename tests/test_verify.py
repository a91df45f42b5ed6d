"""``fiscalsafe verify``: authenticity by the shop key, coverage computed from the
content as of the backup's signed creation time, media folders, split sets, plain BagIt
bags, and where keys come from.

Hostile containers (truncation, unsafe members, flipped bytes everywhere) are covered by
the damage tests; here each test names one property of a verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tarfile
from pathlib import Path

import backup_support as bs
import bagit
import pytest

from fiscalsafe import minisign
from fiscalsafe.pipeline import backup_tags
from fiscalsafe.pipeline.contents import list_archive
from fiscalsafe.pipeline.verify_backup import discover

OTHER_SEED = bytes(range(100, 132))


pytestmark = pytest.mark.usefixtures("one_worker")


def report_codes(doc: dict) -> set[str]:
    return {f["code"] for r in doc["reports"] for f in r["findings"]}


# --- authenticity ---------------------------------------------------------------------


def test_right_key_proves_the_backup_json(w):
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--json",
    )  # fmt: skip
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["verdict"] == "proven"
    (rep,) = doc["reports"]
    assert rep["mode"] == "backup" and rep["verdict"] == "proven"
    assert rep["shop_key"] == w.public.fingerprint
    assert rep["counts"]["error"] == 0 and rep["findings"] == []
    assert rep["backup"]["kind"] == "full" and rep["backup"]["dossier"]["id"] == "MAG001"
    assert rep["fiscal"]["coverage"]["complete"] is True
    assert rep["fiscal"]["trust"]["self_asserted"] is False
    assert rep["version"] == [1, 2]
    # The journal head verified from the streamed bytes is the one the backup recorded.
    manifest_check = list_archive(w.archive)["manifest"]["check"]
    assert rep["fiscal"]["journal_head"] == manifest_check["journal_head"] is not None
    assert rep["files"][0]["sha256"] == w.backup.sha256[0]


@pytest.fixture(scope="module")
def foreign_backup(tmp_path_factory):
    """An intact backup of the same dossier, signed by another shop's key."""
    w = bs.world(tmp_path_factory)
    other = minisign.generate_keypair(seed=OTHER_SEED)
    dest = tmp_path_factory.mktemp("foreign")
    with bs.single_worker():
        result = bs.make_backup(w, w.dossier, dest, secret=other)
    pub = dest.parent / "other.pub"
    pub.write_bytes(other.public_key().to_file_bytes())
    return result, other.public_key(), pub


def test_backup_signed_by_another_shop_key_fails(w, foreign_backup):
    result, other_public, _ = foreign_backup
    report = bs.verify(w, result)  # with the sample shop's key
    assert not report.ok
    assert {"MANIFEST_UNTRUSTED_KEY", "SIDECAR_SIGNATURE_INVALID"} <= bs.error_codes(report)
    # The backup itself is intact: with the key that made it, it is proven.
    bs.assert_proven(w, result, key=other_public)


def test_backup_signed_by_another_shop_key_fails_on_the_command_line(w, foreign_backup):
    result, _, other_pub = foreign_backup
    r = bs.invoke(
        "verify", result.files[0], "--key", w.shop_pub, "--trust", w.editor, "--years", "1",
        "--json",
    )  # fmt: skip
    assert r.code == 1, r
    doc = json.loads(r.out)
    assert doc["verdict"] == "findings"
    assert {"MANIFEST_UNTRUSTED_KEY", "SIDECAR_SIGNATURE_INVALID"} <= report_codes(doc)
    text = bs.invoke("verify", result.files[0], "--key", w.shop_pub, "--years", "1")
    assert text.code == 1 and text.out.startswith("NOT PROVEN"), text
    assert "MANIFEST_UNTRUSTED_KEY" in text.out
    ok = bs.invoke(
        "verify", result.files[0], "--key", other_pub, "--trust", w.editor, "--years", "1"
    )
    assert ok.code == 0, ok


def test_the_journal_is_checked_alongside_the_archives_not_after_them(w, monkeypatch):
    # A backup stores the journal before the archives: handed to the checker as soon as
    # it streams by, it does not run alone on one core once the archives are done.
    from fiscalsafe.pipeline.fiscal import FiscalChecker

    order: list[str] = []
    add_archive, add_journal = FiscalChecker.add_archive, FiscalChecker.add_journal

    def archive(self, name, source):
        order.append("archive")
        return add_archive(self, name, source)

    def journal(self, *args):
        order.append("journal")
        return add_journal(self, *args)

    monkeypatch.setattr(FiscalChecker, "add_archive", archive)
    monkeypatch.setattr(FiscalChecker, "add_journal", journal)
    report = bs.verify(w, w.backup)
    assert report.ok, report.findings
    assert order.count("journal") == 1 and order.count("archive") > 1
    assert order[0] == "journal", order


def test_a_fiscalsafe_backup_needs_a_key(w):
    r = bs.invoke("verify", w.archive, "--years", bs.YEARS)
    assert r.code == 2, r
    assert "--key" in r.err


def make_trust_dir(root: Path, shop_pub: Path, editor: Path | None) -> Path:
    (root / "shop").mkdir(parents=True)
    shutil.copy(shop_pub, root / "shop" / "shop.pub")
    if editor is not None:
        (root / "editor").mkdir()
        shutil.copy(editor, root / "editor" / "editor.pub")
    return root


def test_trust_directory_supplies_shop_and_editor_keys(w, tmp_path):
    trust = make_trust_dir(tmp_path / "trust", w.shop_pub, w.editor)
    r = bs.invoke("verify", w.archive, "--years", bs.YEARS, "--json", trust_dir=trust)
    assert r.code == 0, r
    (rep,) = json.loads(r.out)["reports"]
    assert rep["shop_key"] == w.public.fingerprint
    assert rep["fiscal"]["trust"]["self_asserted"] is False
    # Without an editor key anywhere, trust falls back to the key inside: said so, and
    # the verdict is only "consistent" (exit 1), never proven.
    bare = make_trust_dir(tmp_path / "bare", w.shop_pub, None)
    r = bs.invoke("verify", w.archive, "--years", bs.YEARS, "--json", trust_dir=bare)
    assert r.code == 1, r
    (rep,) = json.loads(r.out)["reports"]
    assert rep["verdict"] == "consistent" and rep["counts"]["error"] == 0
    assert rep["fiscal"]["trust"]["self_asserted"] is True
    assert "KEY_SELF_ASSERTED" in {f["code"] for f in rep["findings"]}


def test_trust_directory_with_another_shop_key_fails(w, foreign_backup, tmp_path):
    _, _, other_pub = foreign_backup
    trust = make_trust_dir(tmp_path / "trust", other_pub, w.editor)
    r = bs.invoke("verify", w.archive, "--years", bs.YEARS, "--json", trust_dir=trust)
    assert r.code == 1, r
    assert "MANIFEST_UNTRUSTED_KEY" in report_codes(json.loads(r.out))


# --- coverage: from the content, as of the signed creation time --------------------------


def test_as_of_defaults_to_the_backup_signed_creation_time(w, monkeypatch):
    bs.freeze_clock(monkeypatch, dt.datetime(2029, 3, 1, 8, tzinfo=dt.UTC))  # verified later
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--json",
    )  # fmt: skip
    assert r.code == 0, r
    fiscal = json.loads(r.out)["reports"][0]["fiscal"]
    assert fiscal["as_of"].startswith("2026-11-27T12:00:00")
    assert fiscal["coverage"]["required"] == ["2025-11-27", "2026-11-27"]
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--json", "--as-of", "2027-02-01",
    )  # fmt: skip
    fiscal = json.loads(r.out)["reports"][0]["fiscal"]
    assert fiscal["coverage"]["required"] == ["2026-02-01", "2027-02-01"]


def test_coverage_is_computed_from_the_content_not_the_manifest_claims(w, tmp_path, monkeypatch):
    mine = bs.copy_root(w, tmp_path / "root")
    archives = sorted((mine.dossiers[0] / "archives").glob("*.fsa"))
    archives[-4].unlink()
    # The manifest claims a clean check and full coverage (borrowed from the good backup).
    honest_claims = list_archive(w.archive)["manifest"]["check"]
    monkeypatch.setattr(backup_tags, "_check_summary", lambda report, locks: honest_claims)
    usb = tmp_path / "usb"
    usb.mkdir()
    result = bs.make_backup(w, mine.dossiers[0], usb, allow_findings=True)
    claimed = list_archive(result.files[0])["manifest"]["check"]
    assert claimed["verdict"] == "proven" and claimed["coverage"]["complete"] is True
    report = bs.verify(w, result)
    assert not report.ok
    assert "COVERAGE_GAP" in bs.error_codes(report)
    assert report.fiscal.coverage.gaps, "the gap is computed from the archives inside"
    assert not {"MANIFEST_SIGNATURE_INVALID", "SIDECAR_SIGNATURE_INVALID"} & bs.codes(report)


# --- a medium folder -------------------------------------------------------------------


def test_a_medium_with_two_backups_gets_one_line_each_and_a_summary(w, tmp_path_factory):
    medium = bs.two_backup_medium(w, tmp_path_factory)
    r = bs.invoke("verify", medium, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    verdicts = [line for line in r.out.splitlines() if line.startswith(("PROVEN", "NOT PROVEN"))]
    assert len(verdicts) == 2
    assert any("MAG001_2026-11-27_full.tar.zst" in v and "full backup" in v for v in verdicts)
    assert any("MAG002_2026-11-27_no-index.tar.zst" in v and "no-index" in v for v in verdicts)
    assert all(v.startswith("PROVEN") for v in verdicts)
    assert r.out.rstrip().endswith("2 of 2 proven")


def test_a_medium_gives_back_what_each_backup_freed_before_the_next(
    w, tmp_path_factory, monkeypatch
):
    """Each backup's threads leave freed memory in the C library's arenas; kept, it added
    up over a medium of seven. It is handed back to the system after each backup."""
    from fiscalsafe import oscompat

    medium = bs.two_backup_medium(w, tmp_path_factory)
    released: list[bool] = []
    real = oscompat.release_free_memory
    monkeypatch.setattr(oscompat, "release_free_memory", lambda: released.append(real()))
    r = bs.invoke("verify", medium, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    assert len(released) == 2


def test_a_medium_with_one_damaged_backup_says_which(w, tmp_path_factory, tmp_path):
    medium = bs.two_backup_medium(w, tmp_path_factory)
    copy = tmp_path / "medium"
    shutil.copytree(medium, copy)
    damaged = copy / "MAG002_2026-11-27_no-index.tar.zst"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    r = bs.invoke("verify", copy, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 1, r
    lines = r.out.splitlines()
    assert any(line.startswith("NOT PROVEN MAG002_2026-11-27_no-index") for line in lines)
    assert any(line.startswith("PROVEN MAG001_2026-11-27_full") for line in lines)
    assert "1 of 2 proven" in r.out


# --- split sets -------------------------------------------------------------------------


@pytest.fixture
def split_copy(w, tmp_path_factory, tmp_path):
    split = bs.split_set(w, tmp_path_factory)
    assert split.parts >= 3
    parts = bs.copy_files(bs.backup_paths(split), tmp_path / "usb")
    return [p for p in parts if not p.name.endswith(".minisig")]


def verify_from_one_part(w, part: Path):
    (files,) = discover([part])
    return bs.verify(w, files)


def test_one_part_finds_and_proves_the_whole_set(w, split_copy):
    (files,) = discover([split_copy[1]])
    assert files == split_copy
    bs.assert_proven(w, files)


def test_a_missing_part_is_reported(w, split_copy):
    split_copy[1].unlink()
    Path(str(split_copy[1]) + ".minisig").unlink()
    report = verify_from_one_part(w, split_copy[0])
    assert "PART_MISSING" in bs.error_codes(report), bs.describe(report)
    split_copy[-1].unlink()  # the last part too: the set still knows its size
    report = verify_from_one_part(w, split_copy[0])
    assert "PART_MISSING" in bs.error_codes(report), bs.describe(report)


def test_an_extra_part_from_another_backup_is_reported(w, split_copy, tmp_path):
    other_dest = tmp_path / "other"
    other_dest.mkdir()
    other = bs.make_backup(
        w, w.dossier, other_dest, now=bs.NOW + dt.timedelta(hours=1), split_size=60 * 1024
    )
    bs.assert_proven(w, other)
    n = len(split_copy)
    assert other.parts > n
    stray = other.files[n]  # same file name as this set's next part would have
    assert stray.name == split_copy[0].name[:-3] + f"{n + 1:03d}"
    bs.copy_files([stray, Path(str(stray) + ".minisig")], split_copy[0].parent)
    report = verify_from_one_part(w, split_copy[0])
    assert len(report.files) == n + 1
    assert "PART_EXTRA" in bs.error_codes(report), bs.describe(report)


def test_reordered_parts_are_reported(w, split_copy):
    a, b = split_copy[0], split_copy[1]
    tmp = a.with_name("swap")
    for suffix in ("", ".minisig"):
        pa, pb, pt = (Path(str(p) + suffix) for p in (a, b, tmp))
        os.rename(pa, pt)
        os.rename(pb, pa)
        os.rename(pt, pb)
    report = verify_from_one_part(w, split_copy[0])
    assert "PART_ORDER" in bs.error_codes(report), bs.describe(report)
    r = bs.invoke("verify", split_copy[0], "--key", w.shop_pub, "--years", "1", "--json")
    assert r.code == 1, r
    assert "PART_ORDER" in report_codes(json.loads(r.out))


# --- plain BagIt bags, no key ------------------------------------------------------------


@pytest.fixture
def plain_bag(tmp_path):
    bag_dir = tmp_path / "bag"
    (bag_dir / "sub").mkdir(parents=True)
    (bag_dir / "ticket.txt").write_bytes(b"Z-ticket 2026-11-27 caisse 1\n" * 20)
    (bag_dir / "sub" / "photo.jpg").write_bytes(bytes(range(256)) * 8)
    bagit.make_bag(str(bag_dir), {"Source-Organization": "Boutique Rivoli"}, checksums=["sha256"])
    return bag_dir


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_plain_bagit_directory_is_validated_without_a_key(plain_bag):
    r = bs.invoke("verify", plain_bag, "--json")
    assert r.code == 0, r
    (rep,) = json.loads(r.out)["reports"]
    assert rep["mode"] == "bag" and rep["verdict"] == "valid"
    flip_byte(plain_bag / "data" / "ticket.txt", 3)
    r = bs.invoke("verify", plain_bag, "--json")
    assert r.code == 1, r
    assert "BAG_CHECKSUM_MISMATCH" in report_codes(json.loads(r.out))


def test_a_plain_uncompressed_tar_bag_is_validated_without_a_key(plain_bag, tmp_path):
    tar_path = tmp_path / "bag.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(plain_bag, arcname="bag")
    r = bs.invoke("verify", tar_path)
    assert r.code == 0, r
    assert r.out.startswith("VALID BAG bag.tar (BagIt only")
    # Flip one byte of a payload file inside the tar.
    with tarfile.open(tar_path) as tf:
        member = tf.getmember("bag/data/ticket.txt")
    flip_byte(tar_path, member.offset_data + 5)
    r = bs.invoke("verify", tar_path, "--json")
    assert r.code == 1, r
    assert "BAG_CHECKSUM_MISMATCH" in report_codes(json.loads(r.out))
