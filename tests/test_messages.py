"""What people read: one coverage sentence in check, backup, verify and list; messages
that say what happened, why, and what is safe."""

from __future__ import annotations

import json

import backup_support as bs
import pytest

pytestmark = pytest.mark.usefixtures("one_worker")


def coverage_line(out: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith("coverage:"))


# --- one coverage sentence -------------------------------------------------------------


def test_check_says_which_window_is_required(w):
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--years", "1", "--as-of", "2026-11-27")
    assert r.code == 0, r
    assert coverage_line(r.out).startswith(
        "coverage: 1 year required, 2025-11-27 to 2026-11-27, up to the --as-of date; "
        "verified records cover "
    )
    assert "last recorded operation 2026-11-26" in coverage_line(r.out)


def test_verify_words_coverage_the_same_way_from_the_backups_creation(w):
    r = bs.invoke("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    line = coverage_line(r.out)
    assert line.startswith(
        "coverage: 1 year required, 2025-11-27 to 2026-11-27, up to the day the backup was "
        "made; verified records cover "
    )
    assert "last recorded operation 2026-11-26" in line


def test_list_words_the_sidecars_claim_in_the_same_sentence(w):
    r = bs.invoke("list", w.backup_dir)
    assert r.code == 0, r
    line = coverage_line(r.out)
    assert line.startswith(
        "coverage: 6 years required, 2020-11-27 to 2026-11-27, up to the day the backup was made"
    )
    assert "the signed sidecar claims records covering" in line
    assert line.endswith("last recorded operation 2026-11-26")


# --- backups: what was left out, what is safe -------------------------------------------


def backup_args(w, dossier, usb, *extra):
    return ("backup", dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
            "--years", "1", *extra)  # fmt: skip


def test_backup_creates_its_folder_and_says_what_it_left_out_and_why(w, tmp_path):
    usb = tmp_path / "usb"
    r = bs.invoke(*backup_args(w, w.dossier, usb))
    assert r.code == 0, r
    assert f"created the backup folder {usb}" in r.err
    assert "left out: " in r.out
    assert "photos (back them up with --kind photos)" in r.out
    assert coverage_line(r.out).startswith(
        "coverage: 1 year required, 2025-11-27 to 2026-11-27, up to today; verified records"
    )
    assert sorted(p.name for p in usb.iterdir()) == [
        "MAG001_2026-11-27_full.tar.zst",
        "MAG001_2026-11-27_full.tar.zst.minisig",
    ]


def test_a_missing_mount_point_is_not_created(tmp_path, monkeypatch):
    from fiscalsafe.errors import UsageError
    from fiscalsafe.pipeline import destination

    monkeypatch.setattr(destination, "MOUNT_AREAS", (tmp_path,))
    with pytest.raises(UsageError, match="is the medium plugged in and mounted"):
        destination.prepare_destination(tmp_path / "USBSTICK")
    assert not (tmp_path / "USBSTICK").exists()


def open_dossier(w, tmp_path):
    """A copy of MAG001 with the shop application open on one workstation."""
    root = bs.copy_root(w, tmp_path / "root")
    dossier = root.dossiers[0]
    (dossier / "odeis" / "POSTE-01.lck").write_text("POSTE-01\n")
    return dossier


def test_a_refused_backup_says_the_previous_one_is_intact(w, tmp_path):
    usb = tmp_path / "usb"
    bs.copy_files(bs.backup_paths(w.backup), usb)
    before = bs.tree(usb)
    r = bs.invoke(*backup_args(w, open_dossier(w, tmp_path), usb))
    assert r.code == 3, r
    assert "the shop application is still open" in r.err
    assert r.err.strip().endswith("the previous backup MAG001_2026-11-27_full is intact")
    assert bs.tree(usb) == before
    r = bs.invoke(*backup_args(w, open_dossier(w, tmp_path / "again"), usb, "--json"))
    failure = json.loads(r.out)["failures"][0]
    assert failure["code"] == 3
    assert failure["error"].endswith("the previous backup MAG001_2026-11-27_full is intact")


def test_a_full_medium_is_said_in_words_and_the_previous_backup_is_intact(w, tmp_path, monkeypatch):
    import errno

    from fiscalsafe.pipeline.sink import OutputSink

    usb = tmp_path / "usb"
    bs.copy_files(bs.backup_paths(w.backup), usb)
    before = bs.tree(usb)

    class FullMedium:
        """The partial file's handle on a medium that has no room left."""

        def __init__(self, fh, path):
            self.fh, self.path = fh, path

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

        def __getattr__(self, name):
            return getattr(self.fh, name)

    real_open = OutputSink._open_next

    def open_then_fill(self):
        real_open(self)
        self._fh = FullMedium(self._fh, self.parts[-1].partial)

    monkeypatch.setattr(OutputSink, "_open_next", open_then_fill)
    r = bs.invoke(*backup_args(w, w.dossier, usb))
    assert r.code == 3, r
    assert "No space left on device" not in r.err and ".partial" not in r.err
    assert f"error: the medium {usb} is full" in r.err
    assert "the previous backup MAG001_2026-11-27_full is intact" in r.err
    assert bs.tree(usb) == before


def test_an_unplugged_medium_is_said_in_words():
    import errno

    from fiscalsafe.cli.failure import describe_os_error

    exc = OSError(errno.ENOENT, "No such file or directory", "/media/usb/.A.tar.zst.partial")
    text = describe_os_error(exc)
    assert "No such file" not in text and ".partial" not in text
    assert text == (
        "the folder /media/usb disappeared while the backup was written "
        "(medium unplugged or unmounted?)"
    )


# --- who signed a backup; why a backup of a medium is not proven ---------------------------


def flipped_copy(w, folder, offset: int = 5000):
    (archive, _) = bs.copy_files(bs.backup_paths(w.backup), folder)
    data = bytearray(archive.read_bytes())
    data[offset] ^= 1
    archive.write_bytes(bytes(data))
    return archive


def test_verify_with_another_key_names_the_expected_key_and_the_signer(w, tmp_path):
    from fiscalsafe import minisign

    other = minisign.generate_keypair()
    pub = tmp_path / "other.pub"
    pub.write_bytes(other.public_key().to_file_bytes())
    r = bs.invoke("verify", w.archive, "--key", pub, "--trust", w.editor, "--years", "1")
    assert r.code == 1, r
    assert f"signed by shop key {other.fingerprint};" not in r.out
    assert (
        f"NOT signed by shop key {other.fingerprint}: expected {other.fingerprint}, "
        f"signed by {w.public.fingerprint};" in r.out
    )


def test_verify_of_a_changed_backup_does_not_call_it_signed(w, tmp_path):
    archive = flipped_copy(w, tmp_path / "usb")
    r = bs.invoke("verify", archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 1, r
    key = w.public.fingerprint
    assert f"  signed by shop key {key}" not in r.out
    assert (
        f"signature NOT valid: expected shop key {key}, signed by {key}, but the bytes "
        "changed after they were signed" in r.out
    )


def test_each_not_proven_line_of_a_medium_says_its_main_findings(w, tmp_path):
    usb = tmp_path / "usb"
    bs.copy_files(bs.backup_paths(w.backup), usb)
    flipped = flipped_copy(w, tmp_path / "bad")
    for suffix in ("", ".minisig"):
        (tmp_path / "bad" / f"{flipped.name}{suffix}").rename(usb / f"damaged.tar.zst{suffix}")
    r = bs.invoke("verify", usb, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 1, r
    lines = r.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("NOT PROVEN damaged.tar.zst"))
    shown = lines[at + 1 : at + 5]
    assert all(line.startswith("    ") for line in shown), shown
    doc = json.loads(
        bs.invoke("verify", usb, "--key", w.shop_pub, "--trust", w.editor, "--years", "1",
                  "--json").out
    )  # fmt: skip
    report = next(x for x in doc["reports"] if x["target"].endswith("damaged.tar.zst"))
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert len(errors) > 3
    for line, f in zip(shown[:3], errors, strict=False):
        assert line.startswith(f"    {f['code']}: {f['message']}"), (line, f)
    assert shown[3] == f"    and {len(errors) - 3} more (verify this backup alone)"


# --- passphrases ---------------------------------------------------------------------------


@pytest.fixture
def encrypted_key(tmp_path):
    from fiscalsafe import minisign

    secret = minisign.generate_keypair()
    path = tmp_path / "shop.key"
    path.write_bytes(secret.to_file_bytes("right"))
    return path, secret


def test_an_empty_passphrase_in_the_environment_says_so(encrypted_key, monkeypatch):
    from fiscalsafe.cli.passphrase import open_secret_key
    from fiscalsafe.errors import UsageError

    monkeypatch.setenv("PASS_FOR_TEST", "")
    with pytest.raises(UsageError, match="PASS_FOR_TEST is set but empty"):
        open_secret_key(encrypted_key[0], "PASS_FOR_TEST", on_terminal=False)


def test_the_terminal_prompt_allows_three_tries(encrypted_key, monkeypatch, capsys):
    from fiscalsafe.cli.passphrase import open_secret_key

    monkeypatch.delenv("PASS_FOR_TEST", raising=False)
    answers = iter(["", "wrong", "right"])
    key = open_secret_key(
        encrypted_key[0], "PASS_FOR_TEST", prompt=lambda *a, **k: next(answers), on_terminal=True
    )
    assert key.fingerprint == encrypted_key[1].fingerprint
    err = capsys.readouterr().err
    assert "error: the passphrase is empty; try again (2 left)" in err
    assert "wrong passphrase for this secret key" in err and "try again (1 left)" in err


def test_three_wrong_passphrases_give_up(encrypted_key, monkeypatch):
    from fiscalsafe.cli.passphrase import open_secret_key
    from fiscalsafe.errors import UsageError

    monkeypatch.delenv("PASS_FOR_TEST", raising=False)
    with pytest.raises(UsageError, match="wrong passphrase .*; 3 tries, giving up"):
        open_secret_key(
            encrypted_key[0], "PASS_FOR_TEST", prompt=lambda *a, **k: "nope", on_terminal=True
        )


# --- leftovers of an interrupted backup ---------------------------------------------------

LEFTOVERS = (
    ".MAG001_2026-11-27_full.tar.zst.partial",
    ".MAG001_2026-11-27_full.tar.zst.002.minisig.partial",
)
NOT_LEFTOVERS = (".notes.partial", ".MAG001_2026-11-27_full.tar.zst.partial.keep")


def medium_with_leftovers(w, tmp_path):
    usb = tmp_path / "usb"
    bs.copy_files(bs.backup_paths(w.backup), usb)
    for name in LEFTOVERS + NOT_LEFTOVERS:
        (usb / name).write_bytes(b"x" * 100)
    return usb


def test_list_and_verify_show_leftovers_of_an_interrupted_backup(w, tmp_path):
    usb = medium_with_leftovers(w, tmp_path)
    r = bs.invoke("list", usb)
    assert r.code == 0, r
    for name in LEFTOVERS:
        assert f"leftover of an interrupted backup (power cut, medium pulled out?): {name}" in r.out
    assert not any(name in r.out for name in NOT_LEFTOVERS)
    doc = json.loads(bs.invoke("list", usb, "--json").out)
    assert sorted(x["path"].rsplit("/", 1)[-1] for x in doc["leftovers"]) == sorted(LEFTOVERS)
    r = bs.invoke("verify", usb, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    assert all(
        f"interrupted backup (power cut, medium pulled out?): {n}" in r.err for n in LEFTOVERS
    )


def test_the_next_backup_of_that_name_removes_its_leftovers_only(w, tmp_path):
    usb = medium_with_leftovers(w, tmp_path)
    r = bs.invoke(*backup_args(w, w.dossier, usb))
    assert r.code == 0, r
    assert "removed 2 partial file(s) an interrupted backup of MAG001_2026-11-27_full left" in r.err
    assert bs.entries(usb) == {
        "MAG001_2026-11-27_full.tar.zst",
        "MAG001_2026-11-27_full.tar.zst.minisig",
        *NOT_LEFTOVERS,
    }


def test_an_interrupted_backup_says_the_previous_one_is_intact(w, tmp_path, monkeypatch):
    from fiscalsafe.pipeline import backup

    usb = tmp_path / "usb"
    bs.copy_files(bs.backup_paths(w.backup), usb)
    before = bs.tree(usb)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(backup, "start_check", interrupted)
    r = bs.invoke(*backup_args(w, w.dossier, usb, "--json"))
    assert r.code == 3, r
    doc = json.loads(r.out)
    assert doc["error"] == "interrupted"
    assert doc["message"] == (
        "interrupted; nothing was left that looks complete; "
        "the previous backup MAG001_2026-11-27_full is intact"
    )
    assert bs.tree(usb) == before
