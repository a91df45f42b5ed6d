"""The backups already on a medium: the histories a new one must extend, stale parts,
rotation."""

from __future__ import annotations

from pathlib import Path

from fiscalsafe import minisign
from fiscalsafe.formats.layout import SIDECAR
from fiscalsafe.i18n import _
from fiscalsafe.verify.freshness import KnownPoint, head_claim


def _remove_stale_parts(dest: Path, file_name: str, new_parts: int) -> None:
    """Files of a previous backup of the same name that the new one will not replace: its
    extra parts (or all its parts, when the new backup is one file, ``new_parts == 0``),
    or its single file when the new backup is split. Left behind, they would look like
    members of the new set."""
    for old in dest.glob(f"{file_name}.[0-9][0-9][0-9]"):
        if int(old.suffix[1:]) > new_parts:
            old.unlink(missing_ok=True)
            Path(str(old) + SIDECAR).unlink(missing_ok=True)
    if new_parts:
        (dest / file_name).unlink(missing_ok=True)
        (dest / f"{file_name}{SIDECAR}").unlink(missing_ok=True)


def backups_on_medium(
    dest: Path, dossier_id: str, file_name: str, shop_key: minisign.PublicKey
) -> list[KnownPoint]:
    """The journal heads that this shop's backups of the dossier already on ``dest`` proved,
    from their signed sidecars (the one this backup would replace first): the new backup's
    history must extend each of them."""
    from fiscalsafe.pipeline.listing import list_backups

    points = []
    for entry in list_backups(dest, trusted=shop_key):
        head = head_claim(entry.head)
        if entry.dossier == dossier_id and head is not None:
            replaced = entry.name == file_name
            label = _("backup {name} on the medium", name=entry.name)
            points.append((not replaced, KnownPoint(label, head)))
    return [p for _, p in sorted(points, key=lambda item: item[0])]


def rotate_keep(
    dest: Path, dossier_id: str, keep: int, shop_key: minisign.PublicKey, kind: str
) -> list[Path]:
    """Keep the ``keep`` newest backups of this dossier and kind in ``dest``; remove older
    ones. Another kind is never removed: a nightly full backup must not delete the only
    copy of the photos.

    Age comes from the creation time in each sidecar's trusted comment, and only sidecars
    this shop key signed count: a planted sidecar can never make rotation delete a backup.
    """
    from fiscalsafe.pipeline.listing import list_backups

    mine = [
        b
        for b in list_backups(dest, trusted=shop_key)
        if b.dossier == dossier_id and b.kind == kind and b.created
    ]
    mine.sort(key=lambda b: b.created, reverse=True)
    removed: list[Path] = []
    for old in mine[keep:]:
        for path in old.paths:
            for p in (path, Path(str(path) + SIDECAR)):
                if p.exists():
                    p.unlink()
                    removed.append(p)
    return removed
