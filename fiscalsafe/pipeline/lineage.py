"""Freshness across backups: the backups of one dossier must extend each other.

After every backup of a run is verified, the backups of each dossier, in order of their
signed creation time, must each extend the one before; the newest must extend what
fiscalsafe's state and an earlier evidence record (``verify --since``) proved. Only then
is the state moved forward.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

from fiscalsafe import fsio, localformat
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.bindings import shop_zone
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.pipeline.verify_backup import VerifyReport
from fiscalsafe.verify.freshness import KnownPoint, compare, newest_archive
from fiscalsafe.verify.verified import VerifiedHead

MAX_EVIDENCE_BYTES = 64 * 1024 * 1024


def by_dossier(reports: list[VerifyReport]) -> dict[str, list[VerifyReport]]:
    """Verified backups with a fiscal history, per dossier, oldest first."""
    groups: dict[str, list[VerifyReport]] = defaultdict(list)
    for r in reports:
        if r.manifest is not None and r.fiscal is not None and r.fiscal.dossier != "?":
            groups[r.fiscal.dossier].append(r)
    for group in groups.values():
        group.sort(key=lambda r: r.manifest.created)
    return groups


def check_lineage(
    reports: list[VerifyReport],
    *,
    state: StateStore | None,
    since: dict[str, KnownPoint] | None = None,
    now: dt.datetime,
    journal_file: str,
) -> None:
    """Add ``JOURNAL_ROLLBACK``/``ARCHIVE_ROLLBACK`` findings to the reports that do not
    extend an earlier history; then record the newest proven history in the state."""
    since = since or {}
    for dossier, group in by_dossier(reports).items():
        for earlier, later in zip(group, group[1:], strict=False):
            if earlier.fiscal.history is None:
                continue
            point = KnownPoint(
                _(
                    "the earlier backup {target} (created {created})",
                    target=earlier.target,
                    created=localformat.local(shop_zone(earlier.manifest)).when(
                        earlier.manifest.created
                    ),
                ),
                earlier.fiscal.history.tip,
                newest_archive(earlier.fiscal.proven_archives),
            )
            _add(later, point, journal_file)
        newest = group[-1]
        known = [state.load(dossier)] if state is not None else []
        if dossier in since:
            known.append(since[dossier])
        for point in known:
            if point is not None:
                _add(newest, point, journal_file)
        if state is not None and newest.verdict == "proven":
            state.advance(newest.fiscal, "verify", now)


def _add(report: VerifyReport, point: KnownPoint, journal_file: str) -> None:
    found = compare(report.fiscal.history, report.fiscal.proven_archives, point, journal_file)
    report.findings.extend(found)
    report.fiscal.findings.extend(found)


def load_since(path: Path) -> dict[str, KnownPoint]:
    """The newest journal head per dossier that an earlier evidence record proved."""
    data = fsio.read_regular(path, MAX_EVIDENCE_BYTES, N_("evidence record"), UsageError)
    if data is None:
        raise UsageError(_("evidence record {path} does not exist", path=path))
    try:
        doc = json.loads(data)
        if doc.get("format") != "fiscalsafe-evidence":
            raise ValueError
        points: dict[str, KnownPoint] = {}
        for v in doc["verifications"]:
            fiscal = v.get("fiscal") or {}
            head = fiscal.get("journal_head")
            if v.get("verdict") != "proven" or not head:
                continue
            if "sig_sha256" not in head:
                raise UsageError(
                    _(
                        "evidence record {path} has no journal head digests (made by an "
                        "older fiscalsafe): it cannot anchor --since",
                        path=path,
                    )
                )
            point = KnownPoint(
                _(
                    "the evidence record {name} of {created}",
                    name=path.name,
                    created=doc["created"],
                ),
                VerifiedHead(int(head["seq"]), int(head["ts"]), bytes.fromhex(head["sig_sha256"])),
            )
            dossier = str(fiscal["dossier"])
            if dossier not in points or points[dossier].head.seq < point.head.seq:
                points[dossier] = point
        return points
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(_("{path} is not a fiscalsafe evidence record", path=path)) from None
