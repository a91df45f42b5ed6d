"""Sentences of a backup: what it left out and why, and what is safe when it fails."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fiscalsafe import localformat
from fiscalsafe.formats.layout import EXTENSION
from fiscalsafe.i18n import _, n_


def left_out_reason(reason: str, n: int) -> str:
    """``n`` files left out for ``reason`` (a manifest ``omitted`` reason), in words."""
    count = localformat.count(n)
    if reason == "lock":
        return n_(
            "{count} lock file of the application (it only marks it open)",
            "{count} lock files of the application (they only mark it open)",
            n,
            count=count,
        )
    if reason == "temporary":
        return n_("{count} temporary file", "{count} temporary files", n, count=count)
    if reason == "photos-excluded":
        return n_(
            "{count} photo (back it up with --kind photos)",
            "{count} photos (back them up with --kind photos)",
            n,
            count=count,
        )
    if reason == "no-index":
        return n_(
            "{count} index file (--kind no-index: the application rebuilds it)",
            "{count} index files (--kind no-index: the application rebuilds them)",
            n,
            count=count,
        )
    if reason == "not-photo":
        return n_(
            "{count} file that is not a photo (--kind photos)",
            "{count} files that are not photos (--kind photos)",
            n,
            count=count,
        )
    return n_("{count} file: {reason}", "{count} files: {reason}", n, count=count, reason=reason)


def left_out_sentence(omitted) -> str:
    """``omitted`` (the manifest's OmittedFile list) counted by reason, in words."""
    if not omitted:
        return _("nothing left out")
    counts = Counter(o.reason for o in omitted)
    parts = [left_out_reason(reason, n) for reason, n in sorted(counts.items())]
    return _("{n} left out: {reasons}", n=localformat.count(len(omitted)), reasons=", ".join(parts))


def previous_backup(dest: Path, name: str) -> str | None:
    """The backup of that name already on ``dest`` (one file or a split set), if any."""
    file_name = name + EXTENSION
    if (dest / file_name).is_file() or any(dest.glob(f"{file_name}.[0-9][0-9][0-9]")):
        return name
    return None


def what_is_safe(dest: Path, name: str | None) -> str:
    """The sentence a refused or failed backup ends with: the previous one is intact."""
    previous = previous_backup(dest, name) if name and dest.is_dir() else None
    if previous is not None:
        return _("the previous backup {name} is intact", name=previous)
    return _("nothing was replaced (no earlier backup of that name on the medium)")


def leftover_sentences(folder: Path) -> list[str]:
    """One line per partial file an interrupted backup left in ``folder``."""
    from fiscalsafe.cli.localtext import size
    from fiscalsafe.pipeline.leftovers import find_leftovers

    return [
        _(
            "leftover of an interrupted backup (power cut, medium pulled out?): {name} "
            "({size}), not a backup; the next backup of {backup} removes it",
            name=x.path.name,
            size=size(x.size),
            backup=x.file,
        )
        for x in find_leftovers(folder)
    ]
