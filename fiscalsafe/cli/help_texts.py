"""typer's own words on a help page (its panel titles, ``[default: ...]``, ``[required]``
and the ``--help`` option's help) in the process's language.

typer reads the first ones from the constants of its ``rich_utils`` module, which it
imports only to draw a help page or an error: importing it for every command would cost
each run ~0.15 s (rich's Markdown renderer comes with it), so they are set just before a
help page is drawn (every help page is drawn by a command's ``get_help``). typer gives
every command a ``--help`` option it builds once: its help is set here.
"""

from __future__ import annotations

from fiscalsafe.i18n import _


def translate_help_pages(command) -> None:
    """typer's words, for ``command`` and every command below it."""
    from typer._click.core import Context

    option = command.get_help_option(Context(command))
    if option is not None:
        option.help = _("Show this message and exit.")
    command.get_help = _translating_first(command.get_help)
    for sub in (getattr(command, "commands", None) or {}).values():
        translate_help_pages(sub)


def translate_panels() -> None:
    """The words typer draws on every help page."""
    from typer import rich_utils

    rich_utils.DEFAULT_STRING = _("[default: {}]")
    rich_utils.REQUIRED_LONG_STRING = _("[required]")
    rich_utils.ARGUMENTS_PANEL_TITLE = _("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = _("Options")
    rich_utils.COMMANDS_PANEL_TITLE = _("Commands")


def _translating_first(get_help):
    def get_translated_help(ctx):
        translate_panels()
        return get_help(ctx)

    return get_translated_help
