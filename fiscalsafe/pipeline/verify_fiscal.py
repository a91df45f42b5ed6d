"""Verification steps (7) and (8): fiscal validity and coverage, from the streamed bytes.

The fiscal files were handed to the fiscal checker as they streamed by (step 3); once the
manifest is verified, its creation time is the default as-of date of the coverage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.pipeline.verify_manifest import parse_created
from fiscalsafe.pipeline.verify_members import StreamState
from fiscalsafe.pipeline.verify_steps import StepResult
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.report import CheckReport


@dataclass(frozen=True, kw_only=True)
class FiscalStep(StepResult):
    """(7) and (8): the fiscal check report of the streamed content (``None``: no fiscal
    step ran)."""

    report: CheckReport | None = None


@dataclass(frozen=True)
class FiscalRules:
    """How the fiscal content is judged, as the command line asks."""

    trust: list[Path]
    require_trust: bool
    as_of: dt.datetime | None
    years: int
    workers: int | None
    max_idle_days: int = MAX_IDLE_DAYS


def check_fiscal(manifest: Manifest | None, state: StreamState, rules: FiscalRules) -> FiscalStep:
    """(7) and (8): fiscal content, from the verified stream. The kind only says what must
    be present: fiscal files found in a backup of any kind are verified."""
    if manifest is None or not (manifest.kind != "photos" or state.has_fiscal()):
        state.close()
        return FiscalStep()
    created = parse_created(manifest.created)
    report = state.finish_fiscal(
        rules.trust,
        rules.require_trust,
        rules.as_of or created,
        rules.years,
        rules.workers,
        max_idle_days=rules.max_idle_days,
        known_until=created,
    )
    if report is None:
        return FiscalStep()
    checks = ("fiscal", "coverage") if report.coverage is not None else ("fiscal",)
    return FiscalStep(findings=tuple(report.findings), checks=checks, report=report)
