"""The ``fiscalsafe`` command line: typer commands, rendering and exit codes only."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import __version__, fsio
from fiscalsafe.cli.failure import report_exception, run_app
from fiscalsafe.cli.options import LanguageOpt
from fiscalsafe.cli.render import console
from fiscalsafe.errors import FiscalsafeError, UsageError
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile, parse_profile
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.interrupts import terminate_as_interrupt

app = typer.Typer(
    name="fiscalsafe",
    help=_("Check, back up, verify and restore French fiscal shop dossiers."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help=_("Manage the shop's backup signing keys."), no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def guarded(command: Callable[..., int]) -> Callable[..., None]:
    """Map a command's outcome to the documented exit codes, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs) -> None:
        try:
            with terminate_as_interrupt():
                code = command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - see failure.py
            code = report_exception(exc, bool(kwargs.get("json_out")))
        raise typer.Exit(code)

    return wrapper


CLOCK_ENV = "FISCALSAFE_NOW"
MAX_PROFILE_BYTES = 1024 * 1024


def now_utc() -> dt.datetime:
    """The time fiscalsafe takes as now: the system clock, or ``$FISCALSAFE_NOW`` (an ISO
    date-time) for reproducible runs of fixed sample data (benchmarks, CI). Whoever runs
    fiscalsafe owns its clock either way; reports show the time used."""
    fixed = os.environ.get(CLOCK_ENV)
    if fixed:
        try:
            moment = dt.datetime.fromisoformat(fixed)
        except ValueError:
            raise UsageError(
                _(
                    "{variable}={value} is not an ISO date-time",
                    variable=CLOCK_ENV,
                    value=repr(fixed),
                )
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def load_profile(path: Path | None) -> Profile:
    if path is None:
        return DEFAULT_PROFILE

    try:
        data = fsio.read_regular(path, MAX_PROFILE_BYTES, "profile", UsageError)
        if data is None:
            raise UsageError(_("profile {path} does not exist", path=path))
        return parse_profile(data)
    except OSError as exc:
        raise UsageError(
            _("cannot read profile {path}: {reason}", path=path, reason=exc.strerror)
        ) from None
    except FiscalsafeError as exc:
        raise UsageError(_("profile {path}: {problem}", path=path, problem=exc)) from None


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help=_("Print the version."))] = False,
    lang: LanguageOpt = None,
) -> None:
    if version:
        console.print(f"fiscalsafe {__version__}")
        raise typer.Exit(0)


from fiscalsafe.cli import (  # noqa: E402 - the commands register on the app defined above
    backup_cmd,
    check_cmd,
    keys_cmd,
    list_cmd,
    report_cmd,
    sample_cmd,
    verify_cmd,
)

for command in (sample_cmd, check_cmd):
    command.register(app, guarded, load_profile, now_utc)
keys_cmd.register(keys_app, guarded)
for command in (backup_cmd, list_cmd, verify_cmd, report_cmd):
    command.register(app, guarded, load_profile, now_utc)


def run() -> None:
    """Entry point (console script and ``python -m fiscalsafe``)."""
    run_app(app)
