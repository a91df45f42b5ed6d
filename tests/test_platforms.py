"""fiscalsafe where shops and auditors work: Windows and macOS constraints, end to end.

The subprocess tests run the command line with ``tests/foreign_os/sitecustomize.py`` on
``PYTHONPATH``: no ``/proc``, ``os.statvfs``, ``os.posix_fadvise``,
``signal.pthread_sigmask``, fork or forkserver, and a French console's cp850 code page.
The in-process tests fake the Windows behaviour of single calls (``oscompat``'s
predicates, ``os.chmod``, ``os.replace``, ``icacls``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import stat
import subprocess
import sys
from pathlib import Path

import backup_support as bs
import pytest
from conftest import cli_env

from fiscalsafe import oscompat

FOREIGN_OS = Path(__file__).parent / "foreign_os"


def foreign_cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m fiscalsafe ARGS`` as on Windows: Linux facilities hidden, cp850 console."""
    full = cli_env()
    path = [str(FOREIGN_OS), *filter(None, [full.get("PYTHONPATH")])]
    full.update(PYTHONPATH=os.pathsep.join(path), PYTHONIOENCODING="cp850", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        env=full,
        timeout=300,
        check=False,
    )


def text(stream: bytes) -> str:
    return stream.decode("cp850")


# --- the whole cycle with Linux's facilities hidden ----------------------------------------


def test_backup_verify_restore_run_without_linux_facilities(w, tmp_path):
    usb = tmp_path / "E"
    usb.mkdir()
    done = foreign_cli(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS,
    )  # fmt: skip
    out, err = text(done.stdout), text(done.stderr)
    assert done.returncode == 0, out + err
    assert "Traceback" not in err
    assert "BACKED UP" in out
    # No posix_fadvise and not macOS: the read-back may have read the cache, and says so.
    assert "the read-back could not bypass this system's file cache" in out
    # Scripts get the same fact in the JSON document.
    again = foreign_cli(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--name", "again", "--json",
    )  # fmt: skip
    assert again.returncode == 0, text(again.stdout) + text(again.stderr)
    assert json.loads(again.stdout)["backups"][0]["read_back_from_medium"] is False
    (usb / "again.tar.zst").unlink()
    (usb / "again.tar.zst.minisig").unlink()
    (archive,) = usb.glob("*.tar.zst")
    done = foreign_cli(
        "verify", archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS
    )
    assert done.returncode == 0, text(done.stdout) + text(done.stderr)
    assert text(done.stdout).startswith("PROVEN")
    done = foreign_cli(
        "restore", archive, tmp_path / "restored", "--key", w.shop_pub, "--trust", w.editor,
        "--years", bs.YEARS,
    )  # fmt: skip
    assert done.returncode == 0, text(done.stdout) + text(done.stderr)
    assert (tmp_path / "restored" / "dossier.json").is_file()


def test_an_unavailable_worker_start_method_is_one_error_line(w):
    done = foreign_cli(
        "check", w.dossier, "--trust", w.editor, "--years", bs.YEARS,
        env={oscompat.START_METHOD_ENV: "forkserver"},
    )  # fmt: skip
    assert done.returncode == 3
    assert text(done.stderr) == (
        "error: cannot start the signature-verification workers: "
        "FISCALSAFE_START_METHOD='forkserver': this system offers spawn\n"
    )


def test_spawned_workers_check_a_dossier(w):
    done = foreign_cli("check", w.dossier, "--trust", w.editor, "--years", bs.YEARS)
    assert done.returncode == 0, text(done.stderr)
    assert text(done.stdout).startswith("PROVEN")


# --- entry point --------------------------------------------------------------------------


def test_the_entry_point_calls_freeze_support_first(monkeypatch):
    from fiscalsafe.cli import entry

    calls = []
    monkeypatch.setattr(multiprocessing, "freeze_support", lambda: calls.append("freeze"))
    monkeypatch.setattr(sys, "argv", ["fiscalsafe", "--version"])
    with pytest.raises(SystemExit) as leaving:
        entry.run()
    assert leaving.value.code == 0
    assert calls == ["freeze"]


def test_a_spawned_worker_importing_the_main_module_does_not_run_the_cli(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["fiscalsafe", "--version"])
    runpy.run_module("fiscalsafe.__main__", run_name="__mp_main__")  # no SystemExit


# --- consoles -----------------------------------------------------------------------------


def test_output_a_code_page_cannot_show_is_replaced_not_a_crash(tmp_path):
    folder = tmp_path / "clé—€"
    done = foreign_cli("keys", "generate", "--out", folder, "--no-passphrase")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in text(done.stderr)
    assert f"public {tmp_path / 'clé??'}{os.sep}shop.pub" in text(done.stdout)


def test_the_progress_bar_is_ascii_on_a_code_page_console():
    import io

    from rich.console import Console
    from rich.progress import BarColumn, Progress

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp850", errors="strict")
    console = Console(file=stream, force_terminal=True, width=60, color_system=None)
    with Progress("backup", BarColumn(), console=console, auto_refresh=False) as progress:
        task = progress.add_task("backup", total=10)
        progress.update(task, completed=4)
        progress.refresh()
    stream.flush()
    shown = raw.getvalue().decode("cp850")
    assert "━" not in shown and "-" in shown


# --- Windows files ------------------------------------------------------------------------


def sharing_violation() -> PermissionError:
    exc = PermissionError(13, "The process cannot access the file")
    exc.winerror = 32
    return exc


def test_a_backup_whose_previous_file_is_held_open_leaves_it_intact(w, tmp_path, monkeypatch):
    monkeypatch.setattr(bs.workers, "default_workers", lambda: 1)
    usb = tmp_path / "usb"
    previous = bs.copy_files(bs.backup_paths(w.backup), usb)
    before = {p.name: p.read_bytes() for p in previous}
    real_replace = os.replace

    def held_by_antivirus(src, dst):
        if str(dst).endswith(".tar.zst"):
            raise sharing_violation()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", held_by_antivirus)
    monkeypatch.setattr(oscompat.time, "sleep", lambda seconds: None)
    bs.freeze_clock(monkeypatch)
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS,
    )  # fmt: skip
    assert r.code == 3, r
    (archive,) = [p for p in previous if p.name.endswith(".tar.zst")]
    assert r.err.startswith(f"error: {archive} could not be replaced: another program holds it")
    assert {p.name: p.read_bytes() for p in usb.iterdir()} == before  # no partial left


def test_a_dossier_file_held_open_stops_the_backup_naming_it(w, tmp_path, monkeypatch):
    monkeypatch.setattr(bs.workers, "default_workers", lambda: 1)
    usb = tmp_path / "usb"
    usb.mkdir()
    held = max((p for p in (w.dossier / "odeis").iterdir()), key=lambda p: p.stat().st_size)
    real_open = os.open

    def held_by_the_application(path, flags, *args, **kwargs):
        if str(path) == str(held):
            raise sharing_violation()
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", held_by_the_application)
    bs.freeze_clock(monkeypatch)
    r = bs.invoke(
        "backup", w.dossier, "--to", usb, "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS,
    )  # fmt: skip
    assert r.code == 3, r
    assert " ".join(r.err.split()) == (
        f"error: {held} (dossier file) cannot be read: another program holds it open (the "
        "shop application, an antivirus, a file explorer preview); close it and run again; "
        "nothing was replaced (no earlier backup of that name on the medium)"
    )
    assert list(usb.iterdir()) == []


def test_restored_files_are_writable_on_windows(w, tmp_path, monkeypatch):
    monkeypatch.setattr(bs.workers, "default_workers", lambda: 1)
    root = bs.copy_root(w, tmp_path / "root")
    dossier = root.dossiers[0]
    read_only = dossier / "dossier.json"
    read_only.chmod(0o444)
    (tmp_path / "usb").mkdir()
    archive = bs.make_backup(w, dossier, tmp_path / "usb").files[0]
    # Windows' Python: chmod and utime cannot act on a link itself; read-only is an attribute.
    modes = {}
    real_chmod = os.chmod

    def windows_chmod(path, mode, *, follow_symlinks=True):
        if not follow_symlinks:
            raise NotImplementedError("chmod: follow_symlinks unavailable on this platform")
        modes[Path(path).name] = mode
        real_chmod(path, mode | stat.S_IWUSR)  # the staging folder stays removable

    monkeypatch.setattr(os, "chmod", windows_chmod)
    monkeypatch.setattr(os, "supports_follow_symlinks", set())
    monkeypatch.setattr(oscompat, "is_windows", lambda: True)
    r = bs.restore_cli(w, archive, tmp_path / "restored")
    assert r.code == 0, r
    assert modes["dossier.json"] == 0o444 | stat.S_IWRITE


def test_restored_modes_are_the_manifests_elsewhere(w, tmp_path, monkeypatch):
    monkeypatch.setattr(bs.workers, "default_workers", lambda: 1)
    root = bs.copy_root(w, tmp_path / "root")
    dossier = root.dossiers[0]
    (dossier / "dossier.json").chmod(0o444)
    (tmp_path / "usb").mkdir()
    result = bs.make_backup(w, dossier, tmp_path / "usb")
    r = bs.restore_cli(w, result.files[0], tmp_path / "restored")
    assert r.code == 0, r
    assert stat.S_IMODE((tmp_path / "restored" / "dossier.json").stat().st_mode) == 0o444


def test_a_secret_key_gets_an_owner_only_acl_on_windows(tmp_path, monkeypatch):
    calls = []

    def icacls(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(oscompat, "is_windows", lambda: True)
    monkeypatch.setattr(subprocess, "run", icacls)
    monkeypatch.setenv("USERNAME", "caisse")
    monkeypatch.delenv("USERDOMAIN", raising=False)
    r = bs.invoke("keys", "generate", "--out", tmp_path, "--no-passphrase")
    assert r.code == 0, r
    assert calls == [
        ["icacls", str(tmp_path / "shop.key"), "/inheritance:r", "/grant:r", "caisse:F"]
    ]
    assert "warning" not in r.err


def test_a_secret_key_acl_that_cannot_be_set_is_a_warning(tmp_path, monkeypatch):
    def icacls(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "icacls")

    monkeypatch.setattr(oscompat, "is_windows", lambda: True)
    monkeypatch.setattr(subprocess, "run", icacls)
    monkeypatch.setenv("USERNAME", "caisse")
    r = bs.invoke("keys", "generate", "--out", tmp_path, "--no-passphrase")
    assert r.code == 0, r
    assert f"warning: {tmp_path / 'shop.key'} could not be made readable by you alone: " in (
        " ".join(r.err.split())
    )
    assert (tmp_path / "shop.key").is_file()


# --- trust folder -------------------------------------------------------------------------


@pytest.fixture
def config_homes(tmp_path, monkeypatch):
    import platformdirs

    home, config = tmp_path / "home", tmp_path / "AppData" / "Roaming"
    monkeypatch.delenv("FISCALSAFE_TRUST_DIR", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda *a, **k: str(config / "fiscalsafe"))
    return home, config


def test_trust_folder_is_the_systems_config_folder(config_homes):
    from fiscalsafe.cli import trust

    home, config = config_homes
    assert trust.trust_dir() == config / "fiscalsafe" / "trust"


def test_the_former_trust_folder_is_still_read_when_alone(config_homes):
    from fiscalsafe.cli import trust

    home, config = config_homes
    legacy = home / ".config" / "fiscalsafe" / "trust"
    (legacy / "shop").mkdir(parents=True)
    assert trust.trust_dir() == legacy
    (config / "fiscalsafe" / "trust").mkdir(parents=True)
    assert trust.trust_dir() == config / "fiscalsafe" / "trust"


# --- paths as Windows writes them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("C:\\Boutique\\ventes.db", "backslash"),
        ("C:/Boutique/ventes.db", "drive letter"),
        ("\\\\serveur\\partage\\ventes.db", "backslash"),
        ("//serveur/partage/ventes.db", "absolute"),
        ("odeis/ventes.db:Zone.Identifier", "stream"),
        ("odeis/CON.txt", "device"),
    ],
)
def test_windows_shaped_member_names_are_refused(name, reason):
    from fiscalsafe.formats import paths

    assert reason in (paths.unsafe_reason(name) or "")


def test_accented_names_and_long_folders_are_portable():
    from fiscalsafe.formats import paths

    assert paths.unsafe_reason("photos/Crème brûlée/été 2026.jpg") is None
    deep = "/".join(["dossier-fiscal-très-long"] * 12) + "/clôture.msgpack"
    assert len(deep) > 260 and paths.unsafe_reason(deep) is None
