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


def test_every_finding_code_names_its_step_once() -> None:
    by_step = steps()
    assert sorted(by_step) == list(range(1, 10))
    named = [code for codes in by_step.values() for code in codes]
    assert sorted(set(named)) == sorted(CODES), set(CODES) ^ set(named)
    assert len(named) == len(set(named)), "a code is named in two steps"
