#!/usr/bin/env python3
"""The two quick-start commands, on any machine with Python 3.11+.

    python3 dev.py demo   # sample -> check -> backup -> verify, on a generated sample
    python3 dev.py test   # the whole test suite
    python3 dev.py bench  # the benchmarks (bench/run calls this)
    python3 dev.py mutate # mutation run over the security-critical checks (CI runs it)
    python3 dev.py i18n   # extract, merge and compile the translation catalogues

Each creates (or reuses) the virtual environment ``.venv`` with fiscalsafe and its test
dependencies installed, so nothing has to be installed by hand. ``FISCALSAFE_VENV`` names
another folder for it (relative to this one), so the suite can run under a second
interpreter: ``FISCALSAFE_VENV=.venv-3.13 python3.13 dev.py test``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / os.environ.get("FISCALSAFE_VENV", ".venv")
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
PYTHON = BIN / ("python.exe" if sys.platform == "win32" else "python")
STAMP = VENV / ".fiscalsafe-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any system python
        sys.exit("fiscalsafe needs Python 3.11 or newer")
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject = ROOT / "pyproject.toml"
    if not STAMP.exists() or STAMP.stat().st_mtime < pyproject.stat().st_mtime:
        print(f"installing fiscalsafe and its test dependencies into {VENV} ...", flush=True)
        subprocess.run(
            [
                str(PYTHON),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                f"{ROOT}[test]",
            ],
            check=True,
        )
        STAMP.touch()


def run(*args: str) -> int:
    print("$ fiscalsafe " + " ".join(args), flush=True)
    return subprocess.run([str(PYTHON), "-m", "fiscalsafe", *args], cwd=ROOT).returncode


def demo() -> int:
    out = ROOT / "demo"
    shutil.rmtree(out, ignore_errors=True)
    today = dt.date.today().isoformat()
    usb = out / "usb"
    usb.mkdir(parents=True)
    keys = out / "sample" / "keys"
    dossier = out / "sample" / "dossiers" / "MAG001"
    # A fresh sample each run: what the demo proves is kept in a state folder of its own.
    state = ("--state", str(out / "state"))
    steps = [
        ("sample", str(out / "sample"), "--until", today, "--size", "16MB"),
        ("check", str(dossier), "--trust", str(keys / "editor.pub"), *state),
        (
            "backup",
            str(dossier),
            "--to",
            str(usb),
            "--key",
            str(keys / "shop.key"),
            "--trust",
            str(keys / "editor.pub"),
            *state,
        ),
        (
            "verify",
            str(usb),
            "--key",
            str(keys / "shop.pub"),
            "--trust",
            str(keys / "editor.pub"),
            *state,
        ),
    ]
    for step in steps:
        code = run(*step)
        if code != 0:
            print(f"demo stopped: '{step[0]}' exited with {code}")
            return code
    return 0


def test(extra: list[str]) -> int:
    code = subprocess.run([str(PYTHON), "-m", "pytest", *extra], cwd=ROOT).returncode
    if code == 5:
        print("no test ran: that is a failure")
        return 1
    return code


def catalogues() -> int:
    """Extract every marked text, merge it into each language's catalogue (new entries
    come out untranslated, for a translator to fill in), and compile the catalogues."""
    pybabel = str(PYTHON.parent / "pybabel")
    locale_dir = ROOT / "fiscalsafe" / "locale"
    pot = locale_dir / "fiscalsafe.pot"
    steps = [
        [
            pybabel,
            "-q",
            "extract",
            "--no-location",
            "--sort-output",
            "-k",
            "N_",
            "-k",
            "n_:1,2",
            "--omit-header",
            "-o",
            str(pot),
            str(ROOT / "fiscalsafe"),
        ],
        [
            pybabel,
            "-q",
            "update",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
            "-w",
            "100",
            "-i",
            str(pot),
            "-d",
            str(locale_dir),
            "-D",
            "fiscalsafe",
        ],
        [pybabel, "-q", "compile", "-d", str(locale_dir), "-D", "fiscalsafe"],
    ]
    for step in steps:
        code = subprocess.run(step, cwd=ROOT).returncode
        if code:
            return code
    pot.unlink()
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test", "bench", "mutate", "i18n"):
        print(__doc__)
        return 2
    ensure_venv()
    if sys.argv[1] == "mutate":
        return subprocess.run(
            [str(PYTHON), str(ROOT / "tests" / "mutation" / "run.py"), *sys.argv[2:]]
        ).returncode
    if sys.argv[1] == "bench":
        return subprocess.run(
            [str(PYTHON), str(ROOT / "bench" / "bench.py"), *sys.argv[2:]]
        ).returncode
    if sys.argv[1] == "i18n":
        return catalogues()
    return demo() if sys.argv[1] == "demo" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
