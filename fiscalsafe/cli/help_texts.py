"""typer's own words on a help page (its panel titles, ``[default: ...]``, ``[required]``
and the ``--help`` option's help) in the process's language.

typer reads the first ones from module constants and gives every command a ``--help``
option it builds once: both are set here, before any help page is drawn.
"""

from __future__ import annotations

from fiscalsafe.i18n import _


def translate_help_pages(command) -> None:
    """typer's words, for ``command`` and every command below it."""
    from typer import rich_utils

    rich_utils.DEFAULT_STRING = _("[default: {}]")
    rich_utils.REQUIRED_LONG_STRING = _("[required]")
    rich_utils.ARGUMENTS_PANEL_TITLE = _("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = _("Options")
    rich_utils.COMMANDS_PANEL_TITLE = _("Commands")
    _translate_help_option(command)


def _translate_help_option(command) -> None:
    from typer._click.core import Context

    option = command.get_help_option(Context(command))
    if option is not None:
        option.help = _("Show this message and exit.")
    for sub in (getattr(command, "commands", None) or {}).values():
        _translate_help_option(sub)
