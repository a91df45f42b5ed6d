"""Counts, sizes, days and times inside the command line's sentences.

In French they take the reader's forms (``41 787``, ``15,6 Mo``, ``30/11/2026 20:08`` in
the shop's time zone); English output keeps the forms scripts and habits already read
(``41787``, ``15.6 MB``, ISO dates and times as recorded).
"""

from __future__ import annotations

import datetime as dt

from fiscalsafe import i18n
from fiscalsafe.localformat import local
from fiscalsafe.units import human_size

#: Where French output shows times when the shop's own zone is unknown.
FRENCH_ZONE = "Europe/Paris"


def english() -> bool:
    return i18n.language() == i18n.DEFAULT_LANGUAGE


def size(n: int) -> str:
    return human_size(n) if english() else local().size(n)


def day(value: dt.date | None) -> str:
    if value is None:
        return "-"
    return str(value) if english() else local().day(value)


def when(value: str | dt.datetime | None, tz: str | None = None) -> str:
    """A recorded time; in French, shown in the shop's zone (else Europe/Paris)."""
    if english():
        return str(value) if value is not None else "-"
    return local(tz or FRENCH_ZONE).when(value)


def decimal(value: float, places: int) -> str:
    """``3.21`` / ``3,21``."""
    if english():
        return f"{value:.{places}f}"
    from babel.numbers import format_decimal

    pattern = "0." + "0" * places if places else "0"
    return format_decimal(value, pattern, locale=local().locale)
