"""The user's language and the gettext catalogues compiled into the package.

``fiscalsafe/locale/<lang>/LC_MESSAGES/fiscalsafe.mo`` holds each language's texts; English is
the source language (the message ids), so it needs no catalogue.

Everything a person reads goes through ``_("... {name} ...", name=value)`` (translate, then
fill the named fields: a translation may reorder them), ``n_(singular, plural, n, ...)`` for
counts, and ``N_`` to mark a text that is translated later, where it is shown. They speak
the process's language: ``set_language`` (the CLI calls it first, from ``--lang``), else
``$FISCALSAFE_LANG``, else the system's. A report names its language explicitly through
``translator(lang)``. Codes, JSON keys and exit codes never go through here.
"""

from __future__ import annotations

import gettext as _gettext
import locale
import os
from functools import cache
from pathlib import Path

from fiscalsafe import oscompat

DOMAIN = "fiscalsafe"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
LANG_ENV = "FISCALSAFE_LANG"


def _language_of(tag: str | None) -> str | None:
    """``fr_FR.UTF-8``, ``fr-FR``, ``French_France.1252`` -> ``fr``; unknown -> None."""
    if not tag:
        return None
    head = tag.replace("-", "_").split("_", 1)[0].split(".", 1)[0].lower()
    head = {"french": "fr", "english": "en"}.get(head, head)
    return head if head in LANGUAGES else None


def system_language() -> str | None:
    """The language of the system locale, from the usual environment variables first (as
    gettext reads them), then the C library's locale."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return _language_of(value.split(":", 1)[0])
    # Windows keeps the display language apart from the (often English) C locale.
    ui = oscompat.ui_language_tag()
    if ui:
        return ui
    try:
        return _language_of(locale.getlocale()[0])
    except ValueError:
        return None


def choose_language(option: str | None = None) -> str:
    """``--lang`` if given, else ``$FISCALSAFE_LANG``, else the system locale, else English.
    An unknown value given explicitly is the caller's usage error; one from the
    environment falls through to the next source."""
    if option:
        return option
    return _language_of(os.environ.get(LANG_ENV)) or system_language() or DEFAULT_LANGUAGE


@cache
def translator(lang: str) -> _gettext.NullTranslations:
    """The catalogue of ``lang`` (English: the identity translation)."""
    if lang == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang])


def gettext(lang: str, message: str) -> str:
    return translator(lang).gettext(message)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translator(lang).ngettext(singular, plural, n)


_current: str | None = None


def set_language(lang: str) -> None:
    """Speak ``lang`` from now on, in this process and in the processes it starts (the
    fiscal workers write finding messages too)."""
    global _current
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    _current = lang
    os.environ[LANG_ENV] = lang


def language() -> str:
    """The process's language: set, or chosen once from the environment."""
    global _current
    if _current is None:
        _current = choose_language()
    return _current


def _(message: str, **fields: object) -> str:
    """``message`` in the process's language, its ``{name}`` fields filled in."""
    text = translator(language()).gettext(message)
    return text.format(**fields) if fields else text


def n_(singular: str, plural: str, n: int, **fields: object) -> str:
    """The singular or plural form for ``n`` (``{n}`` is filled in, with ``fields``)."""
    return translator(language()).ngettext(singular, plural, n).format(n=n, **fields)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction"
    """Mark ``message`` for extraction; it is translated with ``_`` where it is shown."""
    return message
