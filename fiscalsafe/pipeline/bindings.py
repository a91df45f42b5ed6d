"""What a verified manifest binds beyond file contents.

The shop key signs two things: each archive file (the ``.minisig`` sidecar, whose trusted
comment names the file, bag, dossier, kind, creation time and part) and the manifest
inside. The sidecar can be lost; the manifest cannot be, so it must account for every
byte that means something on its own:

- names and claims: the archive's file name and every sidecar claim agree with it;
- time: its creation time is not in the verifier's future;
- container: each member's mode and time, the tag files, and the shape of the tar and
  zstd streams are exactly what the writer produces. A directory member, an extra tag
  file, a pax record, a skippable zstd frame or padding the writer never emits is data no
  signature covers, so it is refused whether or not the sidecar is present.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fiscalsafe import localformat, minisign
from fiscalsafe.formats import bagit
from fiscalsafe.formats.layout import MANIFEST_PATH, SIDECAR, parse_comment
from fiscalsafe.formats.manifest import Manifest
from fiscalsafe.i18n import _, n_
from fiscalsafe.pipeline.tarwrite import BLOCK, RECORD
from fiscalsafe.verify.findings import finding

#: How far a signed creation time may lie after the verifier's clock: two computers'
#: clocks disagree by seconds when synchronised, by minutes when not (a shop PC off the
#: network). Beyond that the time is wrong or forged, and coverage "as of" it is unproven.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Tag files the writer adds beside those the manifest lists (it cannot list itself).
WRITER_TAG_FILES = (MANIFEST_PATH, MANIFEST_PATH + SIDECAR, "tagmanifest-sha256.txt")
TAG_MODE = 0o644
#: The pax records ``tarfile`` writes for a fiscalsafe member: a long or non-ASCII name,
#: a size above 8 GiB, a time with nanoseconds.
WRITER_PAX_KEYS = frozenset({"path", "size", "mtime"})
_ARCHIVE_NAME = re.compile(r"(?:\.tar\.zst|\.tar)(?:\.\d{3})?$")
#: The claims every sidecar's trusted comment makes about the manifest.
_MANIFEST_CLAIMS = ("bag", "dossier", "kind", "created")


def created_time(manifest: Manifest) -> dt.datetime:
    """The manifest's creation time (its format is checked when it is parsed)."""
    return dt.datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def archive_base(name: str) -> str:
    """``NAME.tar.zst.003`` -> ``NAME``: the bag name a backup's file name claims."""
    return _ARCHIVE_NAME.sub("", name)


def check_file_name(files: list[Path], manifest: Manifest, add) -> None:
    base = archive_base(files[0].name)
    if base != manifest.bag:
        add(
            finding(
                "CLAIM_MISMATCH",
                _(
                    "file name: {name} is not named after the signed bag {bag} (a renamed backup)",
                    name=files[0].name,
                    bag=manifest.bag,
                ),
                file=files[0].name,
                expected=manifest.bag,
                found=base,
            )
        )


def check_sidecar_claims(
    files: list[Path], verified: list[minisign.Signature | None], manifest: Manifest, add
) -> None:
    """Each verified sidecar's trusted comment against the real file name, its position in
    the set and the signed manifest. Unknown extra fields are ignored."""
    for position, (path, sig) in enumerate(zip(files, verified, strict=True), 1):
        if sig is None:
            continue
        fields = parse_comment(sig.trusted_comment) or {}
        claims = {
            "file": path.name,
            "bag": manifest.bag,
            "dossier": str(manifest.dossier.get("id")),
            "kind": manifest.kind,
            "created": manifest.created,
            "part": f"{position}/{len(files)}",
        }
        for name, expected in claims.items():
            found = fields.get(name)
            if found != expected:
                said = {"name": name, "sidecar": path.name + SIDECAR}
                said.update(found=found, expected=expected)
                add(
                    finding(
                        "CLAIM_MISMATCH",
                        _(
                            "{name}: {sidecar} claims {name}={found}, the file says {expected}",
                            **said,
                        )
                        if name in ("file", "part")
                        else _(
                            "{name}: {sidecar} claims {name}={found}, the signed manifest says "
                            "{expected}",
                            **said,
                        ),
                        file=path.name + SIDECAR,
                        expected=expected,
                        found=found,
                    )
                )


def shop_zone(manifest: Manifest) -> str:
    """The shop's time zone as the manifest names it, for times shown to people; UTC when
    it names none this system knows."""
    tz = manifest.dossier.get("tz")
    try:
        ZoneInfo(tz)
    except (TypeError, ValueError, ZoneInfoNotFoundError):
        return "UTC"
    return tz


def check_created(manifest: Manifest, now: dt.datetime, add) -> None:
    created = created_time(manifest)
    if created > now + CLOCK_SKEW:
        shown = localformat.local(shop_zone(manifest))
        add(
            finding(
                "BACKUP_FROM_FUTURE",
                _(
                    "signed as created {created}, after the verifier's clock ({now}, "
                    "tolerance {minutes} min)",
                    created=shown.when(created),
                    now=shown.when(now),
                    minutes=CLOCK_SKEW.seconds // 60,
                ),
                file=MANIFEST_PATH,
                expected=f"<= {now:%Y-%m-%dT%H:%M:%SZ}",
                found=manifest.created,
            )
        )


@dataclass
class MemberMeta:
    mode: int
    mtime_ns: int
    pax_keys: frozenset[str]


@dataclass
class ContainerShape:
    """What the stream looked like around the members (``None``: not a stream)."""

    skippable_frames: int
    hollow_zstd: int  # blocks and frames that decode to nothing (``FrameWalker.hollow``)
    tar_end: int | None  # offset of the end-of-archive marker
    tar_length: int
    extension_headers: int


def check_members(
    manifest: Manifest,
    meta: dict[str, MemberMeta],
    directories: list[str],
    tags: dict[str, bytes],
    add,
) -> None:
    """Modes, times and names of the members against the manifest and the writer."""
    created_ns = int(created_time(manifest).timestamp()) * 1_000_000_000
    for entry in manifest.files:
        got = meta.get(f"data/{entry.path}")
        if got is not None:
            _compare(f"data/{entry.path}", got, entry.mode & 0o7777, entry.mtime_ns, add)
    allowed = set(manifest.tag_files) | set(WRITER_TAG_FILES)
    for rel, got in meta.items():
        if rel.startswith("data/"):
            continue
        if rel not in allowed:
            add(finding("FILE_UNEXPECTED", _("tag file not in the signed manifest"), file=rel))
            continue
        _compare(rel, got, TAG_MODE, created_ns, add)
    for rel, got in meta.items():
        extra = sorted(got.pax_keys - WRITER_PAX_KEYS)
        if extra:
            add(
                finding(
                    "CONTAINER_UNSIGNED_DATA",
                    _(
                        "pax records the signed manifest does not cover: {keys}",
                        keys=", ".join(extra),
                    ),
                    file=rel,
                )
            )
    for name in directories:
        add(
            finding(
                "CONTAINER_UNSIGNED_DATA",
                _("a directory member: fiscalsafe writes none, its mode and time are unsigned"),
                file=name,
            )
        )
    _check_tag_manifest(manifest, tags, add)


def _compare(rel: str, got: MemberMeta, mode: int, mtime_ns: int, add) -> None:
    if got.mode != mode:
        add(
            finding(
                "MEMBER_METADATA_MISMATCH",
                _("mode differs from the signed manifest"),
                file=rel,
                expected=oct(mode),
                found=oct(got.mode),
            )
        )
    if got.mtime_ns != mtime_ns:
        add(
            finding(
                "MEMBER_METADATA_MISMATCH",
                _("modification time differs from the signed manifest"),
                file=rel,
                expected=mtime_ns,
                found=got.mtime_ns,
            )
        )


def _check_tag_manifest(manifest: Manifest, tags: dict[str, bytes], add) -> None:
    """The tag manifest is the one tag file no signature covers: it must be exactly what
    the writer renders from the signed digests."""
    name = "tagmanifest-sha256.txt"
    data, sig = tags.get(name), tags.get(MANIFEST_PATH + SIDECAR)
    if data is None or sig is None or MANIFEST_PATH not in tags:
        return  # reported as missing by the bag and manifest checks
    entries = list(manifest.tag_files.items())
    entries.append((MANIFEST_PATH, hashlib.sha256(tags[MANIFEST_PATH]).hexdigest()))
    entries.append((MANIFEST_PATH + SIDECAR, hashlib.sha256(sig).hexdigest()))
    try:
        expected = bagit.render_manifest(entries)
    except ValueError:
        expected = None
    if data != expected:
        add(
            finding(
                "CONTAINER_UNSIGNED_DATA",
                _("the tag manifest differs from the one the signed digests give"),
                file=name,
            )
        )


def check_container(shape: ContainerShape, target: str, add) -> None:
    """No skippable frame, no zstd block or frame that decodes to nothing, no extension
    header, and the tar's end padded to a whole record, as the writer does: anything else
    carries unsigned bytes. How many frames the tar is cut into is not judged (the writer
    cuts large files into frames of their own): a frame that decodes to something carries
    only what any zstd encoding does, choices among equivalent encodings of the same tar."""
    problems = []
    if shape.skippable_frames:
        problems.append(
            n_(
                "{n} skippable zstd frame",
                "{n} skippable zstd frames",
                shape.skippable_frames,
            )
        )
    if shape.hollow_zstd:
        problems.append(
            n_(
                "{n} zstd block or frame that decodes to nothing",
                "{n} zstd blocks or frames that decode to nothing",
                shape.hollow_zstd,
            )
        )
    if shape.extension_headers:
        problems.append(
            n_(
                "{n} global pax or GNU long-name header",
                "{n} global pax or GNU long-name headers",
                shape.extension_headers,
            )
        )
    if shape.tar_end is not None:
        end = shape.tar_end + 2 * BLOCK
        expected = end + (-end % RECORD)
        if shape.tar_length != expected:
            problems.append(
                _(
                    "{extra} bytes after the end-of-archive marker where fiscalsafe pads to "
                    "{padding}",
                    extra=shape.tar_length - end,
                    padding=expected - end,
                )
            )
    for problem in problems:
        add(finding("CONTAINER_UNSIGNED_DATA", problem, file=target))
