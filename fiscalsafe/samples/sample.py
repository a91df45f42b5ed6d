"""Sample shop dossiers for tests, demos, CI and benchmarks.

``write_sample(root, ...)`` writes a *root* holding ``dossiers/`` (two shops in the default
profile) and ``keys/`` (the shop's minisign key pair and the editor's key pair). The same
seed and dates give byte-identical files, with fixed modification times.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe import minisign
from fiscalsafe.crypto import ECDSA_P256_SHA256, derive_signing_key
from fiscalsafe.errors import UsageError
from fiscalsafe.formats.dossier import DossierIdentity
from fiscalsafe.i18n import _
from fiscalsafe.samples.bulk import BulkGenerator
from fiscalsafe.samples.history import build_history, to_us

#: (id, shop name, SIRET, time zone, fiscal year start, share of the bulk size)
SHOPS = (
    ("MAG001", "Boutique Rivoli", "55210055400013", "Europe/Paris", (1, 1), 0.6),
    ("MAG002", "Garage du Rhone", "44306184100047", "Europe/Paris", (4, 1), 0.4),
)
#: Bulk database tables (back office ``odeis`` and workshop ``ycar``) with size weights.
TABLES = (
    ("odeis", "VENTE", 30),
    ("odeis", "LIGNEVENTE", 25),
    ("odeis", "ARTICLE", 8),
    ("odeis", "CLIENT", 6),
    ("odeis", "STOCK", 6),
    ("odeis", "REGLEMENT", 5),
    ("ycar", "ORDREREP", 10),
    ("ycar", "VEHICULE", 6),
    ("ycar", "INTERVENTION", 4),
)
MEMO_SHARE, INDEX_SHARE, PHOTO_SHARE = 0.10, 0.20, 0.08


@dataclass(frozen=True)
class SampleResult:
    root: Path
    dossiers: list[Path]
    keys: dict[str, Path]
    files: list[Path]
    tickets: int

    def to_json(self) -> dict:
        return {
            "root": str(self.root),
            "dossiers": [str(p) for p in self.dossiers],
            "keys": {k: str(v) for k, v in self.keys.items()},
            "files": [str(p) for p in self.files],
            "tickets": self.tickets,
        }


def _seed_bytes(seed: int, label: str) -> bytes:
    return hashlib.sha256(f"fiscalsafe sample {seed} {label}".encode()).digest()


def write_sample(
    root: Path,
    *,
    seed: int = 1,
    years: int = 7,
    until: dt.date,
    size: int = 8 * 1024 * 1024,
    tickets_per_day: int = 20,
    open_app: bool = False,
    editor_algorithm: str = ECDSA_P256_SHA256,
    shops: int = len(SHOPS),
) -> SampleResult:
    """Write a sample root. ``size`` is the bulk database and photo bytes, all shops together."""
    if root.exists() and any(root.iterdir()):
        raise UsageError(_("{root} is not empty; choose a new folder for the sample", root=root))
    if years < 1 or tickets_per_day < 1 or size < 0:
        raise UsageError(_("--years and --tickets-per-day must be at least 1, --size at least 0"))
    if not 1 <= shops <= len(SHOPS):
        raise UsageError(_("--shops must be between 1 and {most}", most=len(SHOPS)))
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    mtime = to_us(dt.datetime(until.year, until.month, until.day, tzinfo=dt.UTC)) / 1e6

    def put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    editor = derive_signing_key(_seed_bytes(seed, "editor"), editor_algorithm)
    shop_key = minisign.generate_keypair(seed=_seed_bytes(seed, "shop"))
    keys_dir = root / "keys"
    keys = {
        "shop_public": keys_dir / "shop.pub",
        "shop_secret": keys_dir / "shop.key",
        "editor_public": keys_dir / "editor.pub",
        "editor_secret": keys_dir / "editor.key",
    }
    put(keys["shop_public"], shop_key.public_key().to_file_bytes())
    put(keys["shop_secret"], shop_key.to_file_bytes(passphrase=None))
    os.chmod(keys["shop_secret"], 0o600)
    put(keys["editor_public"], editor.public_key().to_pem())
    put(keys["editor_secret"], editor.to_pem())
    os.chmod(keys["editor_secret"], 0o600)

    start = dt.date(until.year - years, until.month, 1 if until.day == 1 else until.day)
    dossiers = []
    tickets = 0
    chosen = SHOPS[:shops]
    total_share = sum(shop[-1] for shop in chosen)
    for index, (shop_id, name, siret, tz, fy_start, share) in enumerate(chosen):
        share = share / total_share
        identity = DossierIdentity(shop_id, name, siret, tz, fy_start)
        dossier = root / "dossiers" / shop_id
        rng = random.Random(f"{seed}-{shop_id}")
        history = build_history(identity, editor, start, until, tickets_per_day, rng)
        tickets += history.ticket_count
        put(dossier / "dossier.json", (json.dumps(identity.to_json(), indent=2) + "\n").encode())
        put(dossier / "keys" / "editor.pub", editor.public_key().to_pem())
        put(dossier / "jet" / "journal.jet", history.journal)
        put(dossier / "jet" / "journal.head", history.head)
        for file_name, data in history.archives:
            put(dossier / "archives" / file_name, data)
        _write_bulk(dossier, int(size * share), seed * 100 + index, rng, put, written)
        put(dossier / "tmp" / "export.tmp", b"temporary export, never backed up\n")
        if open_app:
            put(dossier / "odeis" / "POSTE-01.lck", b"POSTE-01\nMARIE\n")
            put(dossier / "ycar" / "POSTE-02.lck", b"POSTE-02\nKARIM\n")
        dossiers.append(dossier)

    secrets = {keys["shop_secret"], keys["editor_secret"]}
    for path in written:
        # Fixed modes and times: the same seed gives the same tree whatever the umask.
        os.chmod(path, 0o600 if path in secrets else 0o644)
        os.utime(path, (mtime, mtime))
    return SampleResult(root, dossiers, keys, sorted(written), tickets)


def _write_bulk(dossier, size, seed, rng, put, written) -> None:
    bulk = BulkGenerator(seed)
    photo_bytes = int(size * PHOTO_SHARE)
    db_bytes = size - photo_bytes
    weight_total = sum(w for _, _, w in TABLES)
    for folder, table, weight in TABLES:
        data_size = int(db_bytes * weight / weight_total / (1 + MEMO_SHARE + INDEX_SHARE))
        for ext, share in (("fic", 1.0), ("mmo", MEMO_SHARE), ("ndx", INDEX_SHARE)):
            path = dossier / folder / f"{table}.{ext}"
            header = f"PCSOFT HFSQL {table}.{ext.upper()} v1\x1a".encode().ljust(512, b"\0")
            bulk.write_file(path, max(512, int(data_size * share)), header)
            written.append(path)
    for direction, count in (("envoi", 3), ("reception", 2)):
        for n in range(count):
            lines = [
                f"TRF;{direction};{n};{rng.randint(1, 10**6)};{rng.random():.6f}" for _ in range(50)
            ]
            put(dossier / "transferts" / direction / f"TRF{n:05d}.trf", "\n".join(lines).encode())
    photo_count = max(3, min(200, photo_bytes // (200 * 1024)))
    each = max(1024, photo_bytes // photo_count)
    for n in range(photo_count):
        kind = ("stock", "sav", "cni")[n % 3]
        data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bulk.random_bytes(each)
        put(dossier / "photos" / kind / f"IMG{n:05d}.jpg", data)
