"""What each verification step hands on, and step (4), which needs no module of its own.

Every step of ``verify_backup`` returns a frozen :class:`StepResult`: the findings it
made and the checks that ran (names of ``CHECK_NAMES``), plus, in its subclass, what the
next steps need. The orchestrator only adds them to the report, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from fiscalsafe.pipeline.verify_members import StreamState
from fiscalsafe.verify.findings import Finding


@dataclass(frozen=True, kw_only=True)
class StepResult:
    findings: tuple[Finding, ...] = ()
    checks: tuple[str, ...] = ()  # the checks that ran, in order


def check_bag(state: StreamState) -> StepResult:
    """(4) BagIt, on its own terms."""
    return StepResult(findings=tuple(state.bag.finish()), checks=("bag",))
