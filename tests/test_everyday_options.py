"""Safer everyday options: ``--keep`` per dossier and kind, the space estimate measured on
generated samples, ``restore --force`` saying what happened to what was there."""

from __future__ import annotations

import datetime as dt

import backup_support as bs
import pytest

from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.pipeline.backup import estimate_size, select_files
from fiscalsafe.pipeline.check import walk_dossier

pytestmark = pytest.mark.usefixtures("one_worker")


def test_keep_one_never_removes_the_photos_backup(w, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    photos = bs.make_backup(w, w.dossier, usb, now=bs.NOW - dt.timedelta(days=7), kind="photos")
    older = bs.make_backup(w, w.dossier, usb, now=bs.NOW - dt.timedelta(days=1))
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--keep", "1",
    )  # fmt: skip
    assert r.code == 0, r
    assert photos.files[0].exists(), "the only copy of the photos was removed"
    assert not older.files[0].exists()
    assert f"--keep: removed older full backup of dossier MAG001: {older.files[0]}" in r.out
    assert f"{photos.files[0]}" not in r.out


def test_the_space_estimate_covers_the_archive_of_a_generated_sample(make_sample, tmp_path):
    """With 8 MB of bulk data and 20 tickets a day, the largest files compress far better
    than the signed archives: sampling only them predicted ~15 % too little."""
    sample = make_sample(seed=3, size=8 * 1024 * 1024, tickets_per_day=20, years=7)
    dossier = sample.dossiers[0]
    chosen, _ = select_files(walk_dossier(dossier, DEFAULT_PROFILE), "full")
    estimate = estimate_size(chosen, 3)
    from fiscalsafe import minisign
    from fiscalsafe.pipeline.backup import BackupOptions, backup_dossier

    usb = tmp_path / "usb"
    usb.mkdir()
    result = backup_dossier(
        dossier,
        usb,
        minisign.load_secret_key(sample.keys["shop_secret"], None),
        now=bs.NOW,
        profile=DEFAULT_PROFILE,
        opts=BackupOptions(years=1, allow_findings=True),
    )
    assert estimate >= result.archive_bytes * 1.03, (estimate, result.archive_bytes)
    assert estimate <= result.archive_bytes * 1.6, (estimate, result.archive_bytes)


def test_restore_force_says_what_happened_to_what_was_there(w, tmp_path):
    dest = tmp_path / "restored"
    (dest / "odeis").mkdir(parents=True)
    (dest / "odeis" / "OLD.fic").write_bytes(b"old")
    (dest / "notes.txt").write_text("mine")
    r = bs.restore_cli(w, w.archive, dest, "--force")
    assert r.code == 0, r
    assert (
        f"--force: {dest} already held 2 entries; replaced by the backup's, whole folders "
        "included: odeis (files in them that the backup does not hold are gone); kept as they "
        "were (not in the backup): notes.txt" in r.out
    )
    assert (dest / "notes.txt").read_text() == "mine"
    assert not (dest / "odeis" / "OLD.fic").exists()
