"""``fiscalsafe backup``: kinds, pre-flight refusals, one streaming pass, never
losing a backup, rotation, split parts and portable names.

Every backup a test makes ends verified (restic's habit). Refusals are checked "before a
byte is written": the destination folder, hidden partial files included, stays as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import backup_support as bs
import bagit
import pytest

from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.pipeline import backup as backup_module
from fiscalsafe.pipeline import backup_payload, media
from fiscalsafe.pipeline.backup import ChangedDuringBackup, FindingsRefusal, RefusedError
from fiscalsafe.pipeline.contents import list_archive
from fiscalsafe.pipeline.restore import restore_backup
from fiscalsafe.pipeline.sink import OutputSink
from fiscalsafe.samples.sample import write_sample

pytestmark = pytest.mark.usefixtures("one_worker")


def manifest_of(result) -> dict:
    return list_archive(result.files[0])["manifest"]


# --- kinds ---------------------------------------------------------------------------


def test_full_backup_writes_one_archive_and_its_sidecar(w):
    result = w.backup
    assert bs.entries(w.backup_dir) == {
        "MAG001_2026-11-27_full.tar.zst",
        "MAG001_2026-11-27_full.tar.zst.minisig",
    }
    assert result.parts == 1 and result.files == [w.backup_dir / "MAG001_2026-11-27_full.tar.zst"]
    assert result.archive_bytes == w.archive.stat().st_size
    assert result.check_verdict == "proven" and not result.findings_recorded
    doc = list_archive(w.archive)
    categories = {f["category"] for f in doc["files"]}
    assert "photo" not in categories and "lock" not in categories
    assert {"identity", "journal", "fiscal-archive", "database-index"} <= categories
    reasons = {o["reason"] for o in doc["manifest"]["omitted"]}
    assert reasons == {"photos-excluded", "temporary"}
    # The source dossier is never modified.
    assert bs.tree(w.dossier) == w.source_tree_before
    bs.assert_proven(w, result)


def test_full_backup_holds_a_bagit_bag_the_reference_validator_accepts(w, tmp_path):
    members = bs.tar_members(w.backup.files)
    bag = "MAG001_2026-11-27_full"
    for tag in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        assert f"{bag}/{tag}" in members
    assert f"{bag}/data/jet/journal.jet" in members
    raw = bs.decompress_tar(w.backup.files)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        bs.extract_plain(tf, tmp_path)
        info = tf.extractfile(f"{bag}/bag-info.txt").read().decode()
    assert "Payload-Oxum: " in info and "Bagging-Date: 2026-11-27" in info
    assert "External-Identifier: MAG001" in info
    bagit.Bag(str(tmp_path / bag)).validate()


def test_no_index_backup_lists_indexes_as_omitted_and_restore_names_them(w, usb, tmp_path):
    result = bs.make_backup(w, w.dossier, usb, kind="no-index")
    assert result.files[0].name == "MAG001_2026-11-27_no-index.tar.zst"
    m = manifest_of(result)
    indexes = sorted(p for p in bs.tree(w.dossier) if p.endswith(".ndx"))
    assert indexes, "the sample must have index files"
    omitted = {o["path"]: o["reason"] for o in m["omitted"]}
    assert {p for p, r in omitted.items() if r == "no-index"} == set(indexes)
    listed = {f["path"] for f in list_archive(result.files[0])["files"]}
    assert not listed & set(indexes)
    bs.assert_proven(w, result)  # completeness still proven: the indexes are accounted for
    restored = restore_backup(
        result.files,
        tmp_path / "restored",
        shop_key=w.public,
        trust=[w.editor],
        as_of=None,
        years=bs.YEARS,
    )
    assert restored.restored
    assert sorted(restored.rebuild_indexes) == indexes
    assert not any(p.endswith(".ndx") for p in bs.tree(tmp_path / "restored"))


def test_cli_restore_of_no_index_backup_tells_which_indexes_to_rebuild(w, usb, tmp_path):
    result = bs.make_backup(w, w.dossier, usb, kind="no-index")
    bs.assert_proven(w, result)
    r = bs.restore_cli(w, result.files[0], tmp_path / "r")
    assert r.code == 0, r
    assert "rebuild" in r.out and "odeis/VENTE.ndx" in r.out


def test_photos_backup_holds_only_photos_and_verify_skips_the_fiscal_check(w, usb):
    result = bs.make_backup(w, w.dossier, usb, kind="photos")
    files = list_archive(result.files[0])["files"]
    photos = sorted(p for p in bs.tree(w.dossier) if p.startswith("photos/"))
    assert sorted(f["path"] for f in files) == photos
    assert {f["category"] for f in files} == {"photo"}
    report = bs.assert_proven(w, result)
    assert report.fiscal is None


def test_unknown_kind_is_a_usage_error(w, usb):
    with pytest.raises(UsageError):
        bs.make_backup(w, w.dossier, usb, kind="everything")
    assert bs.entries(usb) == set()


def test_all_backs_up_every_dossier_into_its_own_archive(w, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    r = bs.invoke(
        "backup", w.sample.root / "dossiers", "--all", "--to", usb, "--key", w.shop_key,
        "--trust", w.editor, "--years", bs.YEARS, "--json",
    )  # fmt: skip
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert [b["dossier"] for b in doc["backups"]] == ["MAG001", "MAG002"]
    assert doc["failures"] == []
    assert {p for p in bs.entries(usb) if p.endswith(".tar.zst")} == {
        "MAG001_2026-11-27_full.tar.zst",
        "MAG002_2026-11-27_full.tar.zst",
    }
    v = bs.invoke("verify", usb, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS)
    assert v.code == 0, v
    assert "2 of 2 proven" in v.out


def test_name_option_sets_the_file_name_made_portable(w, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--name", 'caisse: "soir"?',
    )  # fmt: skip
    assert r.code == 0, r
    assert "BACKED UP" in r.out
    assert bs.entries(usb) == {"caisse-soir.tar.zst", "caisse-soir.tar.zst.minisig"}
    bs.assert_proven(w, [usb / "caisse-soir.tar.zst"])


def test_reserved_windows_name_is_prefixed(w, usb):
    result = bs.make_backup(w, w.dossier, usb, name="CON")
    assert result.files[0].name == "_CON.tar.zst"
    bs.assert_proven(w, result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a:b*c?d"e<f>g|h', "a-b-c-d-e-f-g-h"),
        ("CON", "_CON"),
        ("nul", "_nul"),
        ("COM1", "_COM1"),
        ("lpt9.tar", "_lpt9.tar"),
        ("CONSOLE", "CONSOLE"),
        ("dossier\\sous/dossier", "dossier-sous-dossier"),
        ("  .. ", "backup"),
    ],
)
def test_portable_name_is_valid_on_windows(text, expected):
    name = media.portable_name(text)
    assert name == expected
    assert not set(name) & set(':*?"<>|\\/')
    assert not name.endswith((".", " "))


def test_two_dossiers_differing_only_by_case_are_refused_under_all(w, tmp_path, usb):
    root = tmp_path / "dossiers"
    root.mkdir()
    shutil.copytree(w.dossier, root / "MAG001")
    shutil.copytree(w.dossier, root / "mag001")
    r = bs.invoke("backup", root, "--all", "--to", usb, "--key", w.shop_key)
    assert r.code == 2, r
    assert "case" in r.err
    assert bs.entries(usb) == set()


def test_two_folders_holding_the_same_dossier_id_are_refused_under_all(w, tmp_path, usb):
    """Both would be named MAG001_<date>_full: the second would silently replace the first."""
    root = tmp_path / "dossiers"
    root.mkdir()
    shutil.copytree(w.dossier, root / "caisse-1")
    shutil.copytree(w.dossier, root / "copie")
    r = bs.invoke("backup", root, "--all", "--to", usb, "--key", w.shop_key)
    assert r.code == 2, r
    assert "same file name" in r.err and "caisse-1" in r.err
    assert bs.entries(usb) == set()


# --- pre-flight refusals, before a byte is written -------------------------------------


@pytest.fixture(scope="module")
def open_sample(tmp_path_factory):
    """The small sample written as if the application were open (lock files present)."""
    return write_sample(tmp_path_factory.mktemp("open") / "root", **bs.SMALL_OPTIONS, open_app=True)


def test_open_application_is_refused_naming_the_workstations(w, open_sample, usb):
    dossier = open_sample.dossiers[0]
    r = bs.invoke("backup", dossier, "--to", usb, "--key", w.shop_key, "--years", bs.YEARS)
    assert r.code == 3, r
    assert "POSTE-01" in r.err and "POSTE-02" in r.err
    assert "--force" in r.err
    assert bs.entries(usb) == set()


def test_force_backs_up_an_open_dossier_and_verify_warns(w, open_sample, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    dossier = open_sample.dossiers[0]
    before = bs.tree(dossier)
    r = bs.invoke(
        "backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--force",
    )  # fmt: skip
    assert r.code == 0, r
    assert "--force" in r.out
    archive = usb / "MAG001_2026-11-27_full.tar.zst"
    m = list_archive(archive)["manifest"]
    assert m["forced"] is True
    assert any("POSTE-01" in lock for lock in m["check"]["locks"])
    assert {o["reason"] for o in m["omitted"]} >= {"lock"}
    assert bs.tree(dossier) == before
    report = bs.assert_proven(w, [archive])  # proven, but flagged
    assert "BACKUP_FORCED" in bs.codes(report)
    v = bs.invoke("verify", archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert v.code == 0, v
    assert "BACKUP_FORCED" in v.out


def test_not_enough_space_is_refused_with_needed_and_available(w, usb, monkeypatch):
    monkeypatch.setattr(media, "free_bytes", lambda path: 5000)
    with pytest.raises(RefusedError, match=r"needs about .* 5\.0\xa0kB available"):
        bs.make_backup(w, w.dossier, usb)
    assert bs.entries(usb) == set()
    r = bs.invoke("backup", w.dossier, "--to", usb, "--key", w.shop_key, "--years", bs.YEARS)
    assert r.code == 3, r
    assert "not enough space" in r.err and "available" in r.err
    assert bs.entries(usb) == set()


def remove_middle_archive(dossier) -> str:
    archives = sorted((dossier / "archives").glob("*.fsa"))
    victim = archives[-4]  # within the last year: a gap in the required coverage
    victim.unlink()
    return victim.name


def test_fiscal_findings_refuse_the_backup(w, mine, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    dossier = mine.dossiers[0]
    remove_middle_archive(dossier)
    with pytest.raises(FindingsRefusal) as caught:
        bs.make_backup(w, dossier, usb)
    assert not caught.value.report.ok
    assert bs.entries(usb) == set()
    r = bs.invoke(
        "backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS,
    )  # fmt: skip
    assert r.code == 1, r
    assert "REFUSED" in r.err and "--allow-findings" in r.err
    assert bs.entries(usb) == set()


def test_a_failed_check_stops_the_packaging_as_soon_as_it_is_known(w, mine, usb, monkeypatch):
    # The check runs in worker processes while the dossier is packaged: once it has failed,
    # the packaging stops (a USB stick need not be written for nothing) and leaves nothing.
    bs.freeze_clock(monkeypatch)
    dossier = mine.dossiers[0]
    remove_middle_archive(dossier)
    monkeypatch.setattr(backup_payload, "CHUNK", 1024)  # many chunks, many polls
    started: list = []
    real_start = backup_module.start_check

    def start_check(*args, **kwargs):
        started.append(real_start(*args, workers=2, **kwargs))
        return started[-1]

    monkeypatch.setattr(backup_module, "start_check", start_check)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        if not seen:  # hold the packaging until the workers have finished the check
            deadline = time.monotonic() + 60
            while not started[0].done() and time.monotonic() < deadline:
                time.sleep(0.01)
        seen.append((done, total))

    with pytest.raises(FindingsRefusal) as caught:
        bs.make_backup(w, dossier, usb, progress=progress)
    assert "ARCHIVE_NUMBER_GAP" in {f.code for f in caught.value.report.findings}
    done, total = seen[-1]
    assert done < total / 2, (done, total)
    assert bs.entries(usb) == set()


@pytest.mark.parametrize("split", [None, bs.SPLIT_SIZE])
def test_backup_overlapping_a_slow_check_reads_back_early_and_verifies(w, usb, split, monkeypatch):
    # The workers still verifying when the payload is written: the backup reads back what
    # is on the medium while it waits for the verdict, then finishes the read-back.
    monkeypatch.setattr(backup_module.PendingCheck, "done", lambda self: False)
    early: list[int] = []
    real = backup_module.OutputSink.read_back_written

    def read_back_written(self):
        real(self)
        early.append(sum(p._read for p in self.parts))

    monkeypatch.setattr(backup_module.OutputSink, "read_back_written", read_back_written)
    result = bs.make_backup(w, w.dossier, usb, split_size=split)
    assert early and 0 < early[0] < result.archive_bytes
    assert result.check_verdict == "proven"
    assert bs.verify(w, result).ok
    for path, digest in zip(result.files, result.sha256, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_allow_findings_records_them_in_the_signed_manifest_and_says_so(w, mine, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    dossier = mine.dossiers[0]
    remove_middle_archive(dossier)
    r = bs.invoke(
        "backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--allow-findings",
    )  # fmt: skip
    assert r.code == 0, r
    assert "WARNING" in r.err and "fiscal findings" in r.err
    assert "BACKED UP WITH FINDINGS" in r.out
    archive = usb / "MAG001_2026-11-27_full.tar.zst"
    check = list_archive(archive)["manifest"]["check"]
    assert check["verdict"] == "findings" and check["counts"]["error"] > 0
    recorded = {f["code"] for f in check["findings"]}
    assert {"ARCHIVE_NUMBER_GAP", "COVERAGE_GAP"} <= recorded
    report = bs.verify(w, [archive])  # the manifest is authentic; the content is not proven
    assert {"BACKUP_WITH_FINDINGS", "COVERAGE_GAP", "ARCHIVE_NUMBER_GAP"} <= bs.codes(report)
    assert not report.ok
    assert not {"MANIFEST_SIGNATURE_INVALID", "SIDECAR_SIGNATURE_INVALID"} & bs.codes(report)


def test_allow_findings_json_reports_them(w, mine, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    dossier = mine.dossiers[0]
    remove_middle_archive(dossier)
    r = bs.invoke(
        "backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--allow-findings", "--json",
    )  # fmt: skip
    assert r.code == 0, r
    (b,) = json.loads(r.out)["backups"]
    assert b["findings_recorded"] is True and b["check"]["verdict"] == "findings"
    report = bs.verify(w, [Path(b["files"][0])])
    assert "BACKUP_WITH_FINDINGS" in bs.codes(report)


# --- one streaming pass ----------------------------------------------------------------


def test_a_file_modified_before_its_turn_fails_the_backup(w, mine, usb):
    dossier = mine.dossiers[0]
    later = dossier / "ycar" / "VEHICULE.fic"  # copied after the fiscal files

    def touch_later_file(done, total):
        st = later.stat()
        os.utime(later, ns=(st.st_atime_ns, st.st_mtime_ns + 1))

    with pytest.raises(ChangedDuringBackup, match="VEHICULE.fic changed"):
        bs.make_backup(w, dossier, usb, progress=touch_later_file)
    assert bs.entries(usb) == set()


def test_a_file_growing_while_copied_fails_the_backup(w, mine, usb):
    dossier = mine.dossiers[0]
    journal = dossier / "jet" / "journal.jet"

    def append_to_journal(done, total):
        with open(journal, "ab") as fh:
            fh.write(b"\0")

    with pytest.raises(ChangedDuringBackup, match="journal.jet"):
        bs.make_backup(w, dossier, usb, progress=append_to_journal)
    assert bs.entries(usb) == set()


@pytest.mark.parametrize("name", ["journal.jet", "journal.head"])
def test_a_journal_rewritten_after_the_check_read_it_fails_the_backup(
    w, mine, usb, monkeypatch, name
):
    # The check reads the journal and its signed head; the packaging reads them again. A
    # rewrite in between under the same size and time must not be packaged under the
    # check's verdict on other bytes.
    dossier = mine.dossiers[0]
    target = dossier / "jet" / name
    real_start = backup_module.start_check

    def start_then_rewrite(*args, **kwargs):
        pending = real_start(*args, **kwargs)  # one worker: the journal is checked here
        st = target.stat()
        data = bytearray(target.read_bytes())
        data[-20] ^= 1  # inside the last signature
        target.write_bytes(bytes(data))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        return pending

    monkeypatch.setattr(backup_module, "start_check", start_then_rewrite)
    with pytest.raises(ChangedDuringBackup, match=name):
        bs.make_backup(w, dossier, usb)
    assert bs.entries(usb) == set()


def test_the_source_dossier_is_byte_identical_after_every_kind(w, mine, usb):
    dossier = mine.dossiers[0]
    before = bs.tree(dossier)
    results = [
        bs.make_backup(w, dossier, usb, kind=kind, now=bs.NOW + dt.timedelta(minutes=i))
        for i, kind in enumerate(("full", "no-index", "photos"))
    ]
    assert bs.tree(dossier) == before  # same files, bytes, modes and mtimes
    for result in results:
        bs.assert_proven(w, result)


# --- never lose a backup ---------------------------------------------------------------


def test_a_new_backup_of_the_same_name_replaces_the_old_only_when_complete(w, usb):
    first = bs.make_backup(w, w.dossier, usb, name="nightly")
    old_bytes = first.files[0].read_bytes()
    second = bs.make_backup(w, w.dossier, usb, name="nightly", now=bs.NOW + dt.timedelta(days=1))
    assert second.files == first.files
    assert first.files[0].read_bytes() != old_bytes
    assert bs.entries(usb) == {"nightly.tar.zst", "nightly.tar.zst.minisig"}
    report = bs.assert_proven(w, second)
    assert report.manifest.created == "2026-11-28T12:00:00Z"


@pytest.mark.parametrize("failure", ["readback", "interrupt", "oserror"])
def test_a_failed_backup_leaves_the_previous_one_untouched(w, usb, monkeypatch, failure):
    first = bs.make_backup(w, w.dossier, usb, name="nightly")
    before = {p.name: p.read_bytes() for p in usb.iterdir()}
    progress = None
    if failure == "readback":

        def failing_readback(self):
            raise OperationalError("read-back differs: the medium is failing")

        monkeypatch.setattr(OutputSink, "readback", failing_readback)
        expected = OperationalError
    elif failure == "interrupt":

        def progress(done, total):  # Ctrl-C in the middle of the copy
            if done > total // 2:
                raise KeyboardInterrupt

        expected = KeyboardInterrupt
    else:
        real_write = OutputSink.write

        def failing_write(self, data):  # the medium fills up half way
            real_write(self, memoryview(data)[: len(data) // 2])
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(OutputSink, "write", failing_write)
        expected = OSError
    with pytest.raises(expected):
        bs.make_backup(
            w, w.dossier, usb, name="nightly", now=bs.NOW + dt.timedelta(days=1), progress=progress
        )
    after = {p.name: p.read_bytes() for p in usb.iterdir()}
    assert after == before, "the previous backup changed, or a partial file remains"
    monkeypatch.undo()
    report = bs.assert_proven(w, first)
    assert report.manifest.created == "2026-11-27T12:00:00Z"


def test_a_split_backup_replaced_by_a_single_file_leaves_no_stale_parts(w, usb):
    split = bs.make_backup(w, w.dossier, usb, name="nightly", split_size=bs.SPLIT_SIZE)
    assert split.parts >= 3
    single = bs.make_backup(w, w.dossier, usb, name="nightly", now=bs.NOW + dt.timedelta(days=1))
    assert bs.entries(usb) == {"nightly.tar.zst", "nightly.tar.zst.minisig"}
    bs.assert_proven(w, single)


# --- rotation and keeping --------------------------------------------------------------


def test_rotate_weekday_names_the_backup_after_the_french_weekday(w, usb):
    friday = bs.make_backup(w, w.dossier, usb, rotate="weekday")
    assert friday.files[0].name == "MAG001_vendredi_full.tar.zst"
    # 23:30 UTC on Sunday is already Monday in Paris, the shop's time zone.
    monday = bs.make_backup(
        w, w.dossier, usb, rotate="weekday", now=dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    )
    assert monday.files[0].name == "MAG001_lundi_full.tar.zst"
    next_friday = bs.make_backup(
        w, w.dossier, usb, rotate="weekday", now=bs.NOW + dt.timedelta(days=7)
    )
    assert next_friday.files == friday.files
    assert sorted(p for p in bs.entries(usb) if p.endswith(".zst")) == [
        "MAG001_lundi_full.tar.zst",
        "MAG001_vendredi_full.tar.zst",
    ]
    assert bs.assert_proven(w, next_friday).manifest.created == "2026-12-04T12:00:00Z"
    bs.assert_proven(w, monday)


def test_rotate_weekday_via_the_command_line(w, usb, monkeypatch):
    bs.freeze_clock(monkeypatch, dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC))
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--rotate", "weekday",
    )  # fmt: skip
    assert r.code == 0, r
    archive = usb / "MAG001_samedi_full.tar.zst"
    assert archive.exists()
    bs.assert_proven(w, [archive])


def test_keep_n_keeps_the_newest_backups_of_each_dossier(w, usb):
    other = bs.make_backup(w, w.sample.dossiers[1], usb, now=bs.NOW - dt.timedelta(days=10))
    made = [
        bs.make_backup(w, w.dossier, usb, now=bs.NOW + dt.timedelta(days=d), keep=2)
        for d in (-3, -2, -1)
    ]
    last = bs.make_backup(w, w.dossier, usb, now=bs.NOW, keep=2)
    kept = sorted(p for p in bs.entries(usb) if p.endswith(".zst"))
    assert kept == [
        "MAG001_2026-11-26_full.tar.zst",
        "MAG001_2026-11-27_full.tar.zst",
        "MAG002_2026-11-17_full.tar.zst",  # another dossier's backups are not counted
    ]
    assert {p.name for p in last.removed_by_rotation} == {
        "MAG001_2026-11-25_full.tar.zst",
        "MAG001_2026-11-25_full.tar.zst.minisig",
    }
    assert not made[0].files[0].exists()
    for result in (other, made[2], last):
        bs.assert_proven(w, result)


# --- split parts ----------------------------------------------------------------------


def test_split_writes_numbered_parts_each_with_a_sidecar(w, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--split", "100K", "--json",
    )  # fmt: skip
    assert r.code == 0, r
    (b,) = json.loads(r.out)["backups"]
    assert b["parts"] >= 3
    base = "MAG001_2026-11-27_full.tar.zst"
    parts = [usb / f"{base}.{i:03d}" for i in range(1, b["parts"] + 1)]
    assert bs.entries(usb) == {p.name for p in parts} | {p.name + ".minisig" for p in parts}
    assert all(p.stat().st_size <= 100 * 1024 for p in parts)
    assert all(p.stat().st_size == 100 * 1024 for p in parts[:-1])
    # Given any one part, verify finds the whole set.
    v = bs.invoke(
        "verify", parts[1], "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS, "--json"
    )
    assert v.code == 0, v
    (report,) = json.loads(v.out)["reports"]
    assert [f["path"] for f in report["files"]] == [str(p) for p in parts]


def test_each_part_verifies_with_the_stock_minisign_tool(w, tmp_path_factory):
    tool = bs.minisign_binary()
    split = bs.split_set(w, tmp_path_factory)
    assert split.parts >= 3
    for part in split.files:
        proc = subprocess.run(
            [tool, "-Vm", str(part), "-p", str(w.shop_pub)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"file={part.name}" in proc.stdout  # the signed trusted comment
    bs.assert_proven(w, split)


def test_stock_minisign_verifies_a_single_archive(w):
    tool = bs.minisign_binary()
    proc = subprocess.run(
        [tool, "-Vm", str(w.archive), "-p", str(w.shop_pub)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_fat32_destination_is_split_automatically(w, usb, monkeypatch):
    seen = []

    def fake_fs_type(path):
        seen.append(path)
        return "vfat"

    monkeypatch.setattr(media, "filesystem_type", fake_fs_type)
    monkeypatch.setattr(media, "FAT32_PART_SIZE", bs.SPLIT_SIZE)
    result = bs.make_backup(w, w.dossier, usb)
    assert seen, "the destination's file system was not looked at"
    assert result.parts >= 3
    assert [p.name for p in result.files] == [
        f"MAG001_2026-11-27_full.tar.zst.{i:03d}" for i in range(1, result.parts + 1)
    ]
    assert all(p.stat().st_size <= bs.SPLIT_SIZE for p in result.files)
    bs.assert_proven(w, result)


def test_a_non_fat_destination_is_not_split(w, usb, monkeypatch):
    monkeypatch.setattr(media, "filesystem_type", lambda path: "ext4")
    monkeypatch.setattr(media, "FAT32_PART_SIZE", bs.SPLIT_SIZE)
    result = bs.make_backup(w, w.dossier, usb)
    assert result.parts == 1 and result.files[0].name.endswith(".tar.zst")
    bs.assert_proven(w, result)


# --- the whole story, as a shop runs it (subprocess, six years, real worker pool) ------


def test_quick_start_story_six_years(sample_root, tmp_path):
    from conftest import run_cli

    usb = tmp_path / "usb"
    usb.mkdir()
    keys = sample_root.keys
    code, out, err = run_cli(
        "backup", sample_root.dossiers[0], "--to", usb, "--key", keys["shop_secret"],
        "--trust", keys["editor_public"],
    )  # fmt: skip
    assert code == 0, out + err
    assert "BACKED UP" in out and "read back and verified" in out
    (archive,) = usb.glob("*.tar.zst")
    code, out, err = run_cli(
        "verify", usb, "--key", keys["shop_public"], "--trust", keys["editor_public"]
    )
    assert code == 0, out + err
    assert out.startswith("PROVEN") and "verified records cover" in out
    assert "last recorded operation" in out
