"""The backup-format conformance suite (``fixtures/conformance/``).

- ``fiscalsafe verify`` gives every case exactly its expected verdict, exit code and set of
  finding codes, run the way the suite's README tells an outside implementer to run theirs;
- the suite is versioned with the format: its outcomes are pinned per suite version, so a
  changed verdict fails here until the version is bumped on purpose;
- every verification step has cases, and every finding code is either carried by a case or
  listed, with its reason, in the README's table of codes not covered;
- the generator, run again, reproduces every committed outcome, case description and key.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiscalsafe.cli.main import app
from fiscalsafe.verify.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "fixtures" / "conformance"
CASES = sorted(p.parent.name for p in (SUITE / "cases").glob("*/expected.json"))
#: The outcomes of each suite version (SHA-256 of suite.json's canonical "cases").
#: A change of a verdict, an exit code or a finding set is a deliberate format change:
#: bump SUITE_VERSION in fixtures/make_conformance.py, regenerate, and pin the new digest.
#: Each version's digest covers the cases it had (``since`` in ``expected.json``): new cases
#: are a minor bump, which leaves the earlier cases pinned by the earlier digests; a changed
#: outcome of an existing case is a new major version, whose digests start over.
PINNED_OUTCOMES = {
    "1.0": "e908218a0bb7110fbb26adb342688012a7a7d2e276ecb149e076c6ed987c48e1",
    "1.1": "ae3c3b7558c5263d6fb32cf774630b3af4d9b5ac6b909e2b65ede4643a4a8732",
}
STEPS = {
    "parts", "container", "members", "bag", "manifest", "claims", "completeness", "fiscal",
    "coverage",
}  # fmt: skip

pytestmark = pytest.mark.usefixtures("one_worker")


def expected(case: str) -> dict:
    return json.loads((SUITE / "cases" / case / "expected.json").read_text())


def suite_doc() -> dict:
    return json.loads((SUITE / "suite.json").read_text())


CASE_FOLDER = "<case folder>"


def real_path(arg: str, case: str) -> str:
    """A documented argument made real: ``<case folder>`` (and paths under it) is the case's
    folder, ``keys/...`` is relative to the suite."""
    if arg.startswith(CASE_FOLDER):
        return str(SUITE / "cases" / case) + arg[len(CASE_FOLDER) :]
    if arg.startswith("keys/"):
        return str(SUITE / arg)
    return arg


def run_documented(case: str, step: dict, state: Path) -> dict:
    """One verification as the README tells an outside implementer to run it: ``step`` is
    the case (or its ``prior``) with its clock and arguments; the state folder is shared."""
    trust = expected(case).get("trust_folder")
    env = {
        "FISCALSAFE_NOW": step["verifier_now"],
        "FISCALSAFE_TRUST_DIR": real_path(trust, case) if trust else str(state / "no-trust"),
        "FISCALSAFE_STATE_DIR": None,
        "NO_COLOR": "1",
    }
    args = [real_path(arg, case) for arg in step["args"]]
    result = CliRunner(env=env).invoke(app, [*args, "--json", "--state", str(state)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    doc = json.loads(result.stdout)
    codes = sorted({f["code"] for r in doc["reports"] for f in r["findings"]})
    return {"verdict": doc["verdict"], "exit": result.exit_code, "codes": codes}


def verify_case(case: str, state: Path) -> dict:
    """The case's prior backup first, if it has one, then the case, with one state folder."""
    want = expected(case)
    if "prior" in want:
        assert run_documented(case, want["prior"], state) == want["prior"]["expected"], case
    return run_documented(case, want, state)


def test_the_suite_has_cases():
    assert len(CASES) >= 30
    assert set(CASES) == set(suite_doc()["cases"])


@pytest.mark.parametrize("case", CASES)
def test_fiscalsafe_verify_passes_the_case(case, tmp_path):
    want = expected(case)
    got = verify_case(case, tmp_path / "state")
    assert got == want["expected"], f"{case}: {want['description']}"
    assert set(want["intended_codes"]) <= set(got["codes"])
    assert not set(want.get("absent_codes", [])) & set(got["codes"])


def outcomes_digest(cases: dict) -> str:
    return hashlib.sha256(json.dumps(cases, sort_keys=True).encode()).hexdigest()


def test_a_changed_verdict_is_a_deliberate_format_change():
    doc = suite_doc()
    for case in CASES:
        assert doc["cases"][case] == expected(case)["expected"], case
    version = doc["suite_version"]
    assert version in PINNED_OUTCOMES, f"suite version {version} has no pinned outcomes"
    assert max(PINNED_OUTCOMES, key=version_key) == version
    same_major = {v: d for v, d in PINNED_OUTCOMES.items() if major(v) == major(version)}
    for pinned, digest in same_major.items():
        cases = {
            case: outcome
            for case, outcome in doc["cases"].items()
            if version_key(expected(case)["since"]) <= version_key(pinned)
        }
        assert outcomes_digest(cases) == digest, (
            f"the verdicts, exit codes or finding sets of suite {pinned}'s cases changed: that "
            "is a format change; give SUITE_VERSION in fixtures/make_conformance.py a new major "
            "number and pin the new outcomes here"
        )


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def major(version: str) -> int:
    return version_key(version)[0]


def test_every_verification_step_has_a_case():
    steps = {expected(case)["step"] for case in CASES}
    assert steps >= STEPS
    verdicts = {expected(case)["expected"]["verdict"] for case in CASES}
    assert verdicts == {"proven", "consistent", "findings"}


def not_covered_in_readme() -> set[str]:
    text = (SUITE / "README.md").read_text()
    section = text.split("## Codes no case carries", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.MULTILINE))


def test_every_finding_code_is_covered_or_listed_with_its_reason():
    carried = {code for case in CASES for code in expected(case)["expected"]["codes"]}
    listed = not_covered_in_readme()
    assert carried | listed == set(CODES), sorted(set(CODES) - carried - listed)
    assert not carried & listed, f"listed as not covered but carried: {sorted(carried & listed)}"
    assert listed <= set(CODES), sorted(listed - set(CODES))


def test_the_generator_reproduces_every_outcome(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_conformance", ROOT / "fixtures" / "make_conformance.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    fresh = module.build(tmp_path / "conformance")
    committed = suite_doc()
    differ = {
        case: (fresh["cases"].get(case), outcome)
        for case, outcome in committed["cases"].items()
        if fresh["cases"].get(case) != outcome
    }
    assert not differ, differ
    assert fresh == committed
    assert tree(tmp_path / "conformance") == tree(SUITE), "the generator writes other files"


def tree(root: Path) -> dict[str, str | None]:
    """Every file's SHA-256, but only the names of the backups: their compressed bytes
    depend on the zstd library's version, and their outcomes are compared above."""
    return {
        p.relative_to(root).as_posix(): None
        if ".tar.zst" in p.name
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }
