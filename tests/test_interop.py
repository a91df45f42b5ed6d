"""Stock tools nobody here wrote accept a backup, and reject it once changed.

GNU ``tar`` and the ``zstd`` CLI list and extract it; the stock ``minisign`` verifies the
archive's sidecar and the inner manifest's signature with the shop's public key; the
Library of Congress ``bagit`` validator accepts the extracted bag. Each also rejects a
one-byte change. A missing tool skips the test on a workstation but fails it in CI
(environment variable ``CI`` set), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AS_OF, stock_tool

from fiscalsafe import minisign
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.formats.layout import MANIFEST_PATH
from fiscalsafe.pipeline import backup_payload, frames
from fiscalsafe.pipeline.backup import BackupOptions, backup_dossier, select_files
from fiscalsafe.pipeline.check import walk_dossier
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.pipeline.verify_backup import verify_stream

need_tool = stock_tool


def need_bagit():
    return pytest.importorskip("bagit", reason="the bagit validator is not installed")


def backed_up(dossier: Path) -> list[str]:
    """The dossier's files a full backup holds (photos, locks and temporaries left out)."""
    chosen, _ = select_files(walk_dossier(dossier, DEFAULT_PROFILE), "full")
    return sorted(f.relpath for f in chosen)


def run(*args, stdin: bytes | None = None, cwd: Path | None = None):
    return subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, cwd=cwd, timeout=120
    )


@dataclass(frozen=True)
class Backup:
    archive: Path
    sidecar: Path
    shop_pub: Path
    editor_pub: Path
    dossier: Path
    bag: str


@pytest.fixture(scope="module", params=["one-frame", "frames-reused"])
def backup(request, make_sample, tmp_path_factory) -> Backup:
    """A backup made without state (one zstd frame), and a second backup made with state,
    whose large files' segments are frames taken from the first (small segments here, so
    that the small sample has many)."""
    sample = make_sample(years=1, size=128 * 1024, tickets_per_day=1, shops=1)
    secret = minisign.load_secret_key(sample.keys["shop_secret"], None)
    state = StateStore(tmp_path_factory.mktemp("interop-state"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frames, "SEGMENT", 8 * 1024)
        mp.setattr(backup_payload, "SEGMENT", 8 * 1024)
        mp.setattr(backup_payload, "SEGMENTED_FROM", 2 * 1024)
        for _ in (1, 2) if request.param == "frames-reused" else (1,):
            result = backup_dossier(
                sample.dossiers[0],
                tmp_path_factory.mktemp("interop-medium"),
                secret,
                now=AS_OF,
                profile=DEFAULT_PROFILE,
                opts=BackupOptions(
                    years=1,
                    trust=[sample.keys["editor_public"]],
                    state=state if request.param == "frames-reused" else None,
                ),
            )
    if request.param == "frames-reused":
        assert result.segments["reused"] > 10 and result.segments["compressed"] == 0
    archive = result.files[0]
    return Backup(
        archive=archive,
        sidecar=Path(str(archive) + ".minisig"),
        shop_pub=sample.keys["shop_public"],
        editor_pub=sample.keys["editor_public"],
        dossier=sample.dossiers[0],
        bag=result.bag,
    )


@pytest.fixture(scope="module")
def extracted(backup: Backup, tmp_path_factory) -> Path:
    """The backup extracted by GNU tar (zstd through tar's own suffix detection)."""
    need_tool("zstd")
    tar = need_tool("tar")
    out = tmp_path_factory.mktemp("interop-extracted")
    done = run(tar, "-xf", backup.archive, "-C", out)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b"", done.stderr.decode()  # no "unknown keyword" warnings
    return out / backup.bag


def copy_with_flip(source: Path, dest: Path, offset: int) -> Path:
    data = bytearray(source.read_bytes())
    data[offset % len(data)] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_zstd_and_gnu_tar_list_every_member(backup: Backup) -> None:
    zstd, tar = need_tool("zstd"), need_tool("tar")
    raw = run(zstd, "-dc", backup.archive)
    assert raw.returncode == 0, raw.stderr.decode()
    listing = run(tar, "-tf", "-", stdin=raw.stdout)
    assert listing.returncode == 0, listing.stderr.decode()
    names = listing.stdout.decode().split("\n")[:-1]
    payload = sorted(n.removeprefix(f"{backup.bag}/data/") for n in names if "/data/" in n)
    assert payload == backed_up(backup.dossier)
    for tag in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        assert f"{backup.bag}/{tag}" in names
    assert f"{backup.bag}/{MANIFEST_PATH}" in names
    assert len(names) == len(set(names))


def test_gnu_tar_extracts_identical_files(backup: Backup, extracted: Path) -> None:
    for relpath in backed_up(backup.dossier):
        source = backup.dossier / relpath
        copy = extracted / "data" / relpath
        assert copy.read_bytes() == source.read_bytes(), copy
        assert copy.stat().st_mode & 0o777 == source.stat().st_mode & 0o777
        assert int(copy.stat().st_mtime) == int(source.stat().st_mtime)


def test_stock_minisign_verifies_the_sidecar(backup: Backup) -> None:
    tool = need_tool("minisign")
    done = run(tool, "-Vm", backup.archive, "-p", backup.shop_pub)
    assert done.returncode == 0, done.stderr.decode()
    assert f"file={backup.archive.name}" in done.stdout.decode()


@pytest.mark.parametrize("where", [0, 100, -1], ids=["first", "inside", "last"])
def test_stock_minisign_rejects_archive_changed_by_one_byte(
    backup: Backup, tmp_path: Path, where: int
) -> None:
    tool = need_tool("minisign")
    changed = copy_with_flip(backup.archive, tmp_path / backup.archive.name, where)
    shutil.copyfile(backup.sidecar, str(changed) + ".minisig")
    done = run(tool, "-Vm", changed, "-p", backup.shop_pub)
    assert done.returncode != 0


def test_stock_minisign_rejects_changed_trusted_comment(backup: Backup, tmp_path: Path) -> None:
    tool = need_tool("minisign")
    archive = tmp_path / backup.archive.name
    shutil.copyfile(backup.archive, archive)
    sidecar = backup.sidecar.read_bytes().replace(b"kind=full", b"kind=fulL")
    Path(str(archive) + ".minisig").write_bytes(sidecar)
    done = run(tool, "-Vm", archive, "-p", backup.shop_pub)
    assert done.returncode != 0


def test_stock_minisign_verifies_the_inner_manifest(backup: Backup, extracted: Path) -> None:
    tool = need_tool("minisign")
    manifest = extracted / MANIFEST_PATH
    done = run(tool, "-Vm", manifest, "-p", backup.shop_pub)
    assert done.returncode == 0, done.stderr.decode()
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert f"sha256={digest}" in done.stdout.decode()


def test_stock_minisign_rejects_inner_manifest_changed_by_one_byte(
    backup: Backup, extracted: Path, tmp_path: Path
) -> None:
    tool = need_tool("minisign")
    manifest = extracted / MANIFEST_PATH
    changed = copy_with_flip(manifest, tmp_path / "manifest.json", 50)
    shutil.copyfile(str(manifest) + ".minisig", str(changed) + ".minisig")
    done = run(tool, "-Vm", changed, "-p", backup.shop_pub)
    assert done.returncode != 0


def test_loc_bagit_validator_accepts_the_extracted_bag(extracted: Path) -> None:
    bagit = need_bagit()
    bag = bagit.Bag(str(extracted))
    bag.validate()
    bag.validate(processes=2)
    assert bag.is_valid()
    assert bag.info["External-Identifier"] == "MAG001"


@pytest.mark.parametrize("damage", ["flip-payload-byte", "delete-payload", "add-payload"])
def test_loc_bagit_validator_rejects_a_changed_payload(
    extracted: Path, tmp_path: Path, damage: str
) -> None:
    bagit = need_bagit()
    copy = tmp_path / "bag"
    shutil.copytree(extracted, copy)
    journal = copy / "data" / "jet" / "journal.jet"
    if damage == "flip-payload-byte":
        copy_with_flip(journal, journal, 1000)
    elif damage == "delete-payload":
        journal.unlink()
    else:
        (copy / "data" / "extra.txt").write_bytes(b"not in the manifest\n")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(copy)).validate()


def test_fiscalsafe_verifies_a_bag_repacked_by_stock_tools(
    backup: Backup, extracted: Path, tmp_path: Path
) -> None:
    """The other way round: GNU tar (its own format and member order) and the zstd CLI
    repack the extracted bag. The signed manifest still proves every file's content, but
    not the directory members GNU tar adds (their modes and times are signed by no one):
    those, and only those, keep the repack from being proven."""
    zstd, tar = need_tool("zstd"), need_tool("tar")
    raw = run(tar, "-cf", "-", "-C", extracted.parent, backup.bag)
    assert raw.returncode == 0, raw.stderr.decode()
    archive = tmp_path / backup.archive.name
    packed = run(zstd, "-q", "-o", archive, stdin=raw.stdout)
    assert packed.returncode == 0, packed.stderr.decode()
    report = verify_stream(
        [archive],
        shop_key=minisign.load_public_key(backup.shop_pub),
        trust=[backup.editor_pub],
        as_of=None,
        years=1,
        workers=1,
    )
    assert {f.code for f in report.findings} == {"SIDECAR_MISSING", "CONTAINER_UNSIGNED_DATA"}, [
        f.to_json() for f in report.findings
    ]
    unsigned = [f for f in report.findings if f.code == "CONTAINER_UNSIGNED_DATA"]
    assert all("directory member" in f.message for f in unsigned)
    assert report.fiscal is not None and report.fiscal.coverage.complete
