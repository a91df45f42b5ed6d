"""The coverage timeline as inline SVG: a row per calendar year, a cell per month.

Each month is one ``<rect>`` with ``data-month="YYYY-MM"`` and its state as ``class``
(``covered``, ``gap``, ``before-genesis``, ``idle``, ``stale``, ``beyond-backup``); the
month of the last recorded operation also has ``data-last-operation="true"`` and a dot.
Colours come from the page's CSS, and each cell has a ``<title>`` (a tooltip, no script).
"""

from __future__ import annotations

from html import escape

from fiscalsafe.localformat import Formatter
from fiscalsafe.report import timeline
from fiscalsafe.report.texts import TIMELINE_STATES, Translator

CELL, GAP, LABEL = 16, 3, 44


def timeline_svg(cells: list[timeline.MonthCell], fmt: Formatter, tr: Translator) -> str:
    rows = timeline.by_year(cells)
    width = LABEL + 12 * (CELL + GAP)
    height = len(rows) * (CELL + GAP) + GAP
    title = tr._("Coverage by month")
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title)}">'
    ]
    for row, (year, months) in enumerate(rows):
        y = GAP + row * (CELL + GAP)
        out.append(f'<text class="year" x="0" y="{y + CELL - 3}">{year}</text>')
        for cell in months:
            x = LABEL + (cell.month.month - 1) * (CELL + GAP)
            state = tr._(TIMELINE_STATES[cell.state])
            tip = escape(f"{fmt.month(cell.month)}: {state}")
            last = ' data-last-operation="true"' if cell.last_operation else ""
            out.append(
                f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" class="{cell.state}" '
                f'data-month="{cell.key}"{last}><title>{tip}</title></rect>'
            )
            if cell.last_operation:
                cx, cy = x + CELL / 2, y + CELL / 2
                out.append(f'<circle class="last-operation" cx="{cx}" cy="{cy}" r="3"/>')
    out.append("</svg>")
    return "".join(out)


def legend_html(tr: Translator) -> str:
    """The legend, as HTML (not SVG cells, so that counting the month cells counts months)."""
    items = [
        f'<span class="swatch {state}"></span>{escape(tr._(text))}'
        for state, text in TIMELINE_STATES.items()
    ]
    last = tr._("month of the last recorded operation")
    items.append(f'<span class="swatch dot"></span>{escape(last)}')
    return '<p class="legend">' + " ".join(f"<span>{i}</span>" for i in items) + "</p>"
