"""``fiscalsafe restore``: verified while extracting, byte-identical with modes and
nanosecond times, never into a non-empty folder unless asked, and a failed restore leaves
nothing that looks like a good one.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import backup_support as bs
import pytest
import zstandard

from fiscalsafe.pipeline.contents import list_archive

#: Modes and nanosecond modification times the copies of the sample are given.
ODD_MODES = {"odeis/VENTE.fic": 0o600, "transferts/envoi/TRF00000.trf": 0o640}
ODD_MTIMES = {
    "odeis/CLIENT.fic": 1_795_737_600_123_456_789,
    "jet/journal.head": 1_795_737_599_999_999_999,
    "ycar/VEHICULE.mmo": 1_500_000_000_000_000_001,
}


pytestmark = pytest.mark.usefixtures("one_worker")


def backed_up_tree(source: Path, archive: Path) -> dict[str, tuple]:
    """The source tree restricted to the files the backup's manifest lists."""
    listed = {f["path"] for f in list_archive(archive)["files"]}
    return {k: v for k, v in bs.tree(source).items() if k in listed}


@pytest.fixture
def odd_backup(w, tmp_path):
    """A backup of a copy of MAG001 with unusual modes and sub-second mtimes."""
    mine = bs.copy_root(w, tmp_path / "root")
    dossier = mine.dossiers[0]
    for rel, mode in ODD_MODES.items():
        os.chmod(dossier / rel, mode)
    for rel, ns in ODD_MTIMES.items():
        os.utime(dossier / rel, ns=(ns, ns))
    usb = tmp_path / "usb"
    usb.mkdir()
    result = bs.make_backup(w, dossier, usb)
    return dossier, result


def test_restore_is_byte_identical_with_modes_and_nanosecond_times(w, odd_backup, tmp_path):
    dossier, result = odd_backup
    dest = tmp_path / "restored"
    r = bs.restore_cli(w, result.files[0], dest)
    assert r.code == 0, r
    assert "RESTORED" in r.out
    expected = backed_up_tree(dossier, result.files[0])
    got = bs.tree(dest)
    assert set(got) == set(expected)
    for rel in expected:
        assert got[rel] == expected[rel], rel
    assert got["odeis/VENTE.fic"][2] == 0o600
    assert got["odeis/CLIENT.fic"][3] == ODD_MTIMES["odeis/CLIENT.fic"]
    assert not (tmp_path / ".restored.fiscalsafe-partial").exists()
    bs.assert_proven(w, result)


def test_restore_json_output(w, tmp_path):
    r = bs.restore_cli(w, w.archive, tmp_path / "r", "--json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["restored"] is True and doc["rebuild_indexes"] == []
    assert doc["files"] == w.backup.payload_files
    assert doc["report"]["verdict"] == "proven"


def test_restore_refuses_a_non_empty_folder_unless_forced(w, tmp_path):
    dest = tmp_path / "restored"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    r = bs.invoke(
        "restore", w.archive, dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS
    )
    assert r.code == 2, r
    assert "not empty" in r.err
    assert bs.entries(dest) == {"notes.txt"}
    assert bs.entries(tmp_path) == {"restored"}
    r = bs.restore_cli(w, w.archive, dest, "--force")
    assert r.code == 0, r
    assert (dest / "notes.txt").read_text() == "mine\n"
    got = bs.tree(dest)
    del got["notes.txt"]
    assert got == backed_up_tree(w.dossier, w.archive)


def test_restore_into_an_existing_empty_folder(w, tmp_path):
    dest = tmp_path / "restored"
    dest.mkdir()
    r = bs.invoke(
        "restore", w.archive, dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS
    )
    assert r.code == 0, r
    assert bs.tree(dest) == backed_up_tree(w.dossier, w.archive)


def tampered_copy(archive: Path, dest_dir: Path, member_suffix: str) -> Path:
    """The archive with one byte of a payload member flipped, recompressed, its original
    sidecar beside it (nothing re-signed)."""
    raw = bytearray(bs.decompress_tar([archive]))
    with tarfile.open(fileobj=io.BytesIO(bytes(raw)), mode="r:") as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith(member_suffix))
    raw[member.offset_data + member.size // 2] ^= 0x20
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / archive.name
    out.write_bytes(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(bytes(raw)))
    (dest_dir / (archive.name + ".minisig")).write_bytes(
        Path(str(archive) + ".minisig").read_bytes()
    )
    return out


def test_restore_of_a_tampered_backup_leaves_no_folder(w, tmp_path):
    bad = tampered_copy(w.archive, tmp_path / "usb", "/data/odeis/VENTE.fic")
    work = tmp_path / "work"
    work.mkdir()
    dest = work / "restored"
    r = bs.invoke(
        "restore", bad, dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS
    )
    assert r.code == 1, r
    assert "NOT RESTORED" in r.out
    assert "FILE_DIGEST_MISMATCH" in r.out
    assert bs.entries(work) == set(), "a destination or staging folder was left behind"
    report = bs.verify(w, [bad])
    assert {"FILE_DIGEST_MISMATCH", "BAG_CHECKSUM_MISMATCH", "SIDECAR_SIGNATURE_INVALID"} <= (
        bs.error_codes(report)
    )


def test_failed_restore_into_an_empty_folder_leaves_it_empty(w, tmp_path):
    bad = tampered_copy(w.archive, tmp_path / "usb", "/data/jet/journal.jet")
    dest = tmp_path / "restored"
    dest.mkdir()
    r = bs.invoke(
        "restore", bad, dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS
    )
    assert r.code == 1, r
    assert bs.entries(dest) == set()
    assert bs.entries(tmp_path) == {"usb", "restored"}


def test_restore_with_another_shop_key_restores_nothing(w, tmp_path):
    other = tmp_path / "other.pub"
    from fiscalsafe import minisign

    other.write_bytes(minisign.generate_keypair(seed=b"\1" * 32).public_key().to_file_bytes())
    r = bs.invoke("restore", w.archive, tmp_path / "r", "--key", other, "--years", bs.YEARS)
    assert r.code == 1, r
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / ".r.fiscalsafe-partial").exists()


def test_restore_needs_a_key(w, tmp_path):
    r = bs.invoke("restore", w.archive, tmp_path / "r")
    assert r.code == 2, r
    assert "--key" in r.err
    assert not (tmp_path / "r").exists()


def test_restore_of_a_split_set_from_any_part(w, tmp_path_factory, tmp_path):
    split = bs.split_set(w, tmp_path_factory)
    dest = tmp_path / "restored"
    r = bs.restore_cli(w, split.files[-1], dest)
    assert r.code == 0, r
    assert bs.tree(dest) == backed_up_tree(w.dossier, split.files[0])
    bs.assert_proven(w, split)
