"""Sentences of a backup: what it left out and why, and what is safe when it fails."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fiscalsafe.formats.layout import EXTENSION
from fiscalsafe.i18n import N_, _

#: Why a file is left out of a backup, in words (the manifest's ``omitted`` reasons).
LEFT_OUT_REASONS = {
    "lock": N_("{n} lock file(s) of the application (only mark it open)"),
    "temporary": N_("{n} temporary file(s)"),
    "photos-excluded": N_("{n} photo(s) (back them up with --kind photos)"),
    "no-index": N_("{n} index file(s) (--kind no-index: the application rebuilds them)"),
    "not-photo": N_("{n} file(s) that are not photos (--kind photos)"),
}


def left_out_sentence(omitted) -> str:
    """``omitted`` (the manifest's OmittedFile list) counted by reason, in words."""
    if not omitted:
        return _("nothing left out")
    counts = Counter(o.reason for o in omitted)
    parts = [
        _(LEFT_OUT_REASONS[reason], n=n)
        if reason in LEFT_OUT_REASONS
        else _("{n} file(s): {reason}", n=n, reason=reason)
        for reason, n in sorted(counts.items())
    ]
    return _("{n} left out: {reasons}", n=len(omitted), reasons=", ".join(parts))


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
