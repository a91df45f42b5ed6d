"""Data shown inside finding messages, written as the reader's language writes it.

French messages group digits (``41 787``) and write days day-first (``30/11/2026``).
English messages keep plain digits and ISO days, the text scripts have always matched.
The JSON fields beside a message (``expected``, ``found``) never go through here.
"""

from __future__ import annotations

import datetime as dt

from fiscalsafe.localformat import local


def day(value: dt.date) -> str:
    """A calendar day of the shop."""
    return local().day(value)
