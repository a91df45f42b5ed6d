"""How a command that stops says so: one line on standard error, and with ``--json`` one
document on standard output (``schemas/error.schema.json``), with the documented exit code.

Scripts read the ``error`` code, people read the message. An exception nobody foresaw is
exit 3 with a one-line message; ``FISCALSAFE_DEBUG=1`` adds its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from fiscalsafe.cli import exitcodes
from fiscalsafe.errors import (
    FiscalsafeError,
    MalformedError,
    OperationalError,
    UsageError,
    VerificationError,
)
from fiscalsafe.i18n import _

ERROR_FORMAT = "fiscalsafe-error"
ERROR_VERSION = [1, 0]
DEBUG_ENV = "FISCALSAFE_DEBUG"
JSON_FLAG = "--json"


class Explained(Exception):  # noqa: N818 - it wraps an error, it is not one of its own
    """An error with what the command knows besides: what is safe, what to do next. Its
    exit and ``error`` codes are those of the error it wraps."""

    def __init__(self, cause: BaseException, message: str):
        super().__init__(message)
        self.cause = cause


def error_code(exc: BaseException) -> str:
    """The stable ``error`` code of a failure (the enum of ``error.schema.json``)."""
    if isinstance(exc, Explained):
        return error_code(exc.cause)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, UsageError):
        return "usage"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no-space"
    if isinstance(exc, OSError):
        return "io"
    if isinstance(exc, OperationalError):
        return "operational"
    if isinstance(exc, MalformedError):
        return "malformed"
    if isinstance(exc, VerificationError | FiscalsafeError):
        return "refused"
    return "internal"


def describe_os_error(exc: OSError) -> str:
    """An I/O error in words: what happened, never the bare system text."""
    name = Path(exc.filename) if exc.filename else None
    where = name.parent if name is not None else None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        if where is None:
            return _("the medium is full: the write did not fit")
        return _("the medium {folder} is full: the write did not fit", folder=where)
    partial = name is not None and name.name.startswith(".") and name.name.endswith(".partial")
    if exc.errno == errno.ENOENT and partial:
        return _(
            "the folder {folder} disappeared while the backup was written "
            "(medium unplugged or unmounted?)",
            folder=where,
        )
    if exc.errno == errno.ENOENT and name is not None:
        return _("{path} does not exist (or disappeared while it was used)", path=name)
    if exc.errno in (errno.EACCES, errno.EPERM) and name is not None:
        return _("no permission to use {path}", path=name)
    if exc.errno == errno.EIO:
        if name is None:
            return _("the device failed to read or write (I/O error)")
        return _("the device failed to read or write {path} (I/O error)", path=name)
    text = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
    text = f"{text[:1].lower()}{text[1:]}"
    return _("{problem} ({path})", problem=text, path=name) if name else text


def failure_message(exc: BaseException) -> str:
    if isinstance(exc, Explained):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return _("interrupted; nothing was left that looks complete")
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, FiscalsafeError):
        return str(exc)
    detail = str(exc).splitlines()[0] if str(exc) else ""
    error = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return _(
        "unexpected internal error ({error}); nothing was replaced. "
        "Set {variable}=1 to see where it happened",
        error=error,
        variable=DEBUG_ENV,
    )


def error_document(exit_code: int, error: str, message: str) -> dict:
    return {
        "format": ERROR_FORMAT,
        "version": ERROR_VERSION,
        "exit_code": exit_code,
        "error": error,
        "message": message,
    }


def report_failure(exit_code: int, error: str, message: str, json_out: bool) -> None:
    """The one line for people, and with ``--json`` the document for scripts."""
    from fiscalsafe.cli.render import print_error, print_json

    print_error(message)
    if json_out:
        print_json(error_document(exit_code, error, message))


def show_traceback_if_asked() -> None:
    if os.environ.get(DEBUG_ENV):
        traceback.print_exc(file=sys.stderr)


def report_exception(exc: BaseException, json_out: bool) -> int:
    """Report a command's failure; return its exit code."""
    cause = exc.cause if isinstance(exc, Explained) else exc
    if not isinstance(cause, FiscalsafeError | OSError | KeyboardInterrupt):
        show_traceback_if_asked()
    code = exitcodes.for_error(cause)
    report_failure(code, error_code(exc), failure_message(exc), json_out)
    return code


def run_app(app: Callable, args: Sequence[str] | None = None) -> None:
    """Run the typer app; a usage error or a stray exception becomes one ``error:`` line
    (and the JSON document when ``--json`` is on the command line), never a box or a
    traceback. Exits with the command's code."""
    import typer
    from typer.main import get_command

    # click's UsageError and ClickException, wherever this typer takes click from.
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    from fiscalsafe.cli.help_texts import translate_help_pages
    from fiscalsafe.cli.language import apply_language
    from fiscalsafe.cli.usage_errors import usage_message

    argv = list(sys.argv[1:] if args is None else args)
    json_out = JSON_FLAG in argv
    try:
        apply_language(argv)
        command = get_command(app)
        translate_help_pages(command)
        code = command.main(args=argv, prog_name="fiscalsafe", standalone_mode=False)
    except UsageError as exc:
        report_failure(exitcodes.USAGE, "usage", str(exc), json_out)
        code = exitcodes.USAGE
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: its help
            exc.show()
            raise SystemExit(exitcodes.USAGE) from None
        report_failure(exitcodes.USAGE, "usage", usage_message(exc, argv), json_out)
        code = exitcodes.USAGE
    except typer.Abort:
        code = report_exception(KeyboardInterrupt(), json_out)
    except click_error as exc:
        report_failure(exitcodes.USAGE, "usage", usage_message(exc, argv), json_out)
        code = exitcodes.USAGE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
        code = report_exception(exc, json_out)
    raise SystemExit(code if isinstance(code, int) else exitcodes.OK)
