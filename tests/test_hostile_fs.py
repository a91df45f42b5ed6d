"""A hostile file system: links, FIFOs and unportable names planted on the medium, in
the destination folder and in the dossier by someone holding no key.

Each run is compared with a snapshot of the whole tree before it (paths, kinds, link
targets, bytes): nothing outside the files fiscalsafe means to write may change. Runs
that could block on a FIFO are subprocesses with a timeout, so a regression fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import backup_support as bs
import pytest
from conftest import cli_env
from tree_snapshot import changed, snapshot

from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.pipeline import restore as restore_module
from fiscalsafe.pipeline.restore import restore_backup


class Blocked(Exception):
    """Raised by an alarm: not an OSError, so no ``except OSError`` can swallow it."""


#: A FIFO must be refused within a second; a Python start-up is most of this budget.
FIFO_TIMEOUT = 60


pytestmark = pytest.mark.usefixtures("one_worker")


@pytest.fixture
def outside(tmp_path):
    """A folder beside the medium, holding a file planted links point at."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_bytes(b"a file fiscalsafe must never write\n")
    return folder


def cli(*args, timeout: float = FIFO_TIMEOUT) -> tuple[int, str, str]:
    """``python -m fiscalsafe ARGS`` with a timeout: a blocked read fails the test."""
    env = cli_env() | {"FISCALSAFE_TRUST_DIR": "/nonexistent/fiscalsafe-trust"}
    done = subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def one_line_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --- never through a link -------------------------------------------------------------


def test_backup_never_writes_through_links_planted_at_its_partial_names(w, tmp_path, outside):
    usb = tmp_path / "usb"
    usb.mkdir()
    first = bs.make_backup(w, w.dossier, usb, name="nightly")
    final = first.files[0]
    previous = final.read_bytes()
    # The previous good backup and a file elsewhere, behind the names the next one writes.
    (usb / f".{final.name}.partial").symlink_to(final)
    (usb / f".{final.name}.minisig.partial").symlink_to(outside / "victim")
    before = snapshot(outside)
    second = bs.make_backup(w, w.dossier, usb, name="nightly", now=bs.NOW + dt.timedelta(days=1))
    assert changed(before, snapshot(outside)) == set()
    assert second.files == [final]
    assert not final.is_symlink() and final.is_file()
    assert not Path(str(final) + ".minisig").is_symlink()
    assert final.read_bytes() != previous  # the new backup, written as its own file
    assert bs.entries(usb) == {final.name, final.name + ".minisig"}
    bs.assert_proven(w, [final])


def test_evidence_record_never_written_through_planted_links(w, tmp_path, outside):
    record = tmp_path / "record.json"
    record.symlink_to(outside / "victim")
    (tmp_path / ".record.json.partial").symlink_to(outside / "victim")
    before = snapshot(outside)
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor,
        "--years", bs.YEARS, "--evidence", record,
    )  # fmt: skip
    assert r.code == 0, r
    assert changed(before, snapshot(outside)) == set()
    assert not record.is_symlink()
    assert b'"verdict"' in record.read_bytes()
    assert not (tmp_path / ".record.json.partial").exists()


def test_key_generation_never_writes_through_a_planted_link(tmp_path, outside):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "shop.key").symlink_to(outside / "victim")
    (keys / "shop.pub").symlink_to(outside / "victim")
    before = snapshot(outside)
    r = bs.invoke("keys", "generate", "--out", keys, "--no-passphrase", "--force")
    assert r.code == 0, r
    assert changed(before, snapshot(outside)) == set()
    assert not (keys / "shop.key").is_symlink()
    assert (keys / "shop.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "shop.pub").read_bytes().startswith(b"untrusted comment:")


def test_a_dangling_link_at_a_key_name_counts_as_existing(tmp_path, outside):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "shop.key").symlink_to(outside / "absent")
    r = bs.invoke("keys", "generate", "--out", keys, "--no-passphrase")
    assert r.code == 2, r
    assert "exists; pass --force" in r.err
    assert not (outside / "absent").exists()


# --- never block, never read without bound -------------------------------------------


def test_check_of_a_dossier_whose_identity_is_a_fifo(w, tmp_path):
    mine = bs.copy_root(w, tmp_path / "root")
    dossier = mine.dossiers[0]
    (dossier / "dossier.json").unlink()
    os.mkfifo(dossier / "dossier.json")
    for command in ("check", "backup"):
        args = [command, dossier, "--years", bs.YEARS]
        if command == "backup":
            (tmp_path / "usb").mkdir()
            args += ["--to", tmp_path / "usb", "--key", w.shop_key]
        code, _out, err = cli(*args)
        line = one_line_error(err)
        assert code in (1, 2), (command, err)
        assert "dossier.json" in line and "FIFO, not a regular file" in line, line
    assert bs.entries(tmp_path / "usb") == set()


def test_a_dossier_file_turned_into_a_fifo_during_the_backup(w, tmp_path, monkeypatch):
    """The file was regular when the dossier was walked; it is a FIFO when packaged."""
    import signal

    from fiscalsafe.errors import FiscalsafeError
    from fiscalsafe.pipeline import backup as backup_module

    mine = bs.copy_root(w, tmp_path / "root")
    dossier = mine.dossiers[0]
    (dossier / "notes").mkdir()
    # Large enough to be among the files sampled to estimate the archive's size.
    (dossier / "notes" / "later.txt").write_bytes(bytes(2 * 1024 * 1024))
    real_walk = backup_module.walk_dossier

    def walk_then_swap(*args):
        files = real_walk(*args)
        (dossier / "notes" / "later.txt").unlink()
        os.mkfifo(dossier / "notes" / "later.txt")
        return files

    def blocked(signum, frame):
        raise Blocked("the backup blocked on a FIFO")

    monkeypatch.setattr(backup_module, "walk_dossier", walk_then_swap)
    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(60)
    try:
        # Refused by whichever reaches it first, the packaging or the fiscal check's walk.
        with pytest.raises(FiscalsafeError, match=r"later.txt.* not a regular file"):
            bs.make_backup(w, dossier, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_verify_and_list_with_a_fifo_as_the_sidecar(w, tmp_path):
    [archive] = bs.copy_files([w.archive], tmp_path / "usb")
    os.mkfifo(Path(str(archive) + ".minisig"))
    code, out, err = cli("verify", archive, "--key", w.shop_pub, "--years", bs.YEARS)
    assert code == 1, (out, err)
    assert "Traceback" not in err
    assert "SIDECAR_SIGNATURE_INVALID" in out and "FIFO, not a regular file" in out, out
    code, out, err = cli("list", tmp_path / "usb", "--json")
    assert code == 0, (out, err)
    assert "Traceback" not in err


def test_a_key_that_is_a_fifo_or_a_device_is_a_usage_error(w, tmp_path):
    os.mkfifo(tmp_path / "shop.pub")
    for key in (tmp_path / "shop.pub", Path("/dev/zero")):
        code, _out, err = cli("verify", w.archive, "--key", key, "--years", bs.YEARS)
        line = one_line_error(err)
        assert code == 2, err
        assert "not a regular file" in line, line


def test_a_sidecar_that_is_a_link_is_a_finding(w, tmp_path):
    [archive] = bs.copy_files([w.archive], tmp_path / "usb")
    bs.copy_files([Path(str(w.archive) + ".minisig")], tmp_path / "elsewhere")
    sidecar = Path(str(archive) + ".minisig")
    sidecar.symlink_to(tmp_path / "elsewhere" / sidecar.name)
    report = bs.verify(w, [archive])
    [found] = [f for f in report.findings if f.code == "SIDECAR_SIGNATURE_INVALID"]
    assert "symbolic link, not a regular file" in found.message


# --- one path policy: backup never makes what verify refuses --------------------------

UNPORTABLE = {
    "CON": "reserved device name",
    "notes/aux.txt": "reserved device name",
    "notes/Com1.tar.gz": "reserved device name",
    "notes/x.": "ends with a dot or a space",
    "notes/y ": "ends with a dot or a space",
    "notes/name:stream": "':'",
    "notes/tab\there": "control character",
}


@pytest.mark.parametrize("relpath", sorted(UNPORTABLE))
def test_backup_refuses_an_unportable_name_before_writing(w, tmp_path, relpath):
    mine = bs.copy_root(w, tmp_path / "root")
    dossier = mine.dossiers[0]
    (dossier / relpath).parent.mkdir(parents=True, exist_ok=True)
    (dossier / relpath).write_bytes(b"x")
    usb = tmp_path / "usb"
    usb.mkdir()
    bs.copy_files([w.archive, Path(str(w.archive) + ".minisig")], usb)
    before = snapshot(usb)
    r = bs.invoke(
        "backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--name", w.archive.name.removesuffix(".tar.zst"),
    )  # fmt: skip
    assert r.code == 1, r
    assert repr(relpath) in r.err and UNPORTABLE[relpath] in r.err, r.err
    assert "nothing was written" in r.err
    assert changed(before, snapshot(usb)) == set()


@pytest.mark.parametrize(
    "pair",
    [
        ("notes/Facture.pdf", "notes/facture.pdf"),
        (unicodedata.normalize("NFC", "notes/café"), unicodedata.normalize("NFD", "notes/café")),
        ("notes/Year", "notes/year/x"),
    ],
)
def test_backup_refuses_names_that_are_one_file_on_windows_or_macos(w, tmp_path, pair):
    mine = bs.copy_root(w, tmp_path / "root")
    dossier = mine.dossiers[0]
    for rel in pair:
        (dossier / rel).parent.mkdir(parents=True, exist_ok=True)
        (dossier / rel).write_bytes(rel.encode())
    usb = tmp_path / "usb"
    usb.mkdir()
    with pytest.raises(Exception, match="one file on Windows and macOS") as caught:
        bs.make_backup(w, dossier, usb)
    assert type(caught.value).__name__ == "UnportableNames"
    assert bs.entries(usb) == set()


# --- restore never loses what was there -------------------------------------------------


def restore_into(w, dest: Path, **kwargs):
    return restore_backup(
        [w.archive], dest, shop_key=w.public, trust=[w.editor], as_of=None, years=bs.YEARS,
        **kwargs,
    )  # fmt: skip


@pytest.fixture
def occupied(tmp_path):
    dest = tmp_path / "restored"
    (dest / "sub").mkdir(parents=True)
    (dest / "notes.txt").write_text("mine\n")
    (dest / "sub" / "keep.bin").write_bytes(b"\x00\x01")
    (dest / "link").symlink_to("notes.txt")
    (dest / "dossier.json").write_text("an older identity, which the backup also holds\n")
    return dest


def test_force_restore_rolls_back_when_the_swap_fails(w, tmp_path, occupied, monkeypatch):
    before = snapshot(tmp_path)
    real_rename = os.rename
    failed = []

    def rename(src, dst):
        # Putting restored data in place fails once, as on a yanked medium: for the
        # whole folder, or for an entry that replaces one the folder already holds.
        into_place = Path(dst) == occupied or Path(dst).name == "dossier.json"
        if not failed and ".fiscalsafe-partial" in str(src) and into_place:
            failed.append(src)
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(restore_module.os, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        restore_into(w, occupied, allow_existing=True)
    assert failed
    assert changed(before, snapshot(tmp_path)) == set()


@pytest.mark.parametrize("left", ["aside", "marker"])
def test_what_a_swap_killed_half_way_left_is_never_cleaned_up(w, tmp_path, occupied, left):
    """A power cut in the middle of the swap leaves the old entries renamed aside, or in
    the staging folder (the marker says so): the next restore must not delete them, but
    say where they are."""
    aside = tmp_path / ".restored.fiscalsafe-old"
    staging = tmp_path / ".restored.fiscalsafe-partial"
    staging.mkdir()
    (staging / "notes.txt").write_text("carried out of the old folder\n")
    if left == "aside":
        occupied.rename(aside)
    (tmp_path / ".restored.fiscalsafe-swapping").write_bytes(b"")
    before = snapshot(tmp_path)
    with pytest.raises(OperationalError, match="interrupted restore") as caught:
        restore_into(w, occupied, allow_existing=True)
    assert "fiscalsafe-old" in str(caught.value)
    assert changed(before, snapshot(tmp_path)) == set()


def test_the_swap_marks_itself_while_old_entries_are_outside_the_folder(
    w, tmp_path, occupied, monkeypatch
):
    marker = tmp_path / ".restored.fiscalsafe-swapping"
    seen = []
    real_rename = os.rename

    def rename(src, dst):
        seen.append(marker.exists())
        return real_rename(src, dst)

    monkeypatch.setattr(restore_module.os, "rename", rename)
    assert restore_into(w, occupied, allow_existing=True).restored
    assert seen and all(seen)  # every rename of the swap happens under the marker
    assert not marker.exists()


def test_force_restore_swaps_and_keeps_unrelated_entries(w, tmp_path, occupied):
    result = restore_into(w, occupied, allow_existing=True)
    assert result.restored
    assert (occupied / "notes.txt").read_text() == "mine\n"
    assert (occupied / "sub" / "keep.bin").read_bytes() == b"\x00\x01"
    assert (occupied / "dossier.json").read_bytes() == (w.dossier / "dossier.json").read_bytes()
    assert bs.entries(tmp_path) == {"restored"}  # no staging or old folder left


def test_restore_refuses_a_mount_point_up_front(w, tmp_path, occupied, monkeypatch):
    monkeypatch.setattr(restore_module.os.path, "ismount", lambda p: Path(p) == occupied)
    before = snapshot(tmp_path)
    r = bs.invoke(
        "restore", w.archive, occupied, "--key", w.shop_pub, "--years", bs.YEARS, "--force"
    )
    assert r.code == 2, r
    assert "mount point" in r.err and "cannot be replaced atomically" in r.err
    assert changed(before, snapshot(tmp_path)) == set()


def test_restore_refuses_a_destination_that_is_a_link(w, tmp_path, outside):
    dest = tmp_path / "restored"
    dest.symlink_to(outside)
    before = snapshot(tmp_path)
    with pytest.raises(UsageError, match="is a link"):
        restore_into(w, dest, allow_existing=True)
    assert changed(before, snapshot(tmp_path)) == set()


def test_restore_removes_a_link_planted_at_its_staging_name(w, tmp_path, outside):
    (tmp_path / ".restored.fiscalsafe-partial").symlink_to(outside)
    before = snapshot(outside)
    result = restore_into(w, tmp_path / "restored")
    assert result.restored
    assert changed(before, snapshot(outside)) == set()
    assert bs.entries(tmp_path) == {"restored", "outside"}


def test_size_estimate_skips_a_dossier_file_that_became_a_fifo(tmp_path):
    """Sampling files for the size estimate never waits on a FIFO."""
    import signal

    from fiscalsafe.pipeline.backup import estimate_size
    from fiscalsafe.pipeline.check import DossierFile

    os.mkfifo(tmp_path / "big.bin")

    def blocked(signum, frame):
        raise Blocked("the size estimate blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(10)
    try:
        files = [DossierFile("big.bin", tmp_path / "big.bin", "other", 1 << 20, 0, 0o644)]
        assert estimate_size(files, 3) > 1 << 20
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_worker_never_waits_on_an_archive_swapped_for_a_fifo(tmp_path):
    """The walk saw a regular file; a FIFO put in its place before the worker opens it is
    a finding, not a wait."""
    import signal

    from fiscalsafe.pipeline import fiscal

    fifo = tmp_path / "A000001.fsa"
    os.mkfifo(fifo)

    def blocked(signum, frame):
        raise TimeoutError("the worker waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(5)
    try:
        result = fiscal._check_archive("archives/A000001.fsa", str(fifo), ((), True), "UTC")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [f.code for f in result.findings] == ["ARCHIVE_MALFORMED"]
    assert "not a regular file" in result.findings[0].message


def test_a_profile_that_is_a_fifo_is_a_usage_error(w, tmp_path):
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--profile", fifo)
    assert r.code == 2, r
    assert "not a regular file" in r.err and "Traceback" not in r.err
