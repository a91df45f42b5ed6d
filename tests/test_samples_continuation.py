"""A dossier's history continued by ``fiscalsafe.samples.continuation``: a month added to
the golden dossier is proven, and a chain changed on purpose breaks only its own rule."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path

import pytest

from fiscalsafe.crypto import derive_signing_key
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.samples.continuation import resume, write_continuation

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
EDITOR = derive_signing_key(b"golden-editor")
APRIL, MAY = dt.date(2025, 4, 1), dt.date(2025, 5, 1)
AS_OF = dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC)


def continued(tmp_path: Path, chain=None) -> Path:
    dossier = tmp_path / "GOLD01"
    shutil.copytree(GOLDEN / "dossier", dossier)
    builder = resume(dossier, EDITOR, random.Random(7))
    if chain is not None:
        chain(builder)
    builder.run(APRIL, MAY)
    write_continuation(dossier, builder)
    return dossier


def codes(dossier: Path) -> set[str]:
    report = check_dossier(dossier, trust=[GOLDEN / "keys" / "editor.pub"], as_of=AS_OF, workers=1)
    return {f.code for f in report.findings}


def test_a_month_added_to_the_golden_dossier_is_proven(tmp_path) -> None:
    dossier = continued(tmp_path)
    assert sorted(p.name for p in (dossier / "archives").iterdir()) == [
        "A000001.fsa",
        "A000002.fsa",
    ]
    assert codes(dossier) == {"COVERAGE_SINCE_GENESIS"}


def not_carried(builder) -> None:
    builder.gt += 1
    builder.month.gt_open += 1


@pytest.mark.parametrize(
    ("chain", "code"),
    [
        (lambda b: setattr(b, "next_number", 3), "ARCHIVE_NUMBER_GAP"),
        (lambda b: setattr(b, "archive_prev", b"\x01" * 64), "ARCHIVE_CHAIN_BROKEN"),
        (not_carried, "GRAND_TOTAL_NOT_CARRIED"),
    ],
)
def test_a_changed_chain_breaks_only_its_rule(tmp_path, chain, code) -> None:
    assert codes(continued(tmp_path, chain)) == {code, "COVERAGE_SINCE_GENESIS"}


def test_the_year_closure_counts_the_tickets_already_archived(tmp_path) -> None:
    dossier = tmp_path / "GOLD01"
    shutil.copytree(GOLDEN / "dossier", dossier)
    identity = dossier / "dossier.json"
    identity.write_text(identity.read_text().replace('"01-01"', '"05-01"'))
    builder = resume(dossier, EDITOR, random.Random(7))
    assert builder.year_count == 2  # the golden archive's two tickets, March 2025
    builder.run(APRIL, MAY)
    write_continuation(dossier, builder)
    assert codes(dossier) == {"COVERAGE_SINCE_GENESIS"}
