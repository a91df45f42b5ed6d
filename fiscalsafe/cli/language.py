"""The language the command line speaks: ``--lang`` wherever it stands on the command
line, read before the commands load (their help is translated as they are defined)."""

from __future__ import annotations

from collections.abc import Sequence

from fiscalsafe import i18n
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _

LANG_FLAG = "--lang"


def lang_option(argv: Sequence[str]) -> str | None:
    """The value of the last ``--lang X`` or ``--lang=X`` before any ``--``; None if absent."""
    value = None
    args = list(argv)
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == LANG_FLAG and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(LANG_FLAG + "="):
            value = arg.split("=", 1)[1]
    return value


def without_lang(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--lang`` options: what names the command."""
    rest: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == LANG_FLAG:
            skip = True
        elif not arg.startswith(LANG_FLAG + "="):
            rest.append(arg)
    return rest


def bad_language(value: str) -> UsageError:
    return UsageError(
        _(
            "--lang {value}: choose one of {choices}",
            value=repr(value),
            choices=", ".join(i18n.LANGUAGES),
        )
    )


def language_option(value: str | None) -> str | None:
    """``--lang`` as a command reads it: speak that language from now on. A language
    fiscalsafe does not speak was refused before the command line was parsed (and
    ``check`` and ``verify`` refuse it for their report): it changes nothing here."""
    if value in i18n.LANGUAGES:
        i18n.set_language(value)
    return value


def apply_language(argv: Sequence[str]) -> str:
    """Speak the language the command line asks for, else the environment's; a language
    fiscalsafe does not speak is a usage error, said in the environment's language."""
    option = lang_option(argv)
    if option is not None and option not in i18n.LANGUAGES:
        i18n.set_language(i18n.choose_language())
        raise bad_language(option)
    chosen = i18n.choose_language(option)
    i18n.set_language(chosen)
    return chosen
