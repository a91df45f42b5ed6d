"""The platform layer, one facility at a time, on every system's code path.

Only Linux runs here: the Windows and macOS calls are exercised by faking the layer below
them (the ctypes function objects, ``fcntl``, ``icacls``) and checking what they are asked
and what is made of their answers. Whether the real Windows and macOS calls behave as
faked is for the hosted CI's Windows and macOS runners.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
from pathlib import PureWindowsPath

import pytest

from fiscalsafe import fsio, oscompat
from fiscalsafe.errors import OperationalError
from fiscalsafe.pipeline import media, workers


def sharing_violation(winerror: int = 32) -> PermissionError:
    exc = PermissionError(13, "The process cannot access the file")
    exc.winerror = winerror  # what Windows sets; absent elsewhere
    return exc


@pytest.fixture
def on_windows(monkeypatch):
    monkeypatch.setattr(oscompat, "is_windows", lambda: True)
    monkeypatch.setattr(oscompat, "is_macos", lambda: False)


@pytest.fixture
def on_macos(monkeypatch):
    monkeypatch.setattr(oscompat, "is_windows", lambda: False)
    monkeypatch.setattr(oscompat, "is_macos", lambda: True)


# --- worker start method -----------------------------------------------------------------


def test_start_method_is_forkserver_where_it_exists_else_spawn(monkeypatch):
    monkeypatch.delenv(oscompat.START_METHOD_ENV, raising=False)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert oscompat.start_method() == "spawn"
    assert workers.worker_context().get_start_method() == "spawn"
    monkeypatch.setattr(
        multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn", "forkserver"]
    )
    assert oscompat.start_method() == "forkserver"


def test_start_method_can_be_forced_and_an_unavailable_one_is_an_error(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setenv(oscompat.START_METHOD_ENV, "spawn")
    assert oscompat.start_method() == "spawn"
    monkeypatch.setenv(oscompat.START_METHOD_ENV, "forkserver")
    expected = "workers.*FISCALSAFE_START_METHOD='forkserver': this system offers spawn"
    with pytest.raises(OSError, match=expected):
        workers.start_server()


def test_signals_are_ignored_while_workers_start_without_pthread_sigmask(monkeypatch):
    monkeypatch.delattr(signal, "pthread_sigmask", raising=False)
    reached = []
    with workers.signals_held():
        # Ignored, not noted: a worker started now inherits the ignored disposition and
        # cannot die of a Ctrl-C half-way through its start.
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)
        reached.append("after the signal")
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_interrupt_signals_include_ctrl_break_where_it_exists(monkeypatch):
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert {signal.SIGINT, signal.SIGTERM, 21} <= oscompat.interrupt_signals()


# --- free space and file systems ---------------------------------------------------------


def test_free_space_comes_from_disk_usage_not_statvfs(monkeypatch, tmp_path):
    usage = shutil._ntuple_diskusage(10_000, 4_000, 6_000)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    monkeypatch.delattr(os, "statvfs", raising=False)
    assert media.free_bytes(tmp_path) == 6_000


class FakeKernel32:
    """``GetVolumePathNameW`` and ``GetVolumeInformationW`` as ctypes calls them."""

    def __init__(self, root: str, fs_name: str | None):
        self.root, self.fs_name, self.asked = root, fs_name, []

    def GetVolumePathNameW(self, path, buffer, size):  # noqa: N802 - the Win32 name
        self.asked.append(("path", path, size))
        buffer.value = self.root
        return 1

    def GetVolumeInformationW(self, root, name, name_size, serial, max_len, flags, fs, size):  # noqa: N802
        self.asked.append(("info", root, size))
        if self.fs_name is None:
            return 0
        fs.value = self.fs_name
        return 1


@pytest.mark.parametrize(
    ("reported", "split"),
    [("FAT32", True), ("FAT", True), ("exFAT", False), ("NTFS", False), (None, False)],
)
def test_windows_volume_file_system_decides_the_split(
    on_windows, monkeypatch, tmp_path, reported, split
):
    kernel32 = FakeKernel32("E:\\", reported)
    monkeypatch.setattr(oscompat, "_windll", lambda name: kernel32)
    assert media.needs_split(tmp_path) is split
    assert media.filesystem_type(tmp_path) == (reported.lower() if reported else None)
    assert kernel32.asked[0][0] == "path" and kernel32.asked[1] == ("info", "E:\\", 261)


def test_windows_detection_never_reads_proc(on_windows, monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open

    def no_proc(file, *args, **kwargs):
        assert not str(file).startswith("/proc"), file
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    monkeypatch.setattr(oscompat, "_windll", lambda name: FakeKernel32("F:\\", "FAT32"))
    assert media.needs_split(tmp_path)


class FakeLibc:
    def __init__(self, fs_name: bytes, symbol: str):
        self.fs_name, self.calls = fs_name, []
        setattr(self, symbol, self._statfs)

    def _statfs(self, path, ref):
        self.calls.append(path)
        ref._obj.f_fstypename = self.fs_name
        ref._obj.f_mntonname = b"/Volumes/CLE USB"
        return 0


@pytest.mark.parametrize("symbol", ["statfs$INODE64", "statfs"])
@pytest.mark.parametrize(
    ("reported", "split"), [(b"msdos", True), (b"exfat", False), (b"apfs", False)]
)
def test_macos_statfs_file_system_decides_the_split(
    on_macos, monkeypatch, tmp_path, symbol, reported, split
):
    libc = FakeLibc(reported, symbol)
    monkeypatch.setattr(oscompat, "_libc", lambda: libc)
    assert media.needs_split(tmp_path) is split
    assert libc.calls[-1] == os.fsencode(os.path.realpath(tmp_path))


def test_macos_statfs_structure_has_darwins_size_and_offsets():
    # struct statfs with 64-bit inodes: 2168 bytes, the type name at offset 72.
    assert ctypes.sizeof(oscompat._MacStatfs) == 2168
    assert oscompat._MacStatfs.f_fstypename.offset == 72


def test_linux_detection_without_proc_says_unknown(monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open

    def no_proc(file, *args, **kwargs):
        if str(file).startswith("/proc"):
            raise FileNotFoundError(2, "No such file", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    assert media.filesystem_type(tmp_path) is None
    assert not media.needs_split(tmp_path)


# --- durable writes and the read-back ----------------------------------------------------


class FakeFcntl:
    F_FULLFSYNC = 51
    F_NOCACHE = 48

    def __init__(self):
        self.calls = []

    def fcntl(self, fd, command, *args):
        self.calls.append((command, *args))
        return 0


def test_macos_flushes_with_f_fullfsync_not_fsync(on_macos, monkeypatch, tmp_path):
    from fiscalsafe.pipeline.sink import OutputSink

    fake = FakeFcntl()
    monkeypatch.setattr(oscompat, "_fcntl", lambda: fake)
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    sink = OutputSink(tmp_path, "b.tar.zst", None)
    sink.write(b"data")
    sink.close()
    assert (FakeFcntl.F_FULLFSYNC,) in fake.calls
    assert synced == []


def test_macos_read_back_bypasses_the_cache_with_f_nocache(on_macos, monkeypatch, tmp_path):
    from fiscalsafe.pipeline.sink import OutputSink

    fake = FakeFcntl()
    monkeypatch.setattr(oscompat, "_fcntl", lambda: fake)
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    sink = OutputSink(tmp_path, "b.tar.zst", None)
    sink.write(b"x" * 1000)
    sink.close()
    sink.readback()
    assert (FakeFcntl.F_NOCACHE, 1) in fake.calls
    assert sink.read_from_medium


def test_a_read_back_that_cannot_bypass_the_cache_says_so(on_windows, monkeypatch, tmp_path):
    from fiscalsafe.pipeline.sink import OutputSink

    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    sink = OutputSink(tmp_path, "b.tar.zst", None)
    sink.write(b"x" * 1000)
    sink.close()
    sink.readback()
    assert sink.read_from_medium is False


def test_no_directory_fsync_on_windows(on_windows, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("a folder was opened to be fsynced")

    monkeypatch.setattr(os, "open", refuse)
    fsio.fsync_dir(tmp_path)


# --- Windows files -------------------------------------------------------------------------


def test_a_briefly_held_file_is_renamed_after_retries(monkeypatch, tmp_path):
    partial, final = tmp_path / ".a.partial", tmp_path / "a"
    partial.write_bytes(b"new")
    real_replace = os.replace
    failures = [sharing_violation(32), sharing_violation(33)]
    waits = []

    def replace(src, dst):
        if failures:
            raise failures.pop(0)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(oscompat.time, "sleep", waits.append)
    fsio.install(partial, final)
    assert final.read_bytes() == b"new"
    assert waits == list(oscompat.RENAME_RETRIES[:2])


def test_a_file_held_open_names_the_file_and_the_reason(monkeypatch, tmp_path):
    partial, final = tmp_path / ".a.partial", tmp_path / "a"
    partial.write_bytes(b"new")
    final.write_bytes(b"old")

    def replace(src, dst):
        raise sharing_violation()

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(oscompat.time, "sleep", lambda s: None)
    with pytest.raises(OperationalError) as caught:
        fsio.install(partial, final)
    assert str(caught.value).startswith(f"{final} could not be replaced: another program holds")
    assert final.read_bytes() == b"old"


def test_a_permission_error_that_is_no_sharing_violation_is_not_retried(monkeypatch, tmp_path):
    partial, final = tmp_path / ".a.partial", tmp_path / "a"
    partial.write_bytes(b"new")
    calls = []

    def replace(src, dst):
        calls.append(dst)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OperationalError, match="cannot rename .a.partial to .*: Permission denied"):
        fsio.install(partial, final)
    assert len(calls) == 1


def test_a_dossier_file_held_open_is_named_when_read(monkeypatch, tmp_path):
    held = tmp_path / "ventes.db"
    held.write_bytes(b"x")
    real_open = os.open

    def os_open(path, flags, *args):
        if str(path) == str(held):
            raise sharing_violation()
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", os_open)
    with pytest.raises(OperationalError) as caught:
        fsio.open_regular(held, "dossier file", OperationalError)
    assert str(caught.value) == (
        f"{held} (dossier file) cannot be read: another program holds it open (the shop "
        "application, an antivirus, a file explorer preview); close it and run again"
    )


def test_restored_files_stay_writable_on_windows(on_windows):
    assert oscompat.restored_mode(0o444) & stat.S_IWRITE
    assert oscompat.restored_mode(0o100444) == 0o444 | stat.S_IWRITE


def test_restored_modes_are_exact_elsewhere():
    assert oscompat.restored_mode(0o100444) == 0o444


def fake_icacls(returncode: int, stderr: str = ""):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    return calls, run


def test_secret_key_acl_is_owner_only_on_windows(on_windows, monkeypatch, tmp_path):
    calls, run = fake_icacls(0)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setenv("USERNAME", "caisse")
    monkeypatch.setenv("USERDOMAIN", "BOUTIQUE")
    assert oscompat.restrict_to_owner(tmp_path / "shop.key") is None
    assert calls == [
        ["icacls", str(tmp_path / "shop.key"), "/inheritance:r", "/grant:r", "BOUTIQUE\\caisse:F"]
    ]


def test_secret_key_acl_failure_is_explained(on_windows, monkeypatch, tmp_path):
    calls, run = fake_icacls(5, "Accès refusé.\r\n")
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setenv("USERNAME", "caisse")
    monkeypatch.delenv("USERDOMAIN", raising=False)
    assert oscompat.restrict_to_owner(tmp_path / "shop.key") == "icacls failed (Accès refusé.)"


def test_no_acl_call_outside_windows(monkeypatch, tmp_path):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("icacls was run"))
    assert oscompat.restrict_to_owner(tmp_path / "shop.key") is None


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected_prefix"),
    [
        ("C:\\Boutique\\" + "dossier-é" * 30, "\\\\?\\C:\\Boutique\\dossier-é"),
        ("C:/Boutique/" + "a" * 300, "\\\\?\\C:\\Boutique\\aaa"),
        ("\\\\serveur\\partage\\" + "Pâtisserie" * 30, "\\\\?\\UNC\\serveur\\partage\\Pâtisserie"),
    ],
)
def test_long_windows_paths_get_the_extended_prefix(path, expected_prefix):
    long = oscompat.long_path(PureWindowsPath(path), windows=True)
    assert long.startswith(expected_prefix)
    assert PureWindowsPath(long[len("\\\\?\\") :]).parts[-1] == PureWindowsPath(path).parts[-1]


@pytest.mark.parametrize(
    "path",
    [
        "E:\\fiscalsafe\\MAG001_lundi_full.tar.zst",  # short: unchanged
        "\\\\?\\E:\\" + "a" * 300,  # already extended
        "relatif\\" + "a" * 300,  # relative: left to the system
    ],
)
def test_other_windows_paths_are_left_alone(path):
    assert oscompat.long_path(path, windows=True) == path


def test_paths_are_left_alone_outside_windows():
    path = "/media/cle/" + "é" * 300
    assert oscompat.long_path(path, windows=False) == path


# --- consoles ---------------------------------------------------------------------------------


def test_console_streams_replace_what_their_code_page_lacks(monkeypatch):
    import io
    import sys

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp850")
    monkeypatch.setattr(sys, "stdout", stream)
    oscompat.make_console_streams_safe()
    print("sauvegarde — 12 €, vérifiée")
    stream.flush()
    assert raw.getvalue().decode("cp850").strip() == "sauvegarde ? 12 ?, vérifiée"


def test_freed_memory_is_given_back_where_the_c_library_can(monkeypatch):
    assert oscompat.release_free_memory() is (os.uname().sysname == "Linux")

    class NoTrim:  # a C library without malloc_trim (musl)
        def __init__(self, name):
            pass

    monkeypatch.setattr(oscompat.ctypes, "CDLL", NoTrim)
    assert oscompat.release_free_memory() is False
    monkeypatch.setattr(oscompat.sys, "platform", "win32")
    assert oscompat.release_free_memory() is False
