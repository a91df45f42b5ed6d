"""Each verification step returns a frozen result: its findings, the checks that ran, and
what the next steps need; ``verify_backup`` only adds them to the report, in order."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from fiscalsafe.pipeline import verify_backup
from fiscalsafe.pipeline.folder_members import read_folder
from fiscalsafe.pipeline.verify_container import ContainerPass, read_container
from fiscalsafe.pipeline.verify_fiscal import FiscalStep, check_fiscal
from fiscalsafe.pipeline.verify_manifest import Authenticity, check_authenticity, check_claims
from fiscalsafe.pipeline.verify_parts import PartsStep, check_parts
from fiscalsafe.pipeline.verify_steps import StepResult, check_bag

#: Every step, numbered as in ``schemas/backup-format.md``, and the result it returns.
STEPS = [
    (check_parts, PartsStep),  # (1)
    (read_container, ContainerPass),  # (2) and (3)
    (read_folder, ContainerPass),  # (3), for an extracted folder
    (check_bag, StepResult),  # (4)
    (check_authenticity, Authenticity),  # (5)
    (check_claims, StepResult),  # (6)
    (check_fiscal, FiscalStep),  # (7) and (8)
]


@pytest.mark.parametrize(("step", "result"), STEPS, ids=[s.__name__ for s, _r in STEPS])
def test_every_step_returns_a_frozen_result(step, result) -> None:
    hints = typing.get_type_hints(step)
    assert hints["return"] is result
    assert issubclass(result, StepResult)
    assert result.__dataclass_params__.frozen
    assert {"findings", "checks"} <= {f.name for f in dataclasses.fields(result)}


def test_the_parts_step_hands_on_the_sidecars_it_read(tmp_path: Path) -> None:
    part = tmp_path / "MAG001_2026-11-27_full.tar.zst"
    part.write_bytes(b"not read by this step")
    step = check_parts([part], keyed=True)
    assert [f.code for f in step.findings] == ["SIDECAR_MISSING"]
    assert step.findings[0].message == f"{part.name}.minisig is missing"
    assert step.checks == ("parts",)
    assert step.sidecars == (None,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.sidecars = ()  # type: ignore[misc]
    # A plain tar verified as a bag has no sidecar to miss, and no parts check runs.
    bag_only = check_parts([part], keyed=False)
    assert (bag_only.findings, bag_only.checks, bag_only.sidecars) == ((), (), (None,))


def test_the_report_records_a_step_in_order_and_hands_it_back() -> None:
    report = verify_backup.VerifyReport(target="t", files=[])
    first = StepResult(checks=("bag",))
    assert report.add_step(first) is first
    report.add_step(check_parts([], keyed=False))
    assert report.checks == ["bag"]
    assert report.findings == []
