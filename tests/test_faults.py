"""Faults during a backup: no space, I/O errors, interruptions, a changing or read-only
source, an unusable destination.

After each fault: the previous backup of the same name is untouched and still verifies,
nothing that could pass for a complete backup is left (only hidden ``.partial`` names,
and only after SIGKILL, which nothing can clean up after; ``verify`` fails on them and
``list`` ignores them), and the dossier is byte-identical.

Real file systems (a full 2 MB tmpfs, a read-only bind mount) are used only when running
as root with ``FISCALSAFE_TEST_MOUNT=1``; everywhere else the faults are injected.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AS_OF, UNTIL, cli_env, copy_sample, run_cli

from fiscalsafe import fsio, minisign
from fiscalsafe.errors import OperationalError, UsageError
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.pipeline import backup_payload, media
from fiscalsafe.pipeline import sink as sink_module
from fiscalsafe.pipeline.backup import (
    BackupOptions,
    BackupResult,
    ChangedDuringBackup,
    backup_dossier,
)
from fiscalsafe.pipeline.listing import list_backups
from fiscalsafe.pipeline.restore import StagingExtractor, restore_backup
from fiscalsafe.pipeline.verify_backup import verify_stream
from fiscalsafe.samples.sample import SampleResult

SMALL = {"years": 1, "size": 128 * 1024, "tickets_per_day": 1}
NAME = "nightly"
ARCHIVE = f"{NAME}.tar.zst"
MOUNT_TESTS = os.environ.get("FISCALSAFE_TEST_MOUNT") == "1"


def tree(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: content digest, size, mode, mtime."""
    out: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[path.relative_to(root).as_posix()] = (digest, st.st_size, st.st_mode, st.st_mtime_ns)
    return out


@dataclass
class World:
    sample: SampleResult
    dossier: Path
    secret: minisign.SecretKey
    editor: Path
    medium: Path
    previous: dict[str, bytes]  # the previous backup's files, by name

    def backup(self, **options) -> BackupResult:
        opts = BackupOptions(years=1, name=NAME, trust=[self.editor], **options)
        return backup_dossier(
            self.dossier, self.medium, self.secret, now=AS_OF, profile=DEFAULT_PROFILE, opts=opts
        )

    def assert_unharmed(self, dossier_before: dict) -> None:
        """The three promises, after a failed backup."""
        assert sorted(p.name for p in self.medium.iterdir()) == sorted(self.previous)
        for name, data in self.previous.items():
            assert (self.medium / name).read_bytes() == data, name
        report = verify_stream(
            [self.medium / ARCHIVE],
            shop_key=self.secret.public_key(),
            trust=[self.editor],
            as_of=None,
            years=1,
            workers=1,
        )
        assert report.ok, [f.to_json() for f in report.findings]
        assert tree(self.dossier) == dossier_before


pytestmark = pytest.mark.usefixtures("one_worker")


@pytest.fixture
def world(make_sample, tmp_path: Path) -> World:
    sample = copy_sample(make_sample(**SMALL), tmp_path / "root")
    secret = minisign.load_secret_key(sample.keys["shop_secret"], None)
    medium = tmp_path / "medium"
    medium.mkdir()
    w = World(sample, sample.dossiers[0], secret, sample.keys["editor_public"], medium, {})
    w.backup()
    w.previous = {p.name: p.read_bytes() for p in medium.iterdir()}
    return w


class FailingFile:
    """A file whose writes fail with ``error`` once ``budget`` bytes have been written."""

    def __init__(self, fh, budget: list[int], error: int):
        self._fh, self._budget, self._error = fh, budget, error

    def write(self, data) -> int:
        if len(data) > self._budget[0]:
            raise OSError(self._error, os.strerror(self._error))
        self._budget[0] -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def failing_create(budget: int, error: int, sidecars: bool = False) -> Callable:
    """A ``fsio.create_new`` whose archive files (or, with ``sidecars``, signature files)
    share a budget of ``budget`` bytes; the other files it creates are left alone."""
    left = [budget]
    real = fsio.create_new

    def fake_create(path, mode=0o644):
        fh = real(path, mode)
        return (
            FailingFile(fh, left, error)
            if str(path).endswith(".minisig.partial") == sidecars
            else fh
        )

    return fake_create


# No space, I/O errors.


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
@pytest.mark.parametrize("where", [0, 4096, 0.5, 0.98])
def test_archive_write_fails(world: World, monkeypatch, error: int, where) -> None:
    """The medium fills up (or fails) after N bytes of the new archive."""
    size = len(world.previous[ARCHIVE])
    budget = where if isinstance(where, int) else int(size * where)
    before = tree(world.dossier)
    monkeypatch.setattr(fsio, "create_new", failing_create(budget, error))
    with pytest.raises(OSError) as caught:
        world.backup()
    assert caught.value.errno == error
    world.assert_unharmed(before)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
def test_sidecar_write_fails(world: World, monkeypatch, error: int) -> None:
    """The archive fitted, its 500-byte signature did not."""
    before = tree(world.dossier)
    monkeypatch.setattr(fsio, "create_new", failing_create(0, error, sidecars=True))
    with pytest.raises(OperationalError, match=os.strerror(error)):
        world.backup()
    world.assert_unharmed(before)


def test_cleanup_failure_does_not_mask_the_original_error(world: World, monkeypatch) -> None:
    """On a medium that also refuses to delete (read-only, failing), the clean-up's
    OSError must not replace the error that made the backup stop."""
    before = tree(world.dossier)
    monkeypatch.setattr(fsio, "create_new", failing_create(4096, errno.ENOSPC))
    real_unlink = Path.unlink

    def refusing_unlink(self, missing_ok=False):
        if self.name.endswith(".partial"):
            raise OSError(errno.EIO, "Input/output error", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refusing_unlink)
    with pytest.raises(OSError) as caught:
        world.backup()
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    leftovers = sorted(p.name for p in world.medium.iterdir() if p.name not in world.previous)
    assert leftovers == [f".{ARCHIVE}.partial"]  # hidden, and never taken for a backup
    (world.medium / leftovers[0]).unlink()
    world.assert_unharmed(before)


def test_fsync_fails(world: World, monkeypatch) -> None:
    before = tree(world.dossier)

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        world.backup()
    monkeypatch.undo()
    world.assert_unharmed(before)


def test_medium_returns_other_bytes_on_read_back(world: World, monkeypatch) -> None:
    """A failing stick: what is read back differs from what was written."""
    before = tree(world.dossier)
    original = sink_module.OutputSink.readback

    def corrupting_readback(self) -> None:
        with open(self.parts[0].partial, "r+b") as fh:
            fh.seek(self.parts[0].size // 2)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 1]))
        original(self)

    monkeypatch.setattr(sink_module.OutputSink, "readback", corrupting_readback)
    with pytest.raises(OperationalError, match="read-back"):
        world.backup()
    world.assert_unharmed(before)


def test_source_read_error(world: World, monkeypatch) -> None:
    """EIO while reading a dossier file (a dying disk on the shop's computer)."""
    before = tree(world.dossier)

    class FailingRead:
        def __init__(self, fh):
            self._fh = fh

        def read(self, *args):
            raise OSError(errno.EIO, "Input/output error")

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    real_open_regular = fsio.open_regular

    def fake_open(path, *args, **kwargs):
        fh = real_open_regular(path, *args, **kwargs)
        return FailingRead(fh) if str(path).endswith(".fic") and fh is not None else fh

    monkeypatch.setattr(fsio, "open_regular", fake_open)
    with pytest.raises(OSError):
        world.backup()
    monkeypatch.undo()
    world.assert_unharmed(before)


def test_preflight_refuses_when_the_medium_is_too_small(world: World, monkeypatch) -> None:
    before = tree(world.dossier)
    monkeypatch.setattr(media, "free_bytes", lambda path: 10_000)
    with pytest.raises(OperationalError, match="not enough space"):
        world.backup()
    world.assert_unharmed(before)


def test_interrupted_in_process(world: World) -> None:
    """Ctrl-C in the middle of the copy (delivered as KeyboardInterrupt)."""
    before = tree(world.dossier)
    calls = [0]

    def progress(done: int, total: int) -> None:
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt

    opts = BackupOptions(years=1, name=NAME, trust=[world.editor])
    with pytest.raises(KeyboardInterrupt):
        backup_dossier(
            world.dossier,
            world.medium,
            world.secret,
            now=AS_OF,
            profile=DEFAULT_PROFILE,
            opts=opts,
            progress=progress,
        )
    world.assert_unharmed(before)


# A source that changes, a source that cannot be written.


@pytest.mark.parametrize("how", ["appended", "rewritten-same-size", "truncated"])
def test_source_file_modified_during_the_copy(world: World, monkeypatch, how: str) -> None:
    """The shop application writes to the file being copied, mid-copy."""
    monkeypatch.setattr(backup_payload, "CHUNK", 512)  # several chunks per file
    current: list = [None]
    original_copy = backup_payload.copy_member

    def tracking_copy(tar, f, member, progress, done, total, *rest):
        current[0] = f
        return original_copy(tar, f, member, progress, done, total, *rest)

    monkeypatch.setattr(backup_payload, "copy_member", tracking_copy)
    changed: list[Path] = []

    def progress(done: int, total: int) -> None:
        f = current[0]
        if changed or f is None or f.size < 4096 or not f.relpath.startswith("odeis/"):
            return
        data = f.path.read_bytes()
        if how == "appended":
            data += b"new sale"
        elif how == "rewritten-same-size":
            data = data[:-8] + b"NEWSALE!"
        else:
            data = data[:100]
        f.path.write_bytes(data)
        changed.append(f.path)

    opts = BackupOptions(years=1, name=NAME, trust=[world.editor])
    before = tree(world.dossier)
    with pytest.raises(ChangedDuringBackup):
        backup_dossier(
            world.dossier,
            world.medium,
            world.secret,
            now=AS_OF,
            profile=DEFAULT_PROFILE,
            opts=opts,
            progress=progress,
        )
    assert changed
    after = tree(world.dossier)
    changed_rel = changed[0].relative_to(world.dossier).as_posix()
    before.pop(changed_rel)
    after.pop(changed_rel)
    assert after == before  # nothing changed but the application's own write
    monkeypatch.undo()
    # The previous backup is untouched and proven; the dossier was compared just above,
    # without the one file the application changed.
    world.assert_unharmed(tree(world.dossier))


@contextlib.contextmanager
def read_only_tree(root: Path) -> Iterator[None]:
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    try:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode) & ~0o222)
        yield
    finally:
        for path, mode in sorted(modes.items(), reverse=True):
            path.chmod(stat.S_IMODE(mode))


def test_read_only_source_is_backed_up_and_never_written(world: World) -> None:
    """Every write bit removed (root ignores them, so the tree is also compared: nothing
    in it, not even a mode or an access-independent time, changes)."""
    with read_only_tree(world.dossier):
        before = tree(world.dossier)
        result = world.backup()
        assert tree(world.dossier) == before
    assert result.check_verdict == "proven"


@pytest.mark.allowed_skip("a machine that cannot mount file systems has no real mount to test")
@pytest.mark.skipif(
    not (MOUNT_TESTS and os.geteuid() == 0), reason="needs root and FISCALSAFE_TEST_MOUNT=1"
)
def test_read_only_bind_mount_source(world: World, tmp_path: Path) -> None:
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    subprocess.run(["mount", "--bind", str(world.dossier), str(mount_point)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], check=True)
        with pytest.raises(OSError):
            (mount_point / "probe").write_bytes(b"x")
        before = tree(mount_point)
        opts = BackupOptions(years=1, name="from-ro", trust=[world.editor])
        backup_dossier(
            mount_point, world.medium, world.secret, now=AS_OF, profile=DEFAULT_PROFILE, opts=opts
        )
        assert tree(mount_point) == before
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


# An unusable destination.


def test_destination_missing_or_not_a_folder(world: World, tmp_path: Path) -> None:
    # A missing folder is created, but only the last level: a missing parent is a medium
    # that is not there.
    for dest in (tmp_path / "no-such-stick" / "backups", world.medium / ARCHIVE):
        with pytest.raises(UsageError):
            backup_dossier(
                world.dossier,
                dest,
                world.secret,
                now=AS_OF,
                profile=DEFAULT_PROFILE,
                opts=BackupOptions(years=1, name=NAME, trust=[world.editor]),
            )
    assert not (tmp_path / "no-such-stick").exists()


def test_read_only_destination(world: World, monkeypatch) -> None:
    """A write-protected stick: EROFS when the first file is created (injected, since the
    permission bits do not stop root)."""
    before = tree(world.dossier)

    real_open = os.open

    def read_only_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(fsio.os, "open", read_only_open)
    with pytest.raises(OperationalError, match="Read-only file system"):
        world.backup()
    world.assert_unharmed(before)


@pytest.mark.allowed_skip("root, as CI runs, cannot be refused by permission bits")
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_non_writable_destination_folder(world: World) -> None:
    before = tree(world.dossier)
    world.medium.chmod(0o555)
    try:
        with pytest.raises(OperationalError):
            world.backup()
    finally:
        world.medium.chmod(0o755)
    world.assert_unharmed(before)


def test_cli_reports_an_unusable_destination_in_one_line(world: World, tmp_path: Path) -> None:
    keys = world.sample.keys
    # A missing folder is created, but only the last level: a missing parent is a medium
    # that is not there.
    for dest in (tmp_path / "no-such-stick" / "backups", world.medium / ARCHIVE):
        code, out, err = run_cli(
            "backup", world.dossier, "--to", dest, "--key", keys["shop_secret"], "--years", "1"
        )
        assert code == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.allowed_skip("a machine that cannot mount file systems has no real mount to test")
@pytest.mark.skipif(
    not (MOUNT_TESTS and os.geteuid() == 0), reason="needs root and FISCALSAFE_TEST_MOUNT=1"
)
@pytest.mark.parametrize("preflight", [True, False], ids=["preflight", "write"])
def test_real_full_filesystem(world: World, tmp_path: Path, monkeypatch, preflight) -> None:
    """A 2 MB tmpfs, holding the previous backup and a filler that leaves 32 KB."""
    with tmpfs(tmp_path / "stick", "size=2m") as stick:
        for name, data in world.previous.items():
            (stick / name).write_bytes(data)
        free = media.free_bytes(stick)
        (stick / "filler").write_bytes(bytes(free - 32 * 1024))
        world.medium = stick
        world.previous = {p.name: p.read_bytes() for p in stick.iterdir()}
        before = tree(world.dossier)
        if not preflight:
            monkeypatch.setattr(media, "free_bytes", lambda path: 10**12)
        with pytest.raises(OSError if not preflight else OperationalError) as caught:
            world.backup()
        if not preflight:
            assert caught.value.errno == errno.ENOSPC
        world.assert_unharmed(before)


@pytest.mark.allowed_skip("a machine that cannot mount file systems has no real mount to test")
@pytest.mark.skipif(
    not (MOUNT_TESTS and os.geteuid() == 0), reason="needs root and FISCALSAFE_TEST_MOUNT=1"
)
def test_real_read_only_filesystem(world: World, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "stick", "size=2m,ro") as stick, pytest.raises(OperationalError):
        backup_dossier(
            world.dossier,
            stick,
            world.secret,
            now=AS_OF,
            profile=DEFAULT_PROFILE,
            opts=BackupOptions(years=1, name=NAME, trust=[world.editor]),
        )


# Restore is interrupted too: it must not leave a tree that looks complete.


@pytest.mark.parametrize("fault", ["KeyboardInterrupt", "ENOSPC"])
def test_restore_interrupted_leaves_nothing(world: World, tmp_path: Path, monkeypatch, fault):
    original_close = StagingExtractor.close

    def failing_close(self, relpath, fh, mode, mtime):
        original_close(self, relpath, fh, mode, mtime)
        if self.written == 10:
            if fault == "KeyboardInterrupt":
                raise KeyboardInterrupt
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StagingExtractor, "close", failing_close)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises((KeyboardInterrupt, OSError)):
        restore_backup(
            [world.medium / ARCHIVE],
            out / "dest",
            shop_key=world.secret.public_key(),
            trust=[world.editor],
            as_of=None,
            years=1,
            workers=1,
        )
    assert list(out.iterdir()) == []


# Signals sent to a real backup process.


@dataclass
class Live:
    """A sample dated today (the command line checks as of now) and a finished backup."""

    sample: SampleResult
    medium: Path
    previous: dict[str, bytes]
    dossier_tree: dict


def backup_args(live: Live, *extra: str) -> list[str]:
    keys = live.sample.keys
    return [
        "backup",
        str(live.sample.dossiers[0]),
        "--to",
        str(live.medium),
        "--key",
        str(keys["shop_secret"]),
        "--trust",
        str(keys["editor_public"]),
        "--years",
        "1",
        "--name",
        NAME,
        *extra,
    ]


@pytest.fixture(scope="module")
def live(make_sample, tmp_path_factory) -> Live:
    sample = make_sample(until=UNTIL, years=1, size=10 * 1024**2, tickets_per_day=8, shops=1)
    medium = tmp_path_factory.mktemp("live-medium")
    result = Live(sample, medium, {}, tree(sample.dossiers[0]))
    code, out, err = run_cli(*backup_args(result))
    assert code == 0, (out, err)
    result.previous = {p.name: p.read_bytes() for p in medium.iterdir()}
    code, out, err = run_cli(
        "verify", medium / ARCHIVE, "--key", sample.keys["shop_public"],
        "--trust", sample.keys["editor_public"], "--years", "1",
    )  # fmt: skip
    assert code == 0, (out, err)
    return result


def wait_until(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if condition():
            return True
        time.sleep(0.005)
    return False


def partial_size(medium: Path) -> int:
    path = medium / f".{ARCHIVE}.partial"
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def pool_processes(pid: int) -> list[int]:
    """The fiscal check's forkserver (and its workers), or its spawned workers, started by
    process ``pid``."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
            cmdline = (stat_file.parent / "cmdline").read_bytes()
        except OSError:
            continue
        worker = b"forkserver" in cmdline or b"multiprocessing.spawn" in cmdline
        if int(fields[1]) == pid and worker:
            server = int(stat_file.parent.name)
            found.append(server)
            found += [
                int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat") if _ppid(p) == server
            ]
    return found


def _ppid(stat_file: Path) -> int | None:
    try:
        return int(stat_file.read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def holds_interrupts(pid: int) -> bool:
    """Whether process ``pid`` blocks or ignores Ctrl-C or SIGTERM right now, as it does
    while its workers start (where signals cannot be masked, a signal then is lost)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    held = 0
    for line in status.splitlines():
        if line.startswith(("SigBlk:", "SigIgn:")):
            held |= int(line.split()[1], 16)
    wanted = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    return bool(held & wanted)


POINTS = {
    # The check's workers are up (not just their server, which starts with the command) and
    # the command has stopped holding signals back: the archives are being verified.
    "while-checking": lambda proc, medium: (
        len(pool_processes(proc.pid)) > 1 and not holds_interrupts(proc.pid)
    ),
    "archive-created": lambda proc, medium: partial_size(medium) >= 0,
    "archive-half-written": lambda proc, medium: partial_size(medium) >= 256 * 1024,
}


#: How each signal usually arrives: Ctrl-C in a terminal and ``timeout``/systemd signal
#: the whole process group; the OOM killer (or ``kill -9 PID``) only the one process.
SENDERS = {
    "SIGINT-to-group": (signal.SIGINT, True),
    "SIGINT-to-process": (signal.SIGINT, False),
    "SIGTERM-to-group": (signal.SIGTERM, True),
    "SIGKILL-to-process": (signal.SIGKILL, False),
}


#: (sender, point): every point with Ctrl-C and SIGKILL; SIGTERM and a Ctrl-C sent to the
#: process alone (``kill -INT PID``) where they differ most.
SIGNAL_CASES = [
    ("SIGINT-to-group", "while-checking"),
    ("SIGINT-to-group", "archive-half-written"),
    ("SIGINT-to-process", "archive-created"),
    ("SIGTERM-to-group", "while-checking"),
    ("SIGTERM-to-group", "archive-half-written"),
    ("SIGKILL-to-process", "while-checking"),
    ("SIGKILL-to-process", "archive-created"),
    ("SIGKILL-to-process", "archive-half-written"),
]


def restore_default_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(("sender", "point"), SIGNAL_CASES)
def test_signal_during_a_real_backup(live: Live, sender: str, point: str, tmp_path: Path) -> None:
    """SIGKILL while checking also proves that no pool worker outlives the command."""
    sig, to_group = SENDERS[sender]
    # A state folder of its own: no remembered proof, every archive is checked in full, so
    # the signal finds the check running.
    env = {**cli_env(), "FISCALSAFE_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fiscalsafe", *backup_args(live, "--level", "15")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        # A suite started in the background inherits Ctrl-C ignored; the command would too.
        preexec_fn=restore_default_interrupts,
    )
    pool: list[int] = []
    try:
        reached = wait_until(proc, lambda: POINTS[point](proc, live.medium), timeout=60)
        if reached:
            pool = pool_processes(proc.pid)
            if to_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        # Pool workers that outlived a SIGKILL would hold stdout and stderr open, and this
        # would wait forever.
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pool:  # only if workers outlived the command: never leave our orphans
            with contextlib.suppress(OSError):
                if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
    assert reached, f"the backup ended before {point}: {proc.returncode} {out!r} {err!r}"
    end = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pool) and time.monotonic() < end:
        time.sleep(0.05)
    assert not [
        pid
        for pid in pool
        if Path(f"/proc/{pid}/stat").exists()
        and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    ], "orphans left"
    err_text = err.decode()
    assert "Traceback" not in err_text, err_text
    leftovers = sorted(p.name for p in live.medium.iterdir() if p.name not in live.previous)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert all(n.startswith(".") and n.endswith(".partial") for n in leftovers), leftovers
    else:
        assert proc.returncode == 3, (proc.returncode, err_text)
        assert "interrupted" in err_text
        assert leftovers == []
    for name, data in live.previous.items():
        assert (live.medium / name).read_bytes() == data
    assert tree(live.sample.dossiers[0]) == live.dossier_tree
    keys = live.sample.keys
    args = {
        "shop_key": minisign.load_public_key(keys["shop_public"]),
        "trust": [keys["editor_public"]],
        "as_of": None,
        "years": 1,
        "workers": 1,
    }
    # Byte-identical to the previous backup, which the fixture proved: still proven.
    assert [b.name for b in list_backups(live.medium)] == [ARCHIVE]
    partial = live.medium / f".{ARCHIVE}.partial"
    if partial.exists():
        report = verify_stream([partial], **args)
        assert not report.ok
        assert {f.code for f in report.findings} & {"CONTAINER_TRUNCATED", "SIDECAR_MISSING"}
        if point == "archive-half-written":  # once through the real command line
            code, out, err = run_cli("verify", partial, "--key", keys["shop_public"])
            assert code == 1 and "NOT PROVEN" in out and "Traceback" not in err, (out, err)
            code, out, err = run_cli("list", live.medium)
            backups = [line for line in out.splitlines() if line.startswith("MAG001")]
            assert code == 0 and len(backups) == 1 and ARCHIVE in backups[0], out
            # The partial file is named as a leftover, never as a backup.
            leftover = (
                f"leftover of an interrupted backup (power cut, medium pulled out?): .{ARCHIVE}"
            )
            assert f"{leftover}.partial" in out, out
    # The next night's run replaces whatever a killed run left behind.
    for leftover in leftovers:
        (live.medium / leftover).unlink()
