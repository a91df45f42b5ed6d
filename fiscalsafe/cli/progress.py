"""Progress where people wait: one live line on a terminal (standard error) with the
stage, the bytes and the signatures checked; nothing at all when the output is not a
terminal (a nightly job's log, a pipe, ``--json``)."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
)
from rich.text import Text

from fiscalsafe import i18n, localformat
from fiscalsafe.cli import render
from fiscalsafe.i18n import _
from fiscalsafe.pipeline import signature_progress


def signatures_text(count: signature_progress.SignatureCount) -> str:
    if not count.queued:
        return ""
    english = i18n.language() == i18n.DEFAULT_LANGUAGE
    signatures = format(count.signatures, ",") if english else localformat.count(count.signatures)
    return _(
        "{signatures} signatures ({checked}/{queued} files)",
        signatures=signatures,
        checked=count.checked,
        queued=count.queued,
    )


class SignaturesColumn(ProgressColumn):
    """The fiscal signatures checked since the task started, read at each refresh."""

    def render(self, task) -> Text:
        start = task.fields.get("signatures_from")
        if start is None:
            return Text("")
        return Text(signatures_text(signature_progress.totals().since(start)), style="cyan")


class LiveProgress:
    """``with LiveProgress(enabled) as live: live.stage(...); live.advance(done, total)``.

    Every method does nothing when the display is off."""

    def __init__(self, enabled: bool):
        self._progress = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(bar_width=16),
                DownloadColumn(),
                SignaturesColumn(),
                console=render.err_console,
                transient=True,
            )
            if enabled
            else None
        )
        self._task = None

    def __enter__(self) -> LiveProgress:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("", total=None, signatures_from=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stage(self, description: str, total: int | None = None) -> None:
        """A new stage: its words and, when it has one, its total of bytes. Drawn at once,
        so that even a stage of a split second is seen."""
        if self._progress is None:
            return
        start = self._progress.tasks[0].fields.get("signatures_from")
        self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=total, signatures_from=start)
        self._progress.refresh()

    def count_signatures(self) -> None:
        """From now on, show the fiscal signatures checked (over the following stages)."""
        if self._progress is not None:
            self._progress.update(self._task, signatures_from=signature_progress.totals())

    def advance(self, done: int, total: int | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)


def live_progress(json_out: bool) -> LiveProgress:
    """Animated only on an interactive terminal (not a dumb one), never with ``--json``."""
    return LiveProgress(not json_out and render.err_console.is_interactive)
