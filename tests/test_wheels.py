"""Every dependency installs from a wheel on the systems shops and auditors use.

A dependency without a wheel for one of them would need a compiler on a shop's Windows
workstation: ``pip download --only-binary=:all:`` for that platform fails, and so does
this test. It asks PyPI (through pip's configured index), as CI can.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PYTHON_VERSION = "3.11"
#: pip's ``--platform`` tags for each system: macOS tags cover older releases and
#: universal2 by themselves; manylinux ones are listed up to Debian 12's glibc 2.36.
PLATFORMS = {
    "windows-x86_64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64"],
    "macos-x86_64": ["macosx_11_0_x86_64"],
    "linux-x86_64": [f"manylinux_2_{v}_x86_64" for v in range(17, 37)] + ["manylinux2014_x86_64"],
}


def requirements() -> list[str]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]


def distribution(requirement: str) -> str:
    """The normalized project name of a requirement, as wheel file names spell it."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "_", name).lower()


def test_every_dependency_is_pinned_to_a_minimum():
    assert requirements()
    for requirement in requirements():
        assert ">=" in requirement, f"{requirement}: give the oldest version known to work"


@pytest.mark.slow
@pytest.mark.parametrize("system", sorted(PLATFORMS))
def test_every_dependency_has_a_wheel(system, tmp_path):
    platform_options = [option for tag in PLATFORMS[system] for option in ("--platform", tag)]
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", "--python-version", PYTHON_VERSION,
            *platform_options, "--dest", str(tmp_path), *requirements(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"no wheel for {system}:\n{done.stderr[-3000:]}"
    wheels = {path.name.split("-")[0].lower() for path in tmp_path.glob("*.whl")}
    missing = [r for r in requirements() if distribution(r) not in wheels]
    assert missing == [], f"{system}: no wheel for {missing}"
