"""Shared test fixtures: sample dossiers generated once per test run, and a CLI runner.

Reuse from any test module:

- ``sample_root`` (session scope): the standard sample root, a ``SampleResult`` with ``root``,
  ``dossiers`` (MAG001, MAG002) and ``keys``. Shared: never modify it.
- ``fresh_sample`` (function): a private copy of it, to damage freely.
- ``make_sample(**options)`` (session scope): any other sample (``years=3``,
  ``editor_algorithm="ed25519"``...), generated once per distinct options and shared too;
  ``copy_sample(sample, dest)`` gives a private copy of one.
- ``AS_OF``: the fixed "now" every check of these samples uses; ``UNTIL``: their last day.
- ``run_cli(*args)``: runs ``python -m fiscalsafe`` in a subprocess and returns
  ``(exit_code, stdout, stderr)``; ``stock_tool(name)``: the path of a stock tool (minisign,
  zstd, tar...), or a skip, which fails under CI. Import the helpers with
  ``from conftest import ...``.
- ``w`` (function, one object for the whole run): the small sample and its good full
  backup (``backup_support.World``); read it, never change it.
- ``one_worker``: in-process runs check archives with one fiscal worker. A module asks for
  it for every test with ``pytestmark = pytest.mark.usefixtures("one_worker")``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from skip_policy import (  # noqa: F401 - pytest's hooks, found here by name
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)

from fiscalsafe.pipeline import workers
from fiscalsafe.samples.sample import SampleResult, write_sample

if TYPE_CHECKING:
    from backup_support import World

UNTIL = dt.date(2026, 11, 27)
AS_OF = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
AS_OF_ARG = "2026-11-27"  # what ``--as-of`` turns into AS_OF (noon UTC that day)
#: What the command line takes as "now" in every test ($FISCALSAFE_NOW).
FIXED_NOW = "2026-11-27T20:00:00+00:00"
#: The standard sample: seven years of two small shops, about 1 MB of bulk data.
SAMPLE_OPTIONS: dict[str, Any] = {
    "seed": 7,
    "until": UNTIL,
    "years": 7,
    "size": 1024 * 1024,
    "tickets_per_day": 2,
}
CLI_TIMEOUT = 300


def copy_sample(sample: SampleResult, dest: Path) -> SampleResult:
    """A private copy of a sample root at ``dest`` (modes and mtimes kept)."""
    shutil.copytree(sample.root, dest)

    def moved(path: Path) -> Path:
        return dest / path.relative_to(sample.root)

    return SampleResult(
        root=dest,
        dossiers=[moved(p) for p in sample.dossiers],
        keys={name: moved(p) for name, p in sample.keys.items()},
        files=[moved(p) for p in sample.files],
        tickets=sample.tickets,
    )


@pytest.fixture(scope="session")
def make_sample(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., SampleResult]:
    """Samples by options over ``SAMPLE_OPTIONS``, each written once per test run."""
    cache: dict[tuple, SampleResult] = {}

    def make(**options: Any) -> SampleResult:
        merged = {**SAMPLE_OPTIONS, **options}
        key = tuple(sorted(merged.items()))
        if key not in cache:
            root = tmp_path_factory.mktemp("sample") / "root"
            cache[key] = write_sample(root, **merged)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def sample_root(make_sample: Callable[..., SampleResult]) -> SampleResult:
    """The standard sample, shared by the whole test run: read it, never change it."""
    return make_sample()


@pytest.fixture
def fresh_sample(sample_root: SampleResult, tmp_path: Path) -> SampleResult:
    """A private copy of the standard sample, for tests that damage it."""
    return copy_sample(sample_root, tmp_path / "sample")


_STATE_ROOT: Path | None = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _STATE_ROOT
    import tempfile

    _STATE_ROOT = Path(tempfile.mkdtemp(prefix="fiscalsafe-test-state-"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _STATE_ROOT is not None:
        shutil.rmtree(_STATE_ROOT, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test, and every fixture set up for it (of any scope), gets a state folder of its
    own (what fiscalsafe has proven per dossier): no test reads another's history, and none
    the user's own. Subprocesses inherit it."""
    import tempfile

    os.environ["FISCALSAFE_STATE_DIR"] = tempfile.mkdtemp(dir=_STATE_ROOT)
    # The samples' histories end on UNTIL: commands that read the clock (backup, verify's
    # clock) run that evening, so no test depends on the day the suite runs.
    os.environ["FISCALSAFE_NOW"] = FIXED_NOW
    # English unless a test asks for French: the machine's locale decides nothing.
    os.environ["FISCALSAFE_LANG"] = "en"
    from fiscalsafe import i18n

    i18n.set_language("en")


def cli_env() -> dict[str, str]:
    """Plain, unwrapped output whatever the terminal the tests run from."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", PYTHONUNBUFFERED="1")
    return env


def run_cli(*args: str | Path, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m fiscalsafe ARGS``; return (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(),
        timeout=CLI_TIMEOUT,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def stock_tool(name: str) -> str:
    """The path of a stock tool the interop tests compare with; a skip when it is absent
    (a failure under CI, whose ``.ci/run`` installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it with apt)")
    return path


@pytest.fixture
def w(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The small sample and its good full backup, built once per test run: read only."""
    import backup_support  # it imports this module's helpers

    return backup_support.world(tmp_path_factory)


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs check archives with one fiscal worker: the process pool runs the same
    code, only slower to start (the subprocess tests keep the real pool)."""
    monkeypatch.setattr(workers, "default_workers", lambda: 1)


@pytest.fixture
def mine(w, tmp_path):
    """A private copy of the small sample, free to change."""
    import backup_support as bs

    return bs.copy_root(w, tmp_path / "root")


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    """An empty folder standing for the USB stick."""
    dest = tmp_path / "usb"
    dest.mkdir()
    return dest
