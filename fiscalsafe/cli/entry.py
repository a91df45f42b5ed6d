"""The console entry point (``fiscalsafe`` and ``python -m fiscalsafe``).

For the commands that verify fiscal signatures it first boots the worker processes'
server (where the system has one), which then imports the verification code on the second
core while this process imports the CLI: the workers are ready when the first archive is
queued. Everything else goes straight to the CLI.

The language is chosen first (``--lang``, else the environment): the commands' help is
translated as they are defined, and the workers speak the language they start with.
"""

from __future__ import annotations

import multiprocessing
import sys

from fiscalsafe import oscompat
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.language import apply_language, without_lang
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.interrupts import terminate_as_interrupt

#: Commands that verify fiscal signatures in worker processes.
CHECKING_COMMANDS = frozenset({"check", "backup", "verify", "restore"})


def run() -> None:
    # A frozen executable is its own worker: this runs the worker and exits when it is one.
    multiprocessing.freeze_support()
    oscompat.make_console_streams_safe()
    choose_language(sys.argv[1:])
    try:
        with terminate_as_interrupt():
            words = without_lang(sys.argv[1:])
            if words and words[0] in CHECKING_COMMANDS:
                from fiscalsafe.pipeline.workers import prestart

                prestart()
            from fiscalsafe.cli.main import run as run_cli
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM while the CLI loads: nothing has been read or written yet.
        message = _("interrupted; nothing was left that looks complete")
        sys.stderr.write(f"{_('error:')} {message}\n")
        raise SystemExit(exitcodes.OPERATIONAL) from None
    run_cli()


def choose_language(argv: list[str]) -> None:
    """Speak ``--lang``'s language; a bad one stops here, as any usage error does."""
    try:
        apply_language(argv)
    except UsageError as exc:
        from fiscalsafe.cli.failure import JSON_FLAG, report_failure

        report_failure(exitcodes.USAGE, "usage", str(exc), JSON_FLAG in argv)
        raise SystemExit(exitcodes.USAGE) from None
