"""Focused checks of a backup's container and signatures: member path policy, tar end
marker, zstd frames, completeness against the signed manifest, the manifest signature,
the sidecar signature and minisign key ids.

Each test crafts one small backup (a few KB, ``fuzz.corpus``) that is correct except for
one thing, and asserts the finding the verifier must give *and its reason*: layered
defences often report the same damage under the same code, so the message says which
check caught it. They are fast on purpose: the mutation run (``python3 dev.py mutate``)
runs them once per mutant.
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from fiscalsafe import minisign
from fiscalsafe.errors import MalformedError, VerificationError
from fiscalsafe.formats.zstdframes import FrameWalker
from fiscalsafe.pipeline.verify_backup import VerifyReport, verify_stream
from fiscalsafe.verify.findings import Finding, Severity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.corpus import (  # noqa: E402
    MANIFEST_PATH,
    TINY_BAG,
    Seeds,
    build_seeds,
    craft_backup,
    decompress,
    pax_member,
    sign_sidecar,
    tiny_members,
)

BAG = TINY_BAG


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return build_seeds(tmp_path_factory.mktemp("stream-seeds"))


def verify(seeds: Seeds, archive: Path, key: minisign.PublicKey | None = None) -> VerifyReport:
    return verify_stream(
        [archive],
        shop_key=key or seeds.secret.public_key(),
        trust=[seeds.editor_pub],
        as_of=None,
        years=1,
        workers=1,
    )


def errors(report: VerifyReport) -> list[Finding]:
    return [f for f in report.findings if f.severity is Severity.ERROR]


def error_codes(report: VerifyReport) -> set[str]:
    return {f.code for f in errors(report)}


def about(report: VerifyReport, code: str, file: str) -> list[str]:
    """The messages of ``code`` errors about ``file``."""
    return [f.message for f in errors(report) if f.code == code and f.file == file]


def crafted(seeds: Seeds, tmp_path: Path, extra=(), **changes) -> VerifyReport:
    members, doc = tiny_members(seeds)
    for key, value in changes.items():
        doc[key] = value
    archive = craft_backup(tmp_path, seeds.secret, members + list(extra), manifest_doc=doc)
    return verify(seeds, archive)


def test_the_crafted_baseline_is_proven(seeds: Seeds, tmp_path: Path) -> None:
    report = crafted(seeds, tmp_path)
    assert report.ok, [f.to_json() for f in report.findings]


# Member path policy


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/tmp/evil-absolute", "the path is absolute"),
        (f"{BAG}/data/../../evil-dotdot", "'..' component"),
        (f"{BAG}/data/photos/../../../evil", "'..' component"),
    ],
)
def test_unsafe_member_paths_are_refused_by_the_path_policy(
    seeds: Seeds, tmp_path: Path, name: str, reason: str
) -> None:
    report = crafted(seeds, tmp_path, extra=[pax_member(name, b"pwned")])
    messages = about(report, "MEMBER_UNSAFE", name)
    assert messages and all(reason in m for m in messages), messages


def test_a_member_name_seen_twice_is_a_duplicate(seeds: Seeds, tmp_path: Path) -> None:
    name = f"{BAG}/data/photos/p0001.jpg"
    report = crafted(seeds, tmp_path, extra=[pax_member(name, b"other bytes")])
    assert about(report, "MEMBER_DUPLICATE", name) == ["the same name appears twice"]


def test_names_differing_only_by_case_clash(seeds: Seeds, tmp_path: Path) -> None:
    name = f"{BAG}/data/photos/P0001.JPG"
    report = crafted(seeds, tmp_path, extra=[pax_member(name, b"x")])
    messages = about(report, "MEMBER_DUPLICATE", name)
    assert len(messages) == 1 and "case-insensitive" in messages[0]


# Container ends


def test_a_tar_without_its_end_marker_is_truncated(seeds: Seeds, tmp_path: Path) -> None:
    tar = decompress(seeds.tiny_backup.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.getmembers()
        end = tf.offset  # where the two zero blocks begin
    archive = craft_backup(tmp_path, seeds.secret, [], raw_tar=tar[:end])
    report = verify(seeds, archive)
    messages = [f.message for f in errors(report) if f.code == "CONTAINER_TRUNCATED"]
    assert messages == ["the tar stream ends without its end-of-archive marker"]


def test_the_frame_walker_refuses_a_stream_cut_inside_a_frame() -> None:
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(b"fiscal bytes " * 100)
    for cut in (len(frame) - 1, len(frame) - 4, 6, 2):
        walker = FrameWalker()
        walker.feed(frame + frame[:cut])  # a whole frame, then one cut short
        with pytest.raises(MalformedError, match="cut inside a frame"):
            walker.finish()
    whole = FrameWalker()
    whole.feed(frame + frame)
    whole.finish()
    assert whole.frames == 2


# Completeness against the signed manifest


def manifest_files(seeds: Seeds) -> list[dict]:
    return [dict(f) for f in tiny_members(seeds)[1]["files"]]


def test_a_signed_file_absent_from_the_backup_is_missing(seeds: Seeds, tmp_path: Path) -> None:
    files = manifest_files(seeds)
    files.append({**files[0], "path": "photos/p0002.jpg"})
    report = crafted(seeds, tmp_path, files=files)
    assert about(report, "FILE_MISSING", "data/photos/p0002.jpg")


def test_a_file_the_manifest_does_not_sign_is_unexpected(seeds: Seeds, tmp_path: Path) -> None:
    files = [f for f in manifest_files(seeds) if f["path"] != "photos/p0001.jpg"]
    report = crafted(seeds, tmp_path, files=files)
    assert about(report, "FILE_UNEXPECTED", "data/photos/p0001.jpg") == ["not in the manifest"]


def test_a_file_of_another_size_than_signed_is_a_size_mismatch(seeds, tmp_path) -> None:
    files = manifest_files(seeds)
    files[0]["size"] += 1
    report = crafted(seeds, tmp_path, files=files)
    assert about(report, "FILE_SIZE_MISMATCH", f"data/{files[0]['path']}")


def test_a_file_of_other_content_than_signed_is_a_digest_mismatch(seeds, tmp_path) -> None:
    files = manifest_files(seeds)
    files[0]["sha256"] = "0" * 64
    report = crafted(seeds, tmp_path, files=files)
    assert about(report, "FILE_DIGEST_MISMATCH", f"data/{files[0]['path']}")


# Signatures and key ids


def test_a_manifest_signature_over_other_bytes_is_invalid(seeds: Seeds, tmp_path: Path) -> None:
    members, doc = tiny_members(seeds)
    manifest = b'{"format": "fiscalsafe-manifest"}\n'
    signature = minisign.sign_bytes(seeds.secret, b"other bytes", "fiscalsafe-manifest v1")
    members += [
        pax_member(f"{BAG}/{MANIFEST_PATH}", manifest),
        pax_member(f"{BAG}/{MANIFEST_PATH}.minisig", signature),
    ]
    archive = craft_backup(tmp_path, seeds.secret, members)
    report = verify(seeds, archive)
    assert report.manifest is None
    assert "MANIFEST_SIGNATURE_INVALID" in error_codes(report)


def test_a_manifest_signed_by_another_key_is_untrusted(seeds: Seeds, tmp_path: Path) -> None:
    other = minisign.generate_keypair(seed=b"another shop key seed, 32 bytes!")
    members, doc = tiny_members(seeds)
    archive = craft_backup(tmp_path, seeds.secret, members, manifest_doc=doc)
    report = verify(seeds, archive, key=other.public_key())
    assert about(report, "MANIFEST_UNTRUSTED_KEY", MANIFEST_PATH)


def test_a_sidecar_signed_over_other_bytes_is_invalid(seeds: Seeds, tmp_path: Path) -> None:
    members, doc = tiny_members(seeds)
    archive = craft_backup(tmp_path, seeds.secret, members, manifest_doc=doc)
    side = sign_sidecar(seeds.secret, archive, BAG, None)
    genuine = minisign.parse_signature(side.read_bytes())
    side.write_bytes(minisign.sign_bytes(seeds.secret, b"other bytes", genuine.trusted_comment))
    report = verify(seeds, archive)
    assert error_codes(report) == {"SIDECAR_SIGNATURE_INVALID"}


def forged_key_id(secret: minisign.SecretKey) -> minisign.SecretKey:
    """Another key whose id shares its first byte with ``secret``'s."""
    other = minisign.generate_keypair(seed=b"a key that shares one id byte..!")
    return minisign.SecretKey(key_id=secret.key_id[:1] + bytes(7), seed=other.seed)


def test_minisign_key_ids_are_compared_whole(seeds: Seeds) -> None:
    forger = forged_key_id(seeds.secret)
    sig = minisign.sign_bytes(forger, b"data", "comment")
    with pytest.raises(VerificationError, match="signed by key .* expected"):
        minisign.verify_bytes(seeds.secret.public_key(), sig, b"data")
    parsed = minisign.parse_signature(sig)
    with pytest.raises(VerificationError, match="signed by key .* expected"):
        minisign.verify_trusted_comment(seeds.secret.public_key(), parsed)
