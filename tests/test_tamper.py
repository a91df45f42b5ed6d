"""Named damage, one kind per sub-test: each tamper must be caught by its specific code.

Every tamper of ``fiscalsafe.samples.tamper`` is applied to a fresh copy of the standard
sample; ``check`` with the editor's key passed in must then report the finding codes the
table names. Tampers made "by the shop software" (re-signed with the editor key) are built
to break exactly one rule, so for them the table also bounds what else may be reported:
that proves each rule is checked on its own, not only through the signatures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import AS_OF, AS_OF_ARG, UNTIL, copy_sample, run_cli

from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.samples.sample import SampleResult
from fiscalsafe.samples.tamper import TAMPERS, apply_tamper
from fiscalsafe.verify.codes import CODES
from fiscalsafe.verify.findings import Severity

ANY = None  # other codes may follow from the damage (gaps, broken links...)

#: tamper -> (codes that must all be reported, other error codes allowed or ANY).
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    # Fiscal archives, damaged without the key.
    "flipped-byte-archive": (("ARCHIVE_SIGNATURE_INVALID", "TICKET_SIGNATURE_INVALID"), ANY),
    "untrusted-key-archive": (("ARCHIVE_UNTRUSTED_KEY",), ANY),
    "archive-removed": (
        ("ARCHIVE_NUMBER_GAP", "ARCHIVE_PERIOD_GAP", "COVERAGE_GAP", "ARCHIVE_FILE_MISSING"),
        ANY,
    ),
    "archives-swapped": (("ARCHIVE_DIGEST_MISMATCH",), ()),
    "archive-duplicated": (("ARCHIVE_NUMBER_REPEATED",), ("ARCHIVE_DIGEST_MISMATCH",)),
    "archive-truncated": (("ARCHIVE_MALFORMED",), ANY),
    "weak-algorithm": (("WEAK_ALGORITHM",), ANY),
    "ticket-removed": (
        ("ARCHIVE_SIGNATURE_INVALID", "TICKET_CHAIN_BROKEN", "TICKET_SEQUENCE_GAP"),
        ANY,
    ),
    "coverage-short": (("COVERAGE_GAP",), ANY),
    # Fiscal archives, re-signed by the shop software: one rule left broken. The changed
    # archive is no longer proven, so its month is a coverage gap too.
    "grand-total-mismatch": (("GRAND_TOTAL_MISMATCH",), ("COVERAGE_GAP",)),
    "vat-sum-mismatch": (("CLOSURE_VAT_MISMATCH",), ("COVERAGE_GAP",)),
    "archive-other-dossier": (("ARCHIVE_DOSSIER_MISMATCH",), ()),
    # Event journal, damaged without the key. Records after a break vouch for nothing, so
    # the days after the last verified record are a coverage gap.
    "journal-entry-deleted": (
        ("JOURNAL_SEQUENCE_BROKEN", "JOURNAL_CHAIN_BROKEN", "COVERAGE_GAP"),
        (),
    ),
    "journal-entry-inserted": (
        ("JOURNAL_SEQUENCE_BROKEN", "JOURNAL_UNTRUSTED_KEY", "COVERAGE_GAP"),
        ("JOURNAL_CHAIN_BROKEN",),
    ),
    "journal-entry-edited": (("JOURNAL_SIGNATURE_INVALID", "COVERAGE_GAP"), ()),
    "journal-entry-edited-rehashed": (("JOURNAL_SIGNATURE_INVALID", "COVERAGE_GAP"), ()),
    "journal-tail-truncated": (("JOURNAL_TRUNCATED",), ()),
    "journal-cut-mid-record": (("JOURNAL_MALFORMED",), ("JOURNAL_TRUNCATED",)),
    "journal-head-missing": (("JOURNAL_HEAD_MISSING",), ()),
    # Shop owner: an older genuine journal and head. Nothing inside the dossier shows it;
    # what fiscalsafe proved before does (test_freshness.py).
    "journal-rolled-back": ((), ()),
    "journal-genesis-removed": (("JOURNAL_GENESIS_MISSING", "COVERAGE_GAP"), ()),
    # Event journal, re-signed by the shop software: one rule left broken.
    "decreasing-timestamp": (("JOURNAL_TIME_DECREASING", "COVERAGE_GAP"), ()),
    "archive-event-missing": (("ARCHIVE_EVENT_MISSING",), ()),
    "closure-event-missing": (("CLOSURE_EVENT_MISSING",), ()),
    "unknown-event-code": (("JOURNAL_UNKNOWN_EVENT",), ()),  # a warning: still proven
}

#: Codes that would be false accusations after a tamper: a file that is present but cannot
#: be verified is not "missing", and a year whose months cannot all be read says nothing
#: about its closure's VAT sums.
MISLEADING: dict[str, tuple[str, ...]] = {
    "untrusted-key-archive": ("ARCHIVE_FILE_MISSING", "CLOSURE_VAT_MISMATCH"),
    "weak-algorithm": ("ARCHIVE_FILE_MISSING", "CLOSURE_VAT_MISMATCH"),
    "archive-truncated": ("ARCHIVE_FILE_MISSING", "CLOSURE_VAT_MISMATCH"),
    "archive-removed": ("CLOSURE_VAT_MISMATCH",),
    "coverage-short": ("CLOSURE_VAT_MISMATCH",),
}


def check(sample: SampleResult):
    return check_dossier(sample.dossiers[0], trust=[sample.keys["editor_public"]], as_of=AS_OF)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_tamper_has_an_expectation() -> None:
    assert sorted(TAMPERS) == sorted(EXPECTED)
    for name, (_, doc) in TAMPERS.items():
        assert doc and "\n" not in doc, f"{name}: needs a one-line description"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tamper_is_caught(name: str, fresh_sample: SampleResult) -> None:
    required, allowed = EXPECTED[name]
    description = apply_tamper(name, fresh_sample.dossiers[0], fresh_sample.keys)
    assert isinstance(description, str) and description and "\n" not in description

    report = check(fresh_sample)
    codes = {f.code for f in report.findings}
    missing = set(required) - codes
    assert not missing, f"{name}: {sorted(missing)} not reported; got {sorted(codes)}"
    errors = {f.code for f in report.findings if f.severity is Severity.ERROR}
    if allowed is not ANY:
        extra = errors - set(required) - set(allowed)
        assert not extra, f"{name} should break one rule only; also got {sorted(extra)}"
    wrong = codes & set(MISLEADING.get(name, ()))
    assert not wrong, f"{name}: misleading {sorted(wrong)}"
    for f in report.findings:
        if f.code in required:
            assert f.message, f"{f.code} without a message"
    if all(CODES[code][0] != "error" for code in required):
        assert report.ok, f"{name}: only warnings expected, got errors {sorted(errors)}"
    else:
        assert not report.ok


def test_clean_sample_has_no_error_or_warning(sample_root: SampleResult) -> None:
    # MAG002 gets the same assertion in test_check.py (fiscal year from April).
    report = check(sample_root)
    noisy = [f for f in report.findings if f.severity is not Severity.INFO]
    assert not noisy, [f.to_json() for f in noisy]
    assert report.ok and report.coverage is not None and report.coverage.complete


# One re-signing cascade (editor key) and one forgery (attacker key): the tampers whose
# bytes would vary if signing were not deterministic.
@pytest.mark.parametrize("name", ["grand-total-mismatch", "journal-entry-inserted"])
def test_tamper_is_deterministic(name: str, sample_root: SampleResult, tmp_path: Path) -> None:
    trees = []
    for copy in ("a", "b"):
        sample = copy_sample(sample_root, tmp_path / copy)
        apply_tamper(name, sample.dossiers[0], sample.keys)
        trees.append(tree_digest(sample.root))
    assert trees[0] == trees[1]
    assert trees[0] != tree_digest(sample_root.root)


def test_cli_sample_tamper_then_check(tmp_path: Path) -> None:
    root = tmp_path / "root"
    options = ["--seed", "7", "--until", UNTIL.isoformat(), "--years", "2", "--size", "64K"]
    code, out, err = run_cli(
        "sample", root, *options, "--tamper", "journal-tail-truncated", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert "dropped" in doc["tamper"]
    dossier = Path(doc["dossiers"][0])
    trust = doc["keys"]["editor_public"]

    code, out, err = run_cli("check", dossier, "--trust", trust, "--as-of", AS_OF_ARG)
    assert code == 1, (out, err)
    assert out.splitlines()[0].startswith("NOT PROVEN")
    assert "JOURNAL_TRUNCATED" in out


def test_cli_tamper_list_names_every_tamper(tmp_path: Path) -> None:
    code, out, err = run_cli("sample", "unused-folder", "--tamper", "list", cwd=tmp_path)
    assert code == 0, err
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert listed == set(TAMPERS)
    assert not (tmp_path / "unused-folder").exists()  # listing writes no sample


def test_cli_unknown_tamper_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run_cli("sample", tmp_path / "root", "--tamper", "no-such-damage")
    assert code == 2
    assert "no-such-damage" in err and "--tamper list" in err
    assert not (tmp_path / "root").exists()
