"""The console entry point (``fiscalsafe`` and ``python -m fiscalsafe``).

For the commands that verify fiscal signatures it first boots the worker processes'
server (where the system has one), which then imports the verification code on the second
core while this process imports the CLI: the workers are ready when the first archive is
queued. Everything else goes straight to the CLI.
"""

from __future__ import annotations

import multiprocessing
import sys

from fiscalsafe import oscompat
from fiscalsafe.cli import exitcodes
from fiscalsafe.pipeline.interrupts import terminate_as_interrupt

#: Commands that verify fiscal signatures in worker processes.
CHECKING_COMMANDS = frozenset({"check", "backup", "verify", "restore"})


def run() -> None:
    # A frozen executable is its own worker: this runs the worker and exits when it is one.
    multiprocessing.freeze_support()
    oscompat.make_console_streams_safe()
    try:
        with terminate_as_interrupt():
            if len(sys.argv) > 1 and sys.argv[1] in CHECKING_COMMANDS:
                from fiscalsafe.pipeline.workers import prestart

                prestart()
            from fiscalsafe.cli.main import run as run_cli
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM while the CLI loads: nothing has been read or written yet.
        sys.stderr.write("error: interrupted; nothing was left that looks complete\n")
        raise SystemExit(exitcodes.OPERATIONAL) from None
    run_cli()
