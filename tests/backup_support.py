"""Shared fixtures and helpers for the backup, verify, restore and list tests.

Built once per test run (module-level cache, so every test module shares the same objects):

- a *small* sample root: the two standard shops with two years of history and 256 KB of
  bulk data (backups and verifies of it take a fraction of a second);
- one good ``full`` backup of its first dossier (MAG001), made at ``NOW``;
- on demand, a split set of that dossier (``split_set``) and a medium holding two backups
  (``two_backup_medium``).

Everything shared is read-only: a test that changes a dossier or a backup works on a copy
(``copy_root``, ``copy_files``). The small sample has two years of history, so backups and
verifies here require ``YEARS = 1`` year of coverage; the six-year default runs end to end
in ``test_backup.test_quick_start_story_six_years`` on the standard seven-year sample.

In-process runs use one fiscal worker (``single_worker`` here, the ``one_worker`` fixture
in ``conftest.py``): the process pool is the same code path, only slower to start; the
subprocess tests keep the real pool.

Usage from a test module (``w`` is the ``conftest.py`` fixture that returns ``world``)::

    import backup_support as bs

    pytestmark = pytest.mark.usefixtures("one_worker")

    def test_something(w):
        report = bs.verify(w, w.backup)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import shutil
import stat
import tarfile
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from conftest import copy_sample, stock_tool
from typer.testing import CliRunner

from fiscalsafe import minisign
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.pipeline import workers
from fiscalsafe.pipeline.backup import BackupOptions, BackupResult, backup_dossier
from fiscalsafe.pipeline.verify_backup import VerifyReport, verify_stream
from fiscalsafe.samples.sample import SampleResult, write_sample
from fiscalsafe.verify.findings import Severity

UNTIL = dt.date(2026, 11, 27)
#: The backups' signed creation time (a Friday; noon UTC, 13:00 in Paris).
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
YEARS = 1
#: The verifier's fixed clock: after every backup the tests make (some are dated days
#: after ``NOW``), so that only a test about it meets ``BACKUP_FROM_FUTURE``.
VERIFIER_NOW = NOW + dt.timedelta(days=30)
SMALL_OPTIONS = {
    "seed": 7,
    "until": UNTIL,
    "years": 2,
    "size": 256 * 1024,
    "tickets_per_day": 1,
}
SPLIT_SIZE = 100 * 1024

_CACHE: dict[str, object] = {}


@dataclass(frozen=True)
class World:
    sample: SampleResult
    secret: minisign.SecretKey
    public: minisign.PublicKey
    shop_pub: Path
    shop_key: Path
    editor: Path
    dossier: Path  # MAG001 of the shared sample: never modify
    backup: BackupResult  # a good full backup of it, made at NOW
    backup_dir: Path
    source_tree_before: dict[str, tuple]

    @property
    def archive(self) -> Path:
        return self.backup.files[0]


@contextlib.contextmanager
def single_worker() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workers, "default_workers", lambda: 1)
        yield


def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The shared small sample and its good backup (built on first use)."""
    if "world" not in _CACHE:
        base = tmp_path_factory.mktemp("backup-world")
        sample = write_sample(base / "root", **SMALL_OPTIONS)
        secret = minisign.load_secret_key(sample.keys["shop_secret"], None)
        dossier = sample.dossiers[0]
        before = tree(dossier)
        dest = base / "usb"
        dest.mkdir()
        with single_worker():
            result = backup_dossier(
                dossier,
                dest,
                secret,
                now=NOW,
                profile=DEFAULT_PROFILE,
                opts=BackupOptions(years=YEARS, trust=[sample.keys["editor_public"]]),
            )
        _CACHE["world"] = World(
            sample=sample,
            secret=secret,
            public=minisign.load_public_key(sample.keys["shop_public"]),
            shop_pub=sample.keys["shop_public"],
            shop_key=sample.keys["shop_secret"],
            editor=sample.keys["editor_public"],
            dossier=dossier,
            backup=result,
            backup_dir=dest,
            source_tree_before=before,
        )
    return _CACHE["world"]  # type: ignore[return-value]


def split_set(w: World, tmp_path_factory: pytest.TempPathFactory) -> BackupResult:
    """A good backup of MAG001 split into parts of ``SPLIT_SIZE`` (read-only, shared)."""
    if "split" not in _CACHE:
        dest = tmp_path_factory.mktemp("split-usb")
        with single_worker():
            _CACHE["split"] = make_backup(w, w.dossier, dest, split_size=SPLIT_SIZE)
    return _CACHE["split"]  # type: ignore[return-value]


def two_backup_medium(w: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medium holding MAG001's good full backup and MAG002's no-index backup."""
    if "medium" not in _CACHE:
        dest = tmp_path_factory.mktemp("medium")
        copy_files(backup_paths(w.backup), dest)
        with single_worker():
            make_backup(
                w,
                w.sample.dossiers[1],
                dest,
                now=NOW + dt.timedelta(minutes=5),
                kind="no-index",
            )
        _CACHE["medium"] = dest
    return _CACHE["medium"]  # type: ignore[return-value]


# --- running the pipeline ------------------------------------------------------------


def make_backup(
    w: World,
    dossier: Path,
    dest: Path,
    *,
    now: dt.datetime = NOW,
    secret: minisign.SecretKey | None = None,
    progress=None,
    **options,
) -> BackupResult:
    """``backup_dossier`` with the sample's keys, ``YEARS`` and the editor key trusted."""
    options.setdefault("years", YEARS)
    options.setdefault("trust", [w.editor])
    return backup_dossier(
        dossier,
        dest,
        secret or w.secret,
        now=now,
        profile=DEFAULT_PROFILE,
        opts=BackupOptions(**options),
        progress=progress,
    )


def verify(
    w: World,
    files: list[Path] | BackupResult,
    *,
    key: minisign.PublicKey | None | str = "shop",
    as_of: dt.datetime | None = None,
    years: int = YEARS,
    trust: list[Path] | None = None,
    now: dt.datetime = VERIFIER_NOW,
) -> VerifyReport:
    """``verify_stream`` of one backup (or split set) with the shop's public key."""
    if isinstance(files, BackupResult):
        files = files.files
    return verify_stream(
        list(files),
        shop_key=w.public if key == "shop" else key,
        trust=[w.editor] if trust is None else trust,
        as_of=as_of,
        years=years,
        workers=1,
        now=now,
    )


def assert_proven(w: World, files: list[Path] | BackupResult, **kwargs) -> VerifyReport:
    """The restic habit: every backup a test makes ends verified."""
    report = verify(w, files, **kwargs)
    assert report.ok, describe(report)
    return report


def codes(report: VerifyReport) -> set[str]:
    return {f.code for f in report.findings}


def error_codes(report: VerifyReport) -> set[str]:
    return {f.code for f in report.findings if f.severity is Severity.ERROR}


def describe(report: VerifyReport) -> str:
    return "\n".join(f"{f.severity} {f.code} {f.file}: {f.message}" for f in report.findings)


def backup_paths(result: BackupResult) -> list[Path]:
    """Every file a backup wrote: archive files (or parts) and their sidecars."""
    out = []
    for p in result.files:
        out += [p, Path(str(p) + ".minisig")]
    return out


# --- files and trees -----------------------------------------------------------------


def tree(root: Path) -> dict[str, tuple]:
    """relpath -> (sha256, size, permission bits, mtime_ns) of every regular file."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[path.relative_to(root).as_posix()] = (
                digest,
                st.st_size,
                stat.S_IMODE(st.st_mode),
                st.st_mtime_ns,
            )
    return out


def entries(folder: Path) -> set[str]:
    """Every name in a folder, hidden ones included (partial files are hidden)."""
    return {p.name for p in folder.iterdir()}


def copy_root(w: World, dest: Path) -> SampleResult:
    """A private copy of the small sample root (modes and nanosecond mtimes kept)."""
    return copy_sample(w.sample, dest)


def copy_files(paths: list[Path], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in paths:
        target = dest / p.name
        shutil.copy2(p, target)
        out.append(target)
    return out


def decompress_tar(archive_parts: list[Path]) -> bytes:
    data = b"".join(p.read_bytes() for p in archive_parts)
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


def tar_members(archive_parts: list[Path]) -> dict[str, tarfile.TarInfo]:
    raw = decompress_tar(archive_parts)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        return {m.name: m for m in tf.getmembers()}


def extract_plain(tf: tarfile.TarFile, dest: Path) -> None:
    """Extract a backup's folders and regular files under ``dest``, refusing anything else.

    ``tarfile``'s own ``filter="data"`` needs Python 3.11.4; the backups fiscalsafe writes
    hold only folders and regular files with relative names, so that is all this accepts.
    """
    root = dest.resolve()
    for member in tf.getmembers():
        target = (root / member.name).resolve()
        assert target.is_relative_to(root), f"member escapes the folder: {member.name}"
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tf.extractfile(member).read())
        else:
            raise AssertionError(f"unexpected member type: {member.name}")


# --- the command line, in process -----------------------------------------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def invoke(*args: str | Path, trust_dir: Path | None = None) -> CliResult:
    """Run the ``fiscalsafe`` command line in this process (monkeypatches apply).

    ``FISCALSAFE_TRUST_DIR`` points to ``trust_dir`` or to an empty folder, so the host's
    own trust directory never leaks in.
    """
    from fiscalsafe.cli.main import app

    if trust_dir is None:
        trust_dir = Path("/nonexistent/fiscalsafe-trust")
    env = {
        "FISCALSAFE_TRUST_DIR": str(trust_dir),
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
        "FORCE_COLOR": None,
        "FISCALSAFE_PASSPHRASE": None,
    }
    result = CliRunner(env=env).invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def restore_cli(w: World, archive: Path, dest: Path, *extra: str | Path) -> CliResult:
    """``fiscalsafe restore`` in process, with the shop's and the editor's public keys."""
    return invoke(
        "restore", archive, dest, "--key", w.shop_pub, "--trust", w.editor, "--years", YEARS,
        *extra,
    )  # fmt: skip


def freeze_clock(monkeypatch: pytest.MonkeyPatch, now: dt.datetime = NOW) -> None:
    """Make the command line's "now" (``fiscalsafe.cli.main.now_utc``) return ``now``."""
    import fiscalsafe.cli.main as cli_main

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: D102
            return now if tz is None else now.astimezone(tz)

    monkeypatch.setattr(cli_main, "dt", types.SimpleNamespace(datetime=Frozen, UTC=dt.UTC))
    monkeypatch.setenv("FISCALSAFE_NOW", now.isoformat())


def minisign_binary() -> str:
    """The stock ``minisign`` tool (a skip when absent, which fails under CI)."""
    return stock_tool("minisign")
