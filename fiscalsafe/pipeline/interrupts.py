"""SIGTERM handled the way Ctrl-C is, for every command and for library callers alike."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (a service manager, ``timeout``, a cancelled CI job) raises
    ``KeyboardInterrupt``: clean-up runs (a backup removes its partial files) and the CLI
    exits with 3 instead of dying on the signal. Outside the main thread (an embedding
    program) signals are left alone."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
