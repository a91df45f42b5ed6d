"""One harness per parser of untrusted bytes.

Each target takes arbitrary bytes. It may raise only the errors fiscalsafe raises on
purpose for bad input (:data:`ALLOWED`); anything else (a ``KeyError``, a
``RecursionError``, a ``MemoryError``, an ``AssertionError`` from a property checked here)
is a defect. The ``stream`` and ``restore`` targets also check that nothing is written
outside the folder they give to fiscalsafe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zstandard

from fiscalsafe import minisign
from fiscalsafe.crypto import load_public_key_pem
from fiscalsafe.errors import MalformedError, VerificationError
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import bagit
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import parse_identity, parse_profile
from fiscalsafe.formats.manifest import parse_manifest
from fiscalsafe.formats.tarstream import MAX_MEMBER_BYTES, MAX_META_BYTES, READ_CHUNK, TarReader
from fiscalsafe.formats.zstdframes import FrameWalker
from fiscalsafe.pipeline.fiscal import FiscalChecker
from fiscalsafe.pipeline.listing import list_backups
from fiscalsafe.pipeline.restore import restore_backup
from fiscalsafe.pipeline.verify_backup import MAX_HELD_FISCAL, verify_stream
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.trust import TrustedKeys

from .corpus import Seeds

#: What a parser may raise for bad bytes (``UnsupportedVersionError`` is a MalformedError).
ALLOWED = (MalformedError, VerificationError)
TZ = "Europe/Paris"
AS_OF = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@functools.cache
def _editor_keys(path: str) -> TrustedKeys:
    return TrustedKeys((load_public_key_pem(Path(path).read_bytes()),), self_asserted=False)


def _journal(data: bytes, seeds: Seeds) -> None:
    for _ in fj.iter_records(io.BytesIO(data)):
        pass


def _fiscal_check(archives: list[bytes], journal: bytes, head: bytes, seeds: Seeds) -> None:
    """The whole fiscal check as ``check`` and ``verify`` run it: archives, chain,
    journal, cross-checks, coverage. Findings only, never an error."""
    checker = FiscalChecker(seeds.dossier_id, TZ, _editor_keys(str(seeds.editor_pub)), 1)
    for index, data in enumerate(archives, 1):
        checker.add_archive(f"archives/A{index:06d}.fsa", data)
    checker.add_journal("jet/journal.jet", journal, "jet/journal.head", head)
    report = CheckReport(seeds.dossier_id, "", AS_OF.isoformat(), 1, {}, None)
    checker.finish(report, AS_OF, 1)


def _journal_check(data: bytes, seeds: Seeds) -> None:
    _fiscal_check(seeds.inputs["archive"], data, seeds.inputs["head"][0], seeds)


def _head_check(data: bytes, seeds: Seeds) -> None:
    _fiscal_check(seeds.inputs["archive"], seeds.inputs["journal"][-1], data, seeds)


def _head(data: bytes, seeds: Seeds) -> None:
    fj.parse_head(data)


def _archive(data: bytes, seeds: Seeds) -> None:
    body = fa.parse_body(fa.parse_envelope(data).body)
    for index, (ticket_body, signature) in enumerate(body.raw_tickets):
        fa.decode_ticket(ticket_body, signature, index)


def _archive_body(data: bytes, seeds: Seeds) -> None:
    body = fa.parse_body(data)
    for index, (ticket_body, signature) in enumerate(body.raw_tickets):
        fa.decode_ticket(ticket_body, signature, index)


def _ticket(data: bytes, seeds: Seeds) -> None:
    fa.decode_ticket(data, b"", 0)


def _archive_check(data: bytes, seeds: Seeds) -> None:
    """A hostile second archive among good ones (its body is parsed even when its
    signature fails, to say what changed, so its values reach every later check)."""
    first = seeds.inputs["archive"][0]
    _fiscal_check([first, data], seeds.inputs["journal"][-1], seeds.inputs["head"][0], seeds)


def _manifest(data: bytes, seeds: Seeds) -> None:
    parse_manifest(data)


def _bagit_txt(data: bytes, seeds: Seeds) -> None:
    bagit.parse_bagit_txt(data)


def _bag_info(data: bytes, seeds: Seeds) -> None:
    info = bagit.parse_bag_info(data)
    oxum = info.get("Payload-Oxum")
    if oxum is not None:
        bagit.parse_payload_oxum(oxum)


def _bag_manifest(data: bytes, seeds: Seeds) -> None:
    bagit.parse_checksum_manifest(data, "sha256")


def _bag_fetch(data: bytes, seeds: Seeds) -> None:
    bagit.parse_fetch(data)


def _minisig(data: bytes, seeds: Seeds) -> None:
    signature = minisign.parse_signature(data)
    digest = minisign.new_prehash()
    digest.update(b"data")
    minisign.verify_digest(seeds.secret.public_key(), signature, digest.digest(), b"data")


def _sidecar(data: bytes, seeds: Seeds) -> None:
    """A planted or damaged ``.minisig`` beside a backup: ``verify`` reads its trusted
    comment (part numbers, set id) and ``list`` (and so rotation) its file name, both
    before any signature is checked."""
    with tempfile.TemporaryDirectory(prefix="fiscalsafe-fuzz-") as tmp:
        box = Path(tmp) / "box"
        box.mkdir()
        (Path(tmp) / "outside").write_bytes(b"not a backup")  # what a planted one may name
        archive = box / seeds.tiny_backup.name
        shutil.copyfile(seeds.tiny_backup, archive)
        Path(str(archive) + ".minisig").write_bytes(data)
        verify_stream([archive], shop_key=seeds.secret.public_key(), trust=[], as_of=None, years=1)
        for entry in list_backups(box):
            for path in entry.paths:
                assert path.parent == box, f"listed outside the folder: {path}"


def _minisign_pub(data: bytes, seeds: Seeds) -> None:
    minisign.PublicKey.from_file_bytes(data)


def _editor_key(data: bytes, seeds: Seeds) -> None:
    load_public_key_pem(data)


def _identity(data: bytes, seeds: Seeds) -> None:
    parse_identity(data)


def _profile(data: bytes, seeds: Seeds) -> None:
    parse_profile(data)


def _zstd_frames(data: bytes, seeds: Seeds) -> None:
    walker = FrameWalker()
    # Odd chunk sizes: the walker must not depend on how the bytes arrive.
    for start in range(0, len(data), 7):
        walker.feed(data[start : start + 7])
    walker.finish()


class BoundedStream(io.BytesIO):
    """A stream that fails the harness when asked for a negative or unbounded count:
    ``read(-1)`` would mean "the rest of the stream", whatever its size."""

    LARGEST_READ = max(READ_CHUNK, MAX_META_BYTES)

    def read(self, n: int | None = -1) -> bytes:
        assert n is not None and 0 <= n <= self.LARGEST_READ, f"reader asked for {n} bytes"
        return super().read(n)


def _tar(data: bytes, seeds: Seeds) -> None:
    reader = TarReader(BoundedStream(data))
    for member in reader.members():
        assert 0 <= member.size <= MAX_MEMBER_BYTES, f"member size {member.size} accepted"
        while reader.read(64 * 1024):
            pass


def _verify_bytes(data: bytes, seeds: Seeds, *, restore: bool) -> None:
    """``verify`` (or ``restore``) of ``data`` saved under the tiny backup's name, with
    its original sidecar; then check that nothing appeared beside the folder given."""
    with tempfile.TemporaryDirectory(prefix="fiscalsafe-fuzz-") as tmp:
        box = Path(tmp) / "box"
        box.mkdir()
        archive = box / seeds.tiny_backup.name
        archive.write_bytes(data)
        shutil.copyfile(str(seeds.tiny_backup) + ".minisig", str(archive) + ".minisig")
        before = sorted(os.listdir(tmp)), sorted(os.listdir(box))
        args = {
            "shop_key": seeds.secret.public_key(),
            "trust": [seeds.editor_pub],
            "as_of": None,
            "years": 1,
            "workers": 1,
        }
        if restore:
            dest = box / "dest"
            result = restore_backup([archive], dest, **args)
            assert result.restored == result.report.ok
            assert result.report.held_peak <= MAX_HELD_FISCAL, "memory budget exceeded"
            staging = box / ".dest.fiscalsafe-partial"
            assert not staging.exists(), "restore left its staging folder"
            if not result.restored:
                assert not dest.exists(), "a failed restore left its destination"
            else:
                shutil.rmtree(dest)
        else:
            report = verify_stream([archive], **args)
            assert report.held_peak <= MAX_HELD_FISCAL, f"held {report.held_peak} bytes"
        after = sorted(os.listdir(tmp)), sorted(os.listdir(box))
        assert after == before, f"files appeared outside the target: {after} vs {before}"


def _stream(data: bytes, seeds: Seeds) -> None:
    _verify_bytes(data, seeds, restore=False)


def _stream_recompressed(data: bytes, seeds: Seeds) -> None:
    """A mutated *tar*, compressed properly: hostile content past the zstd checksum."""
    _verify_bytes(zstandard.ZstdCompressor(level=1).compress(data), seeds, restore=False)


def _restore(data: bytes, seeds: Seeds) -> None:
    _verify_bytes(zstandard.ZstdCompressor(level=1).compress(data), seeds, restore=True)


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes, Seeds], None]
    seeds: str  # key of Seeds.inputs
    doc: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("journal", _journal, "journal", "journal framing: iter_records"),
        Target("journal_check", _journal_check, "journal", "fiscal check, hostile journal"),
        Target("head", _head, "head", "signed journal head: parse_head"),
        Target("head_check", _head_check, "head", "fiscal check, hostile journal head"),
        Target("archive", _archive, "archive", "parse_envelope, parse_body, decode_ticket"),
        Target("archive_body", _archive_body, "archive_body", "parse_body, decode_ticket"),
        Target("ticket", _ticket, "ticket", "decode_ticket"),
        Target("archive_check", _archive_check, "archive", "fiscal check, hostile archive"),
        Target("manifest", _manifest, "manifest", "fiscalsafe manifest.json"),
        Target("bagit_txt", _bagit_txt, "bagit_txt", "BagIt declaration"),
        Target("bag_info", _bag_info, "bag_info", "bag-info.txt and Payload-Oxum"),
        Target("bag_manifest", _bag_manifest, "bag_manifest", "BagIt (tag) manifests"),
        Target("bag_fetch", _bag_fetch, "bag_manifest", "BagIt fetch.txt"),
        Target("minisig", _minisig, "minisig", "minisign signature: parse and verify"),
        Target("sidecar", _sidecar, "minisig", "a backup's sidecar, as verify and list read it"),
        Target("minisign_pub", _minisign_pub, "minisign_pub", "minisign public key file"),
        Target("editor_key", _editor_key, "editor_key", "PEM editor key and key policy"),
        Target("identity", _identity, "identity", "dossier.json"),
        Target("profile", _profile, "profile", "dossier profile JSON"),
        Target("zstd_frames", _zstd_frames, "zstd_frames", "zstd frame walker"),
        Target("tar", _tar, "tar", "bounded tar reader"),
        Target("stream", _stream, "stream", "verify_stream of a .tar.zst or .tar file"),
        Target(
            "stream_tar",
            _stream_recompressed,
            "tar",
            "verify_stream of a mutated tar, validly compressed",
        ),
        Target("restore", _restore, "tar", "restore of a mutated tar: nothing outside dest"),
    )
}


def run_one(target: Target, data: bytes, seeds: Seeds) -> None:
    """Run ``target`` on ``data``; the errors in ``ALLOWED`` mean "rejected cleanly"."""
    with contextlib.suppress(*ALLOWED):
        target.run(data, seeds)
