"""The dossier identity file (``dossier.json``) and the dossier profile.

The real shop software's file formats are not public, so which files are databases,
indexes, transfers, journal, archives, photos, locks and temporaries is described by a
*profile*: ordered categories of glob patterns over the dossier's relative paths.
Layout: ``schemas/profile.md`` and ``schemas/profile.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.packing import Phrase, check_version
from fiscalsafe.i18n import N_, _

DOSSIER_FORMAT = "fiscalsafe-dossier"
PROFILE_FORMAT = "fiscalsafe-profile"
MAJOR, MINOR = 1, 0
MAX_JSON_BYTES = 1024 * 1024

#: Categories never backed up: they describe a running application, not its data.
EXCLUDED_CATEGORIES = ("lock", "temporary")
PHOTO_CATEGORY = "photo"
INDEX_CATEGORY = "database-index"


@dataclass(frozen=True)
class DossierIdentity:
    dossier_id: str
    shop_name: str
    siret: str
    tz: str
    fiscal_year_start: tuple[int, int]  # (month, day)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def fiscal_year_of(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """The fiscal year (first day, last day) that contains ``day``."""
        month, mday = self.fiscal_year_start
        start = dt.date(day.year, month, mday)
        if day < start:
            start = dt.date(day.year - 1, month, mday)
        end = dt.date(start.year + 1, month, mday) - dt.timedelta(days=1)
        return start, end

    def to_json(self) -> dict[str, Any]:
        month, day = self.fiscal_year_start
        return {
            "format": DOSSIER_FORMAT,
            "version": [MAJOR, MINOR],
            "id": self.dossier_id,
            "shop": self.shop_name,
            "siret": self.siret,
            "tz": self.tz,
            "fiscal_year_start": f"{month:02d}-{day:02d}",
        }


def load_json_document(data: bytes, what: str) -> Any:
    if len(data) > MAX_JSON_BYTES:
        raise MalformedError(
            _("{what}: larger than {limit} bytes", what=what, limit=MAX_JSON_BYTES)
        )
    try:
        return json.loads(data.decode("utf-8"))
    # ValueError also covers integers longer than Python's digit limit.
    except ValueError as exc:
        raise MalformedError(
            _("{what}: not valid UTF-8 JSON ({exc})", what=what, exc=exc)
        ) from None
    except RecursionError:
        raise MalformedError(_("{what}: JSON nested too deeply", what=what)) from None


def _field(doc: Any, key: str, kind: type, what: str) -> Any:
    if not isinstance(doc, dict) or not isinstance(doc.get(key), kind):
        raise MalformedError(
            _(
                "{what}: field {key} is missing or not a {kind}",
                what=what,
                key=repr(key),
                kind=kind.__name__,
            )
        )
    return doc[key]


_DOSSIER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def parse_identity(data: bytes) -> DossierIdentity:
    what = "dossier.json"
    doc = load_json_document(data, what)
    if _field(doc, "format", str, what) != DOSSIER_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe dossier identity", what=what))
    check_version(_field(doc, "version", list, what), MAJOR, what)
    tz = _field(doc, "tz", str, what)
    try:
        ZoneInfo(tz)
    # OSError too: a key naming a folder of the database ("Europe") or far too long.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise MalformedError(
            _("{what}: unknown time zone {tz}", what=what, tz=repr(tz[:64]))
        ) from None
    fy = _field(doc, "fiscal_year_start", str, what)
    try:
        month, day = (int(x) for x in fy.split("-"))
        dt.date(2001, month, day)  # a non-leap year: 02-29 would make years irregular
    except ValueError:
        raise MalformedError(
            _("{what}: fiscal_year_start {fy} is not MM-DD", what=what, fy=repr(fy))
        ) from None
    dossier_id = _field(doc, "id", str, what)
    # The id names backup files and travels in signed comments: keep it to portable
    # characters so it can never be mistaken for another field or another dossier.
    if not _DOSSIER_ID.fullmatch(dossier_id):
        raise MalformedError(
            _(
                "{what}: id {dossier_id} must be 1-64 of A-Z a-z 0-9 . _ -",
                what=what,
                dossier_id=repr(dossier_id),
            )
        )
    return DossierIdentity(
        dossier_id=dossier_id,
        shop_name=_field(doc, "shop", str, what),
        siret=_field(doc, "siret", str, what),
        tz=tz,
        fiscal_year_start=(month, day),
    )


@dataclass(frozen=True)
class Profile:
    """Where things are in a dossier. ``*`` in a pattern matches across ``/`` too."""

    name: str
    identity: str
    editor_key: str
    journal: str
    journal_head: str
    archives: str  # pattern of fiscal archive files
    categories: tuple[tuple[str, tuple[str, ...]], ...]  # ordered: first match wins
    default_category: str

    def categorize(self, relpath: str) -> str:
        for category, patterns in self.categories:
            if any(fnmatch.fnmatchcase(relpath, p) for p in patterns):
                return category
        return self.default_category

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "version": [MAJOR, MINOR],
            "name": self.name,
            "identity": self.identity,
            "editor_key": self.editor_key,
            "journal": self.journal,
            "journal_head": self.journal_head,
            "archives": self.archives,
            "categories": [{"name": n, "patterns": list(p)} for n, p in self.categories],
            "default_category": self.default_category,
        }


DEFAULT_PROFILE = Profile(
    name="odeis-default",
    identity="dossier.json",
    editor_key="keys/editor.pub",
    journal="jet/journal.jet",
    journal_head="jet/journal.head",
    archives="archives/*.fsa",
    categories=(
        ("lock", ("*.lck", "*.LCK")),
        ("temporary", ("tmp/*", "*.tmp", "*.TMP", "*~")),
        ("identity", ("dossier.json",)),
        ("key", ("keys/*",)),
        ("journal", ("jet/*",)),
        ("fiscal-archive", ("archives/*",)),
        ("database-index", ("odeis/*.ndx", "ycar/*.ndx", "*.NDX")),
        ("database-memo", ("odeis/*.mmo", "ycar/*.mmo", "*.MMO")),
        ("database-data", ("odeis/*.fic", "ycar/*.fic", "*.FIC")),
        ("transfer-outbound", ("transferts/envoi/*",)),
        ("transfer-inbound", ("transferts/reception/*",)),
        ("photo", ("photos/*",)),
    ),
    default_category="other",
)


def parse_profile(data: bytes) -> Profile:
    what = Phrase(N_("profile"))
    doc = load_json_document(data, what)
    if _field(doc, "format", str, what) != PROFILE_FORMAT:
        raise MalformedError(_("{what}: not a fiscalsafe profile", what=what))
    check_version(_field(doc, "version", list, what), MAJOR, what)
    categories = []
    for i, item in enumerate(_field(doc, "categories", list, what)):
        where = Phrase(N_("profile category #{i}"), i=i)
        name = _field(item, "name", str, where)
        patterns = _field(item, "patterns", list, where)
        if not all(isinstance(p, str) and p for p in patterns):
            raise MalformedError(
                _("{what} category {name}: patterns must be strings", what=what, name=repr(name))
            )
        categories.append((name, tuple(patterns)))
    return Profile(
        name=_field(doc, "name", str, what),
        identity=_field(doc, "identity", str, what),
        editor_key=_field(doc, "editor_key", str, what),
        journal=_field(doc, "journal", str, what),
        journal_head=_field(doc, "journal_head", str, what),
        archives=_field(doc, "archives", str, what),
        categories=tuple(categories),
        default_category=_field(doc, "default_category", str, what),
    )
