"""Mutation run over the security-critical checks: ``python3 dev.py mutate``.

Each mutant of ``mutants.py`` is applied to a **copy** of the repository in a temporary
folder (never to the working tree: an interrupted run leaves no mutated file behind), and
its covering tests run there with ``python -m pytest -x -q -p no:cacheprovider``, the copy
first on ``PYTHONPATH`` (so the tests, and every ``python -m fiscalsafe`` they start,
import the mutated code). A mutant is *killed* when a test fails, *survived* when all
pass. Before any mutant, every covering test must pass on the unmutated copy.

Exit status: 0 when every mutant is killed; 1 when one survives, or a test run errors
before its tests start (collection error, no test selected, timeout); 2 when a mutant's
original text is not found exactly once in its file, or the list is otherwise invalid.

    python3 dev.py mutate                  # every mutant, two at a time
    python3 dev.py mutate ID [ID ...]      # only these
    python3 dev.py mutate --list           # ids and descriptions
    python3 dev.py mutate --jobs 1         # one at a time
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAX_JOBS = 2  # the machine this runs on has two cores
TEST_TIMEOUT = 300  # seconds, per mutant
PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider")
# pytest's exit codes: 0 all passed, 1 some failed; anything else never ran the tests.
PASSED, FAILED = 0, 1


def load_mutants() -> list:
    spec = importlib.util.spec_from_file_location("fiscalsafe_mutants", HERE / "mutants.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return list(module.MUTANTS)


def problems(mutants: list, root: Path = ROOT) -> list[str]:
    """Why the list cannot run as it is: duplicate ids, missing files, original text not
    found exactly once, no-op replacements, mutants without tests."""
    out: list[str] = []
    seen: set[str] = set()
    for m in mutants:
        if m.id in seen:
            out.append(f"{m.id}: id used twice")
        seen.add(m.id)
        path = root / m.file
        if not path.is_file():
            out.append(f"{m.id}: no file {m.file}")
            continue
        count = path.read_text(encoding="utf-8").count(m.original)
        if count != 1:
            out.append(f"{m.id}: original text found {count} times in {m.file} (needs 1)")
        if m.original == m.replacement:
            out.append(f"{m.id}: the replacement is the original text")
        if not m.tests:
            out.append(f"{m.id}: no covering test")
    return out


#: What a copy leaves out when the folder is not a git work tree.
UNCOPIED = (".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")


def project_files(root: Path) -> list[str]:
    """Tracked and new (not ignored) files: the repository as the tests see it."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not _uncopied(p, root)
        )
    return [name for name in listed.decode().split("\0") if name and (root / name).is_file()]


def _uncopied(path: Path, root: Path) -> set[str]:
    """The patterns of ``UNCOPIED`` that one of ``path``'s folders matches."""
    parts = path.relative_to(root).parts[:-1]
    return {pattern for pattern in UNCOPIED for part in parts if Path(part).match(pattern)}


def copy_project(root: Path, dest: Path) -> Path:
    for name in project_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return dest


def env_for(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def imports_from(copy: Path, python: str) -> Path:
    """Where ``import fiscalsafe`` resolves with the copy's environment."""
    out = subprocess.run(
        [python, "-c", "import fiscalsafe; print(fiscalsafe.__file__)"],
        cwd=copy,
        env=env_for(copy),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(out).resolve()


@dataclass
class Outcome:
    mutant_id: str
    status: str  # killed, survived, error
    seconds: float
    detail: str = ""


def run_tests(copy: Path, python: str, tests: tuple[str, ...]) -> tuple[int | None, str]:
    try:
        proc = subprocess.run(
            [python, *PYTEST, *tests],
            cwd=copy,
            env=env_for(copy),
            capture_output=True,
            text=True,
            timeout=TEST_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"no result after {TEST_TIMEOUT} s"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    failed = [
        line.removeprefix("FAILED ").split(" - ")[0] for line in lines if line.startswith("FAILED ")
    ]
    if proc.returncode == FAILED and failed:
        return proc.returncode, "by " + failed[0]
    return proc.returncode, " | ".join(lines[-3:])


def run_mutant(mutant, copy: Path, python: str) -> Outcome:
    path = copy / mutant.file
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(mutant.original, mutant.replacement, 1), encoding="utf-8")
    start = time.monotonic()
    try:
        code, detail = run_tests(copy, python, mutant.tests)
    finally:
        path.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - start
    if code == FAILED:
        return Outcome(mutant.id, "killed", seconds, detail)
    if code == PASSED:
        return Outcome(mutant.id, "survived", seconds, detail)
    why = "timeout" if code is None else f"pytest exit {code}"
    return Outcome(mutant.id, "error", seconds, f"{why}: {detail}")


def run_all(mutants: list, jobs: int, python: str) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="fiscalsafe-mutate-") as tmp:
        copies: queue.Queue[Path] = queue.Queue()
        for n in range(jobs):
            copy = copy_project(ROOT, Path(tmp) / f"copy{n}")
            where = imports_from(copy, python)
            if not where.is_relative_to(copy.resolve()):
                raise SystemExit(f"the copy does not import its own fiscalsafe ({where})")
            copies.put(copy)
        baseline = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
        start = time.monotonic()
        code, detail = run_tests(copies.queue[0], python, baseline)
        if code != PASSED:
            print(f"the covering tests do not pass on the unmutated code: {detail}")
            return [Outcome("(baseline)", "error", time.monotonic() - start, detail)]
        print(f"baseline: {len(baseline)} covering tests pass ({time.monotonic() - start:.1f} s)")

        def one(mutant) -> Outcome:
            copy = copies.get()
            try:
                return run_mutant(mutant, copy, python)
            finally:
                copies.put(copy)

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for outcome in pool.map(one, mutants):
                outcomes.append(outcome)
                line = f"{outcome.status:9} {outcome.seconds:6.1f} s  {outcome.mutant_id}"
                print(line + (f"  ({outcome.detail})" if outcome.detail else ""), flush=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.py mutate", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, choices=range(1, MAX_JOBS + 1))
    args = parser.parse_args(argv)
    mutants = load_mutants()
    invalid = problems(mutants)
    if invalid:
        print("the mutant list does not match the code:", *invalid, sep="\n  ")
        return 2
    if args.list:
        for m in mutants:
            print(f"{m.id:34} {m.file}: {m.description}")
        return 0
    if args.ids:
        unknown = set(args.ids) - {m.id for m in mutants}
        if unknown:
            print("unknown mutant id(s):", ", ".join(sorted(unknown)))
            return 2
        mutants = [m for m in mutants if m.id in args.ids]
    start = time.monotonic()
    outcomes = run_all(mutants, args.jobs, sys.executable)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("killed", "survived", "error")}
    print(
        f"{len(outcomes)} mutant(s): {counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['error']} error(s), in {time.monotonic() - start:.0f} s"
    )
    return 0 if outcomes and counts["killed"] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
