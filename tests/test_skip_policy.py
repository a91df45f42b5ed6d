"""The CI skip policy (tests/skip_policy.py): under CI a skip fails unless it is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parent)
CONFTEST = """
from skip_policy import pytest_configure, pytest_make_collect_report, pytest_runtest_makereport
"""
TESTS = """
import pytest

def test_runs():
    pass

def test_skips_for_a_missing_tool():
    pytest.skip("stocktool is not installed")

@pytest.mark.allowed_skip("root ignores permission bits")
@pytest.mark.skipif(True, reason="running as root")
def test_skip_allowed_with_a_reason():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    raise AssertionError
"""


@pytest.fixture(autouse=True)
def importable_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs are separate processes (no clash with this suite's module names)
    that import ``skip_policy`` from this folder."""
    monkeypatch.setenv("PYTHONPATH", TESTS_DIR)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_policy_cases=TESTS)
    return pytester


def test_under_ci_a_skip_fails_and_names_its_reason(project, monkeypatch):
    monkeypatch.setenv("CI", "1")
    result = project.runpytest_subprocess("-rA")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*test_skips_for_a_missing_tool*skipped under CI*stocktool is not installed*"]
    )


def test_outside_ci_a_skip_stays_a_skip(project, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    project.runpytest_subprocess().assert_outcomes(passed=1, skipped=2, xfailed=1)


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_ci_set_to_a_false_value_is_not_ci(project, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    project.runpytest_subprocess().assert_outcomes(passed=1, skipped=2, xfailed=1)


def test_under_ci_a_skipped_module_fails(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_policy_module="import pytest\npytest.skip('no data', allow_module_level=True)\n"
    )
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped under CI*no data*"])


def test_an_allowed_skip_needs_a_reason(pytester, monkeypatch):
    monkeypatch.setenv("CI", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_policy_bare="import pytest\n\n@pytest.mark.allowed_skip()\n"
        "def test_x():\n    pytest.skip('why not')\n"
    )
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    assert "needs a reason" in result.stdout.str() + result.stderr.str()
