"""Dates, numbers and sizes in the reader's language (Babel's CLDR data).

``Formatter(lang, tz)`` for a document in a named language (a report); ``local()`` for
what this process prints, in its language (``i18n.language()``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from fiscalsafe import i18n

#: Day-first in French (30/11/2026 20:08); ISO order in English, which no reader misreads.
DATETIME_PATTERNS = {"fr": "dd/MM/yyyy HH:mm", "en": "yyyy-MM-dd HH:mm"}
DATE_PATTERNS = {"fr": "dd/MM/yyyy", "en": "yyyy-MM-dd"}
MONTH_PATTERNS = {"fr": "MM/yyyy", "en": "yyyy-MM"}
SIZE_UNITS = {
    "fr": ("octets", "ko", "Mo", "Go", "To"),
    "en": ("bytes", "kB", "MB", "GB", "TB"),
}
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def parse_time(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time from a report (``...Z`` or with an offset); None if absent or bad."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Formatter:
    lang: str
    tz: str = "UTC"

    @property
    def locale(self) -> str:
        return BABEL_LOCALES[self.lang]

    def when(self, moment: dt.datetime | str | None) -> str:
        """A time in the shop's time zone; ``-`` when unknown."""
        if isinstance(moment, str) or moment is None:
            moment = parse_time(moment)
        if moment is None:
            return "-"
        local = moment.astimezone(ZoneInfo(self.tz))
        return format_datetime(local, DATETIME_PATTERNS[self.lang], locale=self.locale)

    def day(self, day: dt.date | str | None) -> str:
        if isinstance(day, str) or day is None:
            day = parse_day(day)
        if day is None:
            return "-"
        return format_date(day, DATE_PATTERNS[self.lang], locale=self.locale)

    def month(self, day: dt.date) -> str:
        return format_date(day, MONTH_PATTERNS[self.lang], locale=self.locale)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def size(self, count: int | None) -> str:
        """Decimal units, as media are sold: 15,6 Mo / 15.6 MB."""
        if count is None:
            return "-"
        units = SIZE_UNITS[self.lang]
        value, unit = float(count), 0
        while value >= 1000 and unit < len(units) - 1:
            value, unit = value / 1000, unit + 1
        if unit == 0:
            return f"{self.number(count)}\u00a0{units[0]}"
        return f"{format_decimal(value, '#,##0.0', locale=self.locale)}\u00a0{units[unit]}"


def count(value: int | float) -> str:
    """A number inside a sentence of this process: grouped in French (``41 787``,
    ``5,5``); English keeps the plain forms scripts already read (``41787``, ``5.5``)."""
    if i18n.language() == i18n.DEFAULT_LANGUAGE:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return local().number(value)


def local(tz: str = "UTC") -> Formatter:
    """The formatter of the process's language, times shown in ``tz`` (the shop's zone)."""
    return Formatter(i18n.language(), tz)
