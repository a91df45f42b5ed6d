"""A folder is verified as what it is: an extracted fiscalsafe backup given with ``--key``
gets the whole verification (signed manifest, completeness, fiscal checks, coverage); a
plain BagIt folder given with ``--key`` is a usage error; every verdict names its checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import backup_support as bs
import pytest

from fiscalsafe.formats import bagit
from fiscalsafe.pipeline.verify_backup import verify_folder

pytestmark = pytest.mark.usefixtures("one_worker")


def extract(w, dest: Path) -> Path:
    """The good backup extracted (a folder's own modes and times are not judged)."""
    raw = bs.decompress_tar(w.backup.files)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        bs.extract_plain(tf, dest)
    return dest / w.backup.bag


def run(w, folder: Path, key=None):
    return verify_folder(
        folder,
        shop_key=key or w.public,
        trust=[w.editor],
        as_of=None,
        years=bs.YEARS,
        workers=1,
        now=bs.NOW,
    )


def rebag(folder: Path, relpath: str, data: bytes) -> None:
    """Change a payload file and make the bag consistent again (BagIt alone then passes)."""
    (folder / relpath).write_bytes(data)
    lines = (folder / "manifest-sha256.txt").read_text().splitlines()
    fixed = [
        f"{hashlib.sha256(data).hexdigest()}  {relpath}" if line.endswith(f"  {relpath}") else line
        for line in lines
    ]
    (folder / "manifest-sha256.txt").write_text("\n".join(fixed) + "\n")
    tags = []
    for line in (folder / "tagmanifest-sha256.txt").read_text().splitlines():
        path = line.split("  ", 1)[1]
        tags.append((path, hashlib.sha256((folder / path).read_bytes()).hexdigest()))
    (folder / "tagmanifest-sha256.txt").write_bytes(bagit.render_manifest(tags))


def test_an_extracted_backup_gets_the_full_verification(w, tmp_path):
    report = run(w, extract(w, tmp_path))
    assert report.ok, bs.describe(report)
    assert report.mode == "backup" and report.manifest is not None
    assert report.fiscal is not None and report.fiscal.coverage.complete
    assert report.checks == [
        "members", "bag", "manifest", "claims", "completeness", "fiscal", "coverage",
    ]  # fmt: skip


def test_a_folder_leaves_no_hashing_thread_behind(w, tmp_path):
    report = run(w, extract(w, tmp_path))
    assert report.ok
    assert not [t for t in threading.enumerate() if t.name == "fiscalsafe-hashes"]


def test_a_folder_given_as_dot_is_named_after_itself(w, tmp_path, monkeypatch):
    monkeypatch.chdir(extract(w, tmp_path))
    report = run(w, Path("."))
    assert report.ok, bs.describe(report)


def test_a_rebagged_change_to_an_extracted_backup_is_caught(w, tmp_path):
    folder = extract(w, tmp_path)
    rel = "data/jet/journal.jet"
    data = bytearray((folder / rel).read_bytes())
    data[len(data) // 2] ^= 1
    rebag(folder, rel, bytes(data))
    report = run(w, folder)
    digests = {f.file for f in report.findings if f.code == "FILE_DIGEST_MISMATCH"}
    assert rel in digests
    assert not [f for f in report.findings if f.code.startswith("BAG_")]


def test_an_extracted_backup_signed_by_another_key_is_refused(w, tmp_path):
    from fiscalsafe import minisign

    stranger = minisign.generate_keypair(seed=b"\x05" * 32).public_key()
    report = run(w, extract(w, tmp_path), key=stranger)
    assert "MANIFEST_UNTRUSTED_KEY" in bs.error_codes(report)
    assert report.fiscal is None


def test_a_link_in_an_extracted_backup_is_not_followed(w, tmp_path):
    folder = extract(w, tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(outside, folder / "data" / "link.txt")
    report = run(w, folder)
    (unsafe,) = [f for f in report.findings if f.code == "MEMBER_UNSAFE"]
    assert unsafe.file.endswith("data/link.txt") and "symlink" in unsafe.message


def test_cli_verifies_an_extracted_backup_with_its_key(w, tmp_path, monkeypatch):
    bs.freeze_clock(monkeypatch)
    folder = extract(w, tmp_path)
    args = ("verify", folder, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS)
    r = bs.invoke(*args, "--json")
    assert r.code == 0, r
    (rep,) = json.loads(r.out)["reports"]
    assert rep["mode"] == "backup" and rep["fiscal"]["coverage"]["complete"] is True
    assert rep["checks"][-2:] == ["fiscal", "coverage"]
    r = bs.invoke(*args)
    assert "checks: members, bag, signed manifest, names and claims" in r.out, r


def test_cli_needs_a_key_for_an_extracted_backup(w, tmp_path):
    r = bs.invoke("verify", extract(w, tmp_path))
    assert r.code == 2 and "is an extracted fiscalsafe backup" in r.err, r


def test_cli_refuses_a_key_for_a_plain_bag(w, tmp_path):
    folder = extract(w, tmp_path)
    for tag in ("fiscalsafe/manifest.json", "fiscalsafe/manifest.json.minisig"):
        (folder / tag).unlink()
    (folder / "tagmanifest-sha256.txt").unlink()
    r = bs.invoke("verify", folder, "--key", w.shop_pub)
    assert r.code == 2, r
    assert "plain BagIt bag" in r.err and "--key cannot apply" in r.err
    r = bs.invoke("verify", folder)
    assert r.code == 0, r
    assert "checks: bag (BagIt checks only)" in r.out
