"""How far the fiscal signature checks of this process have got, for a progress display.

Every ``FiscalChecker`` is tracked from its creation; once finished (or closed) its counts
are settled into running totals, so the totals only grow. A display reads ``totals()``
from its refresh thread, takes the totals at the start of a task as its baseline and shows
the difference: archives checked out of those queued, and the signatures they held.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass


@dataclass(frozen=True)
class SignatureCount:
    signatures: int = 0  # signatures verified by the archives and journals checked
    checked: int = 0  # archives and journals whose check is over
    queued: int = 0  # archives and journals handed to the check

    def since(self, start: SignatureCount) -> SignatureCount:
        return SignatureCount(
            self.signatures - start.signatures,
            self.checked - start.checked,
            self.queued - start.queued,
        )


_lock = threading.Lock()
_running: weakref.WeakSet = weakref.WeakSet()
_settled = SignatureCount()


def track(checker) -> None:
    with _lock:
        _running.add(checker)


def settle(checker) -> None:
    """The checker is done: its counts move into the settled totals (once)."""
    global _settled
    with _lock:
        if checker not in _running:
            return
        _running.discard(checker)
        count = checker.progress()
        _settled = SignatureCount(
            _settled.signatures + count.signatures,
            _settled.checked + count.checked,
            _settled.queued + count.queued,
        )


def totals() -> SignatureCount:
    with _lock:
        counts = [_settled] + [checker.progress() for checker in list(_running)]
    return SignatureCount(
        sum(c.signatures for c in counts),
        sum(c.checked for c in counts),
        sum(c.queued for c in counts),
    )
