"""The mutation run's own contract: the list matches the code, and a mutant only ever
touches a copy of the repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_runner():
    # Loaded under a name of its own: ``run`` would shadow any other module of that name.
    spec = importlib.util.spec_from_file_location(
        "fiscalsafe_mutation_run", ROOT / "tests" / "mutation" / "run.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mutation_run = _load_runner()
MUTANTS = mutation_run.load_mutants()
Mutant = type(MUTANTS[0])


def test_every_mutant_matches_the_code_exactly_once() -> None:
    assert mutation_run.problems(MUTANTS) == []
    assert len(MUTANTS) >= 25


def test_the_named_weaknesses_are_among_the_mutants() -> None:
    ids = {m.id for m in MUTANTS}
    assert {
        "archive-chain-link",
        "coverage-gap-one-day-hidden",
        "journal-head-last-record",
        "editor-key-id-one-byte",
    } <= ids


def test_text_found_twice_or_not_at_all_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    twice = Mutant("twice", "m.py", "x = 1", "x = 2", ("t.py",), "")
    absent = Mutant("absent", "m.py", "y = 1", "y = 2", ("t.py",), "")
    gone = Mutant("gone", "nowhere.py", "x", "y", ("t.py",), "")
    assert mutation_run.problems([twice, absent, gone], root=tmp_path) == [
        "twice: original text found 2 times in m.py (needs 1)",
        "absent: original text found 0 times in m.py (needs 1)",
        "gone: no file nowhere.py",
    ]


def fake_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "check.py").write_text("def ok(n):\n    return n > 0\n")
    (root / "test_check.py").write_text(
        "from pkg.check import ok\n\ndef test_ok():\n    assert ok(1) and not ok(0)\n"
    )
    return root


def test_a_mutant_is_run_in_the_copy_and_undone(tmp_path: Path) -> None:
    copy = fake_project(tmp_path / "copy")
    before = (copy / "pkg" / "check.py").read_text()
    killed = Mutant("k", "pkg/check.py", "n > 0", "n >= 0", ("test_check.py",), "")
    survived = Mutant("s", "pkg/check.py", "n > 0", "n > 0 or False", ("test_check.py",), "")
    broken = Mutant("b", "pkg/check.py", "n > 0", "n >", ("test_check.py",), "")
    outcomes = [
        mutation_run.run_mutant(m, copy, sys.executable) for m in (killed, survived, broken)
    ]
    assert [o.status for o in outcomes] == ["killed", "survived", "error"]
    assert outcomes[0].detail == "by test_check.py::test_ok"
    assert (copy / "pkg" / "check.py").read_text() == before


def test_the_copy_holds_the_project_files_only(tmp_path: Path) -> None:
    copy = mutation_run.copy_project(ROOT, tmp_path / "copy")
    assert (copy / "fiscalsafe" / "verify" / "journal.py").is_file()
    assert not (copy / ".venv").exists() and not (copy / ".git").exists()
    where = mutation_run.imports_from(copy, sys.executable)
    assert where.is_relative_to(copy.resolve())


def test_outside_git_the_copy_leaves_out_environments_and_caches(tmp_path: Path) -> None:
    for name in ("pkg/a.py", ".venv/lib/x.py", "pkg/__pycache__/a.pyc", "x.egg-info/PKG"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert mutation_run.project_files(tmp_path) == ["pkg/a.py"]


def test_an_invalid_list_stops_the_run_before_any_test(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "mutation" / "run.py"), "no-such-mutant"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "unknown mutant id" in proc.stdout
