"""The command line's own mistakes (a missing argument, an unknown option...) in the
user's language, built from what the parser's exception knows: the parameter, the option
name, the command. The parser's English text is never shown translated word for word."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fiscalsafe.i18n import N_, _

#: The parser's value types, in words.
VALUE_TYPES = {
    "int": N_("a whole number"),
    "float": N_("a number"),
    "bool": N_("yes or no"),
    "path": N_("a path"),
    "str": N_("a text"),
}


def usage_message(exc: Exception, argv: Sequence[str]) -> str:
    """One sentence for a usage error of the parser, and where to read the command's help."""
    kind = type(exc).__name__
    builders = {
        "MissingParameter": _missing,
        "NoSuchOption": _no_such_option,
        "BadOptionUsage": _bad_option_usage,
        "BadParameter": _bad_value,
    }
    text = builders.get(kind, _generic)(exc, list(argv))
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return text
    return _("{problem} (see '{command} --help')", problem=text, command=ctx.command_path)


def _hint(exc) -> str:
    hint = getattr(exc, "param_hint", None)
    if hint is None and getattr(exc, "param", None) is not None:
        hint = exc.param.get_error_hint()
    if isinstance(hint, list | tuple):
        return " / ".join(hint)
    return str(hint) if hint else ""


def _missing(exc, argv: list[str]) -> str:
    param = getattr(exc, "param", None)
    what = exc.param_type or (param.param_type_name if param is not None else "parameter")
    if what == "argument":
        return _("Missing argument {name}.", name=_hint(exc))
    if what == "option":
        return _("Missing option {name}.", name=_hint(exc))
    return _("Missing parameter {name}.", name=_hint(exc))


def _no_such_option(exc, argv: list[str]) -> str:
    if exc.possibilities:
        return _(
            "No such option: {name}. Did you mean {options}?",
            name=exc.option_name,
            options=", ".join(sorted(exc.possibilities)),
        )
    return _("No such option: {name}", name=exc.option_name)


def _bad_option_usage(exc, argv: list[str]) -> str:
    ctx = getattr(exc, "ctx", None)
    params = ctx.command.params if ctx is not None else []
    flag = any(
        exc.option_name in getattr(p, "opts", ()) and getattr(p, "is_flag", False) for p in params
    )
    if flag:
        return _("Option {name} takes no value.", name=exc.option_name)
    return _("Option {name} needs a value.", name=exc.option_name)


def _given_value(param, argv: list[str]) -> str | None:
    """What the user typed for ``param`` (the last occurrence), when it can be found."""
    value = None
    for index, arg in enumerate(argv):
        for opt in getattr(param, "opts", ()) or ():
            if arg == opt and index + 1 < len(argv):
                value = argv[index + 1]
            elif arg.startswith(opt + "="):
                value = arg.split("=", 1)[1]
    return value


def _bad_value(exc, argv: list[str]) -> str:
    param = getattr(exc, "param", None)
    ctx = getattr(exc, "ctx", None)
    if param is None or ctx is None:
        return _("Invalid value: {detail}", detail=exc.message)
    kind = param.display_type(ctx).strip("<>").lower() if hasattr(param, "display_type") else ""
    expected = _(VALUE_TYPES[kind]) if kind in VALUE_TYPES else kind
    given = _given_value(param, argv)
    if given is not None and expected:
        return _(
            "Invalid value for {name}: {value} is not {expected}.",
            name=_hint(exc),
            value=repr(given),
            expected=expected,
        )
    return _("Invalid value for {name}: {detail}", name=_hint(exc), detail=exc.message)


def _generic(exc, argv: list[str]) -> str:
    ctx = getattr(exc, "ctx", None)
    commands = getattr(ctx.command, "commands", None) if ctx is not None else None
    if commands is not None:
        unknown = _unknown_command(ctx, commands, argv)
        if unknown is not None:
            return _("No such command {name}.", name=repr(unknown))
        return _("Missing command: choose one of {commands}.", commands=", ".join(sorted(commands)))
    # The arguments left over, as the parser lists them: "(A B)" at the end of its text.
    extra = re.search(r"\((?!s\))(.*)\)\s*$", exc.message)
    if extra is not None and ctx is not None:
        return _("Unexpected extra argument(s): {args}.", args=extra.group(1))
    return _("Invalid command line: {detail}", detail=exc.message)


def _unknown_command(ctx, commands, argv: list[str]) -> str | None:
    """The first word after the group's own name that names no command of it."""
    path = ctx.command_path.split()[1:]
    rest = list(argv)
    for word in path:
        if word in rest:
            rest = rest[rest.index(word) + 1 :]
    for index, word in enumerate(rest):
        if word.startswith("-"):
            continue
        if index and rest[index - 1] == "--lang":
            continue
        return word if word not in commands else None
    return None
