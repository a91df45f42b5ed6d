"""Parsing of option values shared by several commands."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe.cli.language import language_option
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS  # noqa: F401 - the options' default

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """'8MB', '2G', '500k', '1048576' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise UsageError(_("{value} is not a size (examples: 500K, 8MB, 2GB)", value=repr(text)))
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_as_of(text: str | None, now: dt.datetime) -> dt.datetime:
    """A date (noon UTC that day) or an ISO date-time; ``None`` means now."""
    if text is None:
        return now
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("--as-of {value} is not a date (YYYY-MM-DD) or ISO date-time", value=repr(text))
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_date(text: str | None, default: dt.date, option: str) -> dt.date:
    if text is None:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("{option} {value} is not a YYYY-MM-DD date", option=option, value=repr(text))
        ) from None


StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help=_(
            "Folder where fiscalsafe keeps what it has proven per dossier (default: "
            "$FISCALSAFE_STATE_DIR, else the per-user state folder)."
        ),
    ),
]
MaxIdleOpt = Annotated[
    int,
    typer.Option(
        "--max-idle-days",
        help=_(
            "Days without any recorded operation still accepted before the as-of date "
            "(a shop closed for its holidays); beyond, COVERAGE_STALE."
        ),
    ),
]


def state_store(folder: Path | None):
    from fiscalsafe.pipeline.state import StateStore, default_state_dir

    return StateStore(folder if folder is not None else default_state_dir())


def check_max_idle(days: int) -> int:
    if days < 0:
        raise UsageError(_("--max-idle-days must be 0 or more"))
    return days


JsonOpt = Annotated[bool, typer.Option("--json", help=_("Machine-readable output on stdout."))]
TrustOpt = Annotated[
    list[Path] | None,
    typer.Option("--trust", help=_("Editor public key (PEM) fiscal signatures must verify with.")),
]
ProfileOpt = Annotated[
    Path | None,
    typer.Option("--profile", help=_("Dossier profile (JSON); default: odeis-default.")),
]

# The same three options with the shorter help that backup, verify and restore show.
EditorKeyOpt = Annotated[
    list[Path] | None,
    typer.Option("--trust", help=_("Editor public key (PEM).")),
]
ProfileFileOpt = Annotated[Path | None, typer.Option(help=_("Dossier profile (JSON)."))]
JsonOutputOpt = Annotated[bool, typer.Option("--json", help=_("Machine-readable output."))]

# Read from the command line before the commands load (``cli/language.py``); declared on
# every command so that each accepts it and shows it in its help.
LanguageOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help=_(
            "Language of the output: fr or en (default: $FISCALSAFE_LANG, else the "
            "system's language, else en)."
        ),
        callback=language_option,
    ),
]
