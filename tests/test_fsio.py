"""The file-system boundary: exclusive no-follow creation, safe install, bounded reads of
regular files only. Every FIFO test runs under an alarm so a regression fails, not hangs."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from tree_snapshot import changed, snapshot

from fiscalsafe import fsio
from fiscalsafe.errors import MalformedError, OperationalError, UsageError


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) if a test blocks for more than 5 seconds."""

    def expire(signum, frame):
        raise TimeoutError("blocked on a special file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def victim(tmp_path):
    """A file outside the folder being written, that planted links point at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious"
    target.write_bytes(b"previous good backup")
    work = tmp_path / "work"
    work.mkdir()
    return tmp_path, work, target


def test_create_new_removes_a_planted_link_not_its_target(victim):
    root, work, target = victim
    (work / ".b.partial").symlink_to(target)
    before = snapshot(root / "outside")
    with fsio.create_new(work / ".b.partial") as fh:
        fh.write(b"new")
    assert snapshot(root / "outside") == before
    assert not (work / ".b.partial").is_symlink()
    assert (work / ".b.partial").read_bytes() == b"new"


def test_create_new_replaces_a_dangling_link_and_a_leftover(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "leftover").write_bytes(b"old")
    fsio.write_new(tmp_path / "dangling", b"a")
    fsio.write_new(tmp_path / "leftover", b"b")
    assert not (tmp_path / "nowhere").exists()
    assert (tmp_path / "dangling").read_bytes() == b"a"
    assert (tmp_path / "leftover").read_bytes() == b"b"


def test_create_new_refuses_a_folder_at_the_name(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "kept").write_bytes(b"k")
    with pytest.raises(OperationalError, match="is a folder where fiscalsafe writes a file"):
        fsio.create_new(tmp_path / "x")
    assert (tmp_path / "x" / "kept").read_bytes() == b"k"


def test_create_new_never_follows_a_link_created_in_the_race(tmp_path, monkeypatch):
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    path = tmp_path / "raced"
    monkeypatch.setattr(fsio, "clear_name", lambda p: p.symlink_to(target))
    with pytest.raises(OperationalError, match="appeared while fiscalsafe was creating it"):
        fsio.create_new(path)
    assert target.read_bytes() == b"keep"


def test_create_new_applies_the_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fsio.write_new(tmp_path / "key", b"secret", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600


def test_install_replaces_a_link_at_the_final_name_as_itself(victim):
    root, work, target = victim
    (work / "final").symlink_to(target)
    fsio.write_new(work / ".final.partial", b"fresh")
    before = snapshot(root / "outside")
    fsio.install(work / ".final.partial", work / "final")
    assert snapshot(root / "outside") == before
    assert not (work / "final").is_symlink()
    assert (work / "final").read_bytes() == b"fresh"


def test_install_never_installs_a_link(victim):
    root, work, target = victim
    (work / ".final.partial").symlink_to(target)
    with pytest.raises(OperationalError, match="symbolic link, not the file fiscalsafe wrote"):
        fsio.install(work / ".final.partial", work / "final")
    assert not (work / "final").exists()


def test_install_refuses_a_folder_or_a_link_to_one(victim):
    root, work, _ = victim
    fsio.write_new(work / "p", b"x")
    (work / "dir").mkdir()
    (work / "dirlink").symlink_to(root / "outside")
    with pytest.raises(OperationalError, match="is a folder"):
        fsio.install(work / "p", work / "dir")
    with pytest.raises(OperationalError, match="link to a folder"):
        fsio.install(work / "p", work / "dirlink")


def test_atomic_write_through_planted_links_touches_nothing_outside(victim):
    root, work, target = victim
    (work / "record.json").symlink_to(target)
    (work / ".record.json.partial").symlink_to(target)
    before = snapshot(root / "outside")
    fsio.atomic_write(work / "record.json", b"{}")
    assert changed(before, snapshot(root / "outside")) == set()
    assert (work / "record.json").read_bytes() == b"{}"
    assert sorted(p.name for p in work.iterdir()) == ["record.json"]


def test_read_regular_reads_and_bounds(tmp_path):
    (tmp_path / "small").write_bytes(b"12345")
    assert fsio.read_regular(tmp_path / "small", 5, "sidecar") == b"12345"
    assert fsio.read_regular(tmp_path / "absent", 5, "sidecar") is None
    with pytest.raises(MalformedError, match=r"sidecar .*small is larger than 4 bytes"):
        fsio.read_regular(tmp_path / "small", 4, "sidecar")


def test_read_regular_refuses_a_link_even_to_a_regular_file(tmp_path):
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(
        MalformedError, match=r"identity .*link is a symbolic link, not a regular file"
    ):
        fsio.read_regular(tmp_path / "link", 10, "identity")


def test_read_regular_refuses_a_fifo_without_blocking(tmp_path, alarm):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match=r"key .*fifo is a FIFO, not a regular file"):
        fsio.read_regular(tmp_path / "fifo", 10, "key", error=UsageError)


def test_read_regular_refuses_a_link_to_a_fifo(tmp_path, alarm):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "fifo")
    with pytest.raises(MalformedError, match="symbolic link, not a regular file"):
        fsio.read_regular(tmp_path / "link", 10, "sidecar")


def test_read_regular_refuses_a_device_and_a_socket(tmp_path, alarm):
    with pytest.raises(MalformedError, match="character device, not a regular file"):
        fsio.read_regular(Path("/dev/zero"), 10, "sidecar")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        with pytest.raises(MalformedError, match="socket, not a regular file"):
            fsio.read_regular(tmp_path / "sock", 10, "sidecar")


def test_read_regular_refuses_a_folder(tmp_path):
    with pytest.raises(MalformedError, match="folder, not a regular file"):
        fsio.read_regular(tmp_path, 10, "sidecar")


def test_describe_names_every_kind():
    import stat

    assert fsio.describe(stat.S_IFIFO) == "FIFO"
    assert fsio.describe(stat.S_IFLNK) == "symbolic link"
    assert fsio.describe(stat.S_IFREG, stat.FILE_ATTRIBUTE_REPARSE_POINT) == "reparse point (link)"
