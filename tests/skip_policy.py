"""Under CI (``CI`` set), a test that skips fails, unless it is marked as allowed to.

A skipped test proves nothing, and a test that silently skips on the CI machine hides a
missing tool or data set. Only skips that no CI machine can avoid are allowed, each with its
reason::

    @pytest.mark.allowed_skip("root ignores permission bits")

``tests/conftest.py`` imports these hooks; a collection-level skip (a whole module) fails
under CI too.
"""

from __future__ import annotations

import os

import pytest

MARKER = "allowed_skip"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(reason): a skip of this test is expected on some machines, CI too"
    )


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _allowed(item: pytest.Item) -> bool:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return False
    reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
    if not str(reason).strip():
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason")
    return True


def _fail(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    report.longrepr = (
        f"{what} skipped under CI, where every test must run: {_skip_reason(report)} "
        f"(mark it @pytest.mark.{MARKER}(reason) only if no CI machine can run it)"
    )
    report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and under_ci() and not _allowed(item):
        _fail(report, "test")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and under_ci():
        _fail(report, str(collector.nodeid) or "collection")
