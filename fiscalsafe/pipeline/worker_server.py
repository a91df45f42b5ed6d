"""Set-up of the workers' forkserver, and only of it: a preload module nothing imports.

The server forks a worker, which then reads its start-up data from the command that asked
for it. If that command was killed in between (``kill -9``, the out-of-memory killer), the
pipe is empty, and multiprocessing prints an ``EOFError`` traceback into the command's
output (the server and its workers share its stderr) after the command itself is gone.
A worker in that state, or one whose task queue closes under it, has no one left to work
for: it leaves quietly. Any other error is printed as before.
"""

from __future__ import annotations

import sys
from types import TracebackType

_default_hook = sys.excepthook


def _quiet_when_orphaned(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, EOFError):
        return
    _default_hook(kind, value, tb)


sys.excepthook = _quiet_when_orphaned
