"""Sentences of a backup: what it left out and why, and what is safe when it fails."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fiscalsafe.formats.layout import EXTENSION

#: Why a file is left out of a backup, in words (the manifest's ``omitted`` reasons).
LEFT_OUT_REASONS = {
    "lock": "{n} lock file(s) of the application (only mark it open)",
    "temporary": "{n} temporary file(s)",
    "photos-excluded": "{n} photo(s) (back them up with --kind photos)",
    "no-index": "{n} index file(s) (--kind no-index: the application rebuilds them)",
    "not-photo": "{n} file(s) that are not photos (--kind photos)",
}


def left_out_sentence(omitted) -> str:
    """``omitted`` (the manifest's OmittedFile list) counted by reason, in words."""
    if not omitted:
        return "nothing left out"
    counts = Counter(o.reason for o in omitted)
    parts = [
        LEFT_OUT_REASONS.get(reason, "{n} file(s): " + reason).format(n=n)
        for reason, n in sorted(counts.items())
    ]
    return f"{len(omitted)} left out: " + ", ".join(parts)


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
        return f"the previous backup {previous} is intact"
    return "nothing was replaced (no earlier backup of that name on the medium)"


def leftover_sentences(folder: Path) -> list[str]:
    """One line per partial file an interrupted backup left in ``folder``."""
    from fiscalsafe.pipeline.leftovers import find_leftovers
    from fiscalsafe.units import human_size

    return [
        f"leftover of an interrupted backup (power cut, medium pulled out?): {x.path.name} "
        f"({human_size(x.size)}), not a backup; the next backup of {x.file} removes it"
        for x in find_leftovers(folder)
    ]
