"""Seed inputs for the fuzz harnesses, and small backups for the robustness tests.

Everything here is built from fixed seeds in a folder the caller gives, in well under a
second: a one-year, one-shop sample dossier (journal, head, archives, keys) and a tiny
``photos`` backup of a two-file dossier (about 2 KB compressed), whose tar and tag files
seed the container and BagIt parsers. ``craft_backup`` rebuilds a backup from a list of
tar members, with a correctly signed manifest, tag manifest and sidecar, so that a test
can make *only* the content hostile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import zstandard

from fiscalsafe import minisign
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import bagit
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, DossierIdentity
from fiscalsafe.pipeline.backup import BackupOptions, BackupResult, backup_dossier
from fiscalsafe.samples.sample import write_sample

UNTIL = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
SHOP_SEED = b"fiscalsafe fuzz shop key seed 01"
TINY_ID = "MAG009"
TINY_BAG = f"{TINY_ID}_2026-11-27_photos"
MANIFEST_PATH = "fiscalsafe/manifest.json"


@dataclass
class Seeds:
    """Valid inputs for every parser, plus what the stream harnesses need to run."""

    root: Path
    dossier_id: str
    editor_pub: Path  # PEM editor key of the sample
    shop_pub: Path  # minisign public key of the tiny backup
    secret: minisign.SecretKey
    tiny_backup: Path  # the ~2 KB photos backup
    inputs: dict[str, list[bytes]] = field(default_factory=dict)


def tiny_dossier(folder: Path, dossier_id: str = TINY_ID) -> Path:
    """A dossier holding only its identity and one photo: enough for a ``photos`` backup."""
    dossier = folder / dossier_id
    (dossier / "photos").mkdir(parents=True)
    identity = DossierIdentity(dossier_id, "Boutique", "55210055400013", "Europe/Paris", (1, 1))
    (dossier / "dossier.json").write_text(json.dumps(identity.to_json(), indent=2) + "\n")
    (dossier / "photos" / "p0001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a photo " * 3)
    return dossier


def tiny_backup(
    dossier: Path, dest: Path, secret: minisign.SecretKey, *, level: int = 19, **options
) -> BackupResult:
    """A ``photos`` backup (no fiscal content to re-check, so verifying it takes ~1 ms)."""
    opts = BackupOptions(kind="photos", allow_findings=True, years=1, level=level, **options)
    return backup_dossier(dossier, dest, secret, now=NOW, profile=DEFAULT_PROFILE, opts=opts)


def first_records(journal: bytes, count: int) -> bytes:
    """The journal's header and its first ``count`` records: a small, valid journal."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(journal)
    end = 0
    for _ in range(count + 1):
        unpacker.unpack()
        end = unpacker.tell()
    return journal[:end]


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


def tar_members(tar: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    """Every member of a trusted (our own) tar, with its content."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for info in tf:
            fh = tf.extractfile(info)
            out.append((info, fh.read() if fh else b""))
    return out


def build_seeds(root: Path) -> Seeds:
    """Write the sample and the tiny backup under ``root`` and collect the seed inputs."""
    sample = write_sample(
        root / "sample", seed=11, years=1, until=UNTIL, size=0, tickets_per_day=1, shops=1
    )
    dossier = sample.dossiers[0]
    secret = minisign.generate_keypair(seed=SHOP_SEED)
    shop_pub = root / "shop.pub"
    shop_pub.write_bytes(secret.public_key().to_file_bytes())
    medium = root / "medium"
    medium.mkdir()
    result = tiny_backup(tiny_dossier(root / "tiny"), medium, secret)
    archive_path = result.files[0]
    compressed = archive_path.read_bytes()
    tar = decompress(compressed)
    tags = {info.name.partition("/")[2]: data for info, data in tar_members(tar) if info.isfile()}

    journal = (dossier / "jet" / "journal.jet").read_bytes()
    archives = sorted((dossier / "archives").glob("*.fsa"))
    first_archive = archives[0].read_bytes()
    second_archive = archives[1].read_bytes()
    envelope = fa.parse_envelope(second_archive)
    body = fa.parse_body(envelope.body)
    ticket_body = body.raw_tickets[0][0] if body.raw_tickets else b"\x80"
    inputs = {
        "journal": [first_records(journal, 3), first_records(journal, 12)],
        "head": [(dossier / "jet" / "journal.head").read_bytes()],
        "archive": [first_archive, second_archive],
        "archive_body": [envelope.body],
        "ticket": [ticket_body],
        "manifest": [tags[MANIFEST_PATH]],
        "bagit_txt": [tags["bagit.txt"]],
        "bag_info": [tags["bag-info.txt"]],
        "bag_manifest": [tags["manifest-sha256.txt"], tags["tagmanifest-sha256.txt"]],
        "minisig": [
            Path(str(archive_path) + ".minisig").read_bytes(),
            tags[MANIFEST_PATH + ".minisig"],
            minisign.sign_bytes(
                secret,
                b"",
                "fiscalsafe-backup v1 file=../outside bag=x dossier=MAG009 "
                "created=2001-01-01T00:00:00Z part=2/3 set=0",
            ),
        ],
        "minisign_pub": [shop_pub.read_bytes()],
        "editor_key": [sample.keys["editor_public"].read_bytes()],
        "identity": [(dossier / "dossier.json").read_bytes()],
        "profile": [json.dumps(DEFAULT_PROFILE.to_json(), indent=1).encode()],
        "stream": [compressed, tar],
        "zstd_frames": [compressed],
        "tar": [tar],
    }
    return Seeds(
        root=root,
        dossier_id=dossier.name,
        editor_pub=sample.keys["editor_public"],
        shop_pub=shop_pub,
        secret=secret,
        tiny_backup=archive_path,
        inputs=inputs,
    )


# Crafted backups: hostile content, correctly signed.


def pax_member(name: str, data: bytes | None = None, **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data) if data is not None else 0
    info.mode = 0o644
    info.mtime = int(NOW.timestamp())
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data or b""


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar of ``members`` in order, whatever their names (tarfile writes what it is told)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, encoding="utf-8") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def sign_sidecar(
    secret: minisign.SecretKey, archive: Path, bag: str, manifest_bytes: bytes | None
) -> Path:
    """A sidecar signature over ``archive`` as fiscalsafe writes it."""
    data = archive.read_bytes()
    set_id = hashlib.sha256(manifest_bytes).hexdigest()[:32] if manifest_bytes else "none"
    comment = (
        f"fiscalsafe-backup v1 file={archive.name} bag={bag} dossier={TINY_ID} kind=photos "
        f"created={NOW.strftime('%Y-%m-%dT%H:%M:%SZ')} part=1/1 set={set_id} coverage=none "
        f"sha256={hashlib.sha256(data).hexdigest()}"
    )
    side = Path(str(archive) + ".minisig")
    side.write_bytes(minisign.sign_bytes(secret, data, comment))
    return side


def craft_backup(
    dest: Path,
    secret: minisign.SecretKey,
    members: list[tuple[tarfile.TarInfo, bytes]],
    *,
    bag: str = TINY_BAG,
    manifest_doc: dict | None = None,
    manifest_bytes: bytes | None = None,
    name: str | None = None,
    raw_tar: bytes | None = None,
    fmt: int = tarfile.PAX_FORMAT,
) -> Path:
    """Write ``dest/NAME.tar.zst`` and its sidecar, both signed with ``secret``.

    ``members`` are the payload and tag members *other than* the signed manifest, its
    signature and ``tagmanifest-sha256.txt``, which are (re)built here: the manifest from
    ``manifest_doc`` or ``manifest_bytes`` (signed as is), the tag manifest over every tag
    member; the tar is written in ``fmt``. With ``raw_tar`` the tar is taken verbatim
    instead (for headers ``tarfile`` cannot write).
    """
    if raw_tar is None:
        members = list(members)
        if manifest_doc is not None:
            manifest_bytes = (json.dumps(manifest_doc, indent=1) + "\n").encode()
        if manifest_bytes is not None:
            signature = minisign.sign_bytes(
                secret,
                manifest_bytes,
                f"fiscalsafe-manifest v1 bag={bag} sha256="
                f"{hashlib.sha256(manifest_bytes).hexdigest()}",
            )
            members.append(pax_member(f"{bag}/{MANIFEST_PATH}", manifest_bytes))
            members.append(pax_member(f"{bag}/{MANIFEST_PATH}.minisig", signature))
        tag_entries = [
            (info.name.partition("/")[2], hashlib.sha256(data).hexdigest())
            for info, data in members
            if info.isfile()
            and info.name.startswith(bag + "/")
            and not info.name.startswith(f"{bag}/data/")
        ]
        members.append(
            pax_member(f"{bag}/tagmanifest-sha256.txt", bagit.render_manifest(tag_entries))
        )
        raw_tar = tar_bytes(members, fmt)
    archive = dest / f"{name or bag}.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw_tar))
    sign_sidecar(secret, archive, bag, manifest_bytes)
    return archive


def tiny_members(seeds: Seeds) -> tuple[list[tuple[tarfile.TarInfo, bytes]], dict]:
    """The tiny backup's members (without manifest, its signature and the tag manifest)
    and its manifest as a JSON document, to be altered and re-signed by ``craft_backup``."""
    members = tar_members(decompress(seeds.tiny_backup.read_bytes()))
    doc = None
    kept = []
    for info, data in members:
        rel = info.name.partition("/")[2]
        if rel == MANIFEST_PATH:
            doc = json.loads(data)
        elif rel in (MANIFEST_PATH + ".minisig", "tagmanifest-sha256.txt"):
            continue
        else:
            kept.append((info, data))
    assert doc is not None
    return kept, doc
