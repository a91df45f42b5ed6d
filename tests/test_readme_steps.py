"""The README's numbered verification steps name every finding code, each in one step."""

from __future__ import annotations

import re
from pathlib import Path

from fiscalsafe.verify.codes import CODES

README = Path(__file__).resolve().parents[1] / "README.md"


def steps() -> dict[int, set[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### The verification steps, and the findings of each", 1)[1]
    section = section.split("\n\n`--evidence", 1)[0]
    found: dict[int, set[str]] = {}
    for number, body in re.findall(r"^(\d)\. (.*?)(?=^\d\. |\Z)", section, re.M | re.S):
        found[int(number)] = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", body))
    return found


#: Codes of ``report-check``: they judge a report, not a backup, so the README names them in
#: its report section rather than in a verification step.
REPORT_CODES = {code for code in CODES if code.startswith("REPORT_")}


def test_every_finding_code_names_its_step_once() -> None:
    by_step = steps()
    assert sorted(by_step) == list(range(1, 10))
    named = [code for codes in by_step.values() for code in codes]
    step_codes = set(CODES) - REPORT_CODES
    assert sorted(set(named)) == sorted(step_codes), step_codes ^ set(named)
    assert len(named) == len(set(named)), "a code is named in two steps"


def test_report_check_codes_are_named_in_the_report_section() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### The verification report", 1)[1].split("\n## ", 1)[0]
    assert REPORT_CODES and set(re.findall(r"`(REPORT_[A-Z_]+)`", section)) == REPORT_CODES
