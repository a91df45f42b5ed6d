"""``fiscalsafe list`` (a medium, or one backup's contents, without extracting) and the
evidence record ``verify --evidence`` writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import backup_support as bs
import pytest

from fiscalsafe import minisign
from fiscalsafe.formats.dossier import DEFAULT_PROFILE

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "evidence.schema.json"
AUDIT_TIME = dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.UTC)


pytestmark = pytest.mark.usefixtures("one_worker")


def expected_files(dossier: Path) -> dict[str, tuple[str, int]]:
    """What a full backup holds: every file but photos, locks and temporaries."""
    out = {}
    for rel, (_, size, _, _) in bs.tree(dossier).items():
        category = DEFAULT_PROFILE.categorize(rel)
        if category not in ("photo", "lock", "temporary"):
            out[rel] = (category, size)
    return out


# --- list ARCHIVE -------------------------------------------------------------------------


def test_list_archive_shows_contents_and_summary_without_extracting(w):
    before = bs.entries(w.backup_dir)
    r = bs.invoke("list", w.archive)
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0].startswith(
        "MAG001_2026-11-27_full.tar.zst: dossier MAG001 (Boutique Rivoli), full backup "
        "created 2026-11-27T12:00:00Z by fiscalsafe "
    )
    journal = next(line for line in lines if line.endswith(" jet/journal.jet"))
    assert journal.split()[0] == "journal"
    assert any(line.split()[0] == "fiscal-archive" and "archives/A" in line for line in lines)
    assert any("(omitted: photos-excluded)" in line and "photos/" in line for line in lines)
    assert "not authenticated" in r.out
    assert bs.entries(w.backup_dir) == before


def test_list_archive_json_matches_the_dossier(w):
    r = bs.invoke("list", w.archive, "--json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["authenticated"] is False
    got = {f["path"]: (f["category"], f["size"]) for f in doc["files"]}
    assert got == expected_files(w.dossier)
    m = doc["manifest"]
    assert "files" not in m
    assert m["kind"] == "full" and m["created"] == "2026-11-27T12:00:00Z"
    assert m["dossier"]["id"] == "MAG001" and m["shop_key"] == w.public.fingerprint
    assert m["check"]["verdict"] == "proven" and m["check"]["coverage"]["complete"] is True
    assert m["check"]["journal_head"]["seq"] > 0
    assert m["forced"] is False and m["allow_findings"] is False
    assert {o["reason"] for o in m["omitted"]} == {"photos-excluded", "temporary"}
    assert doc["members"] == len(bs.tar_members(w.backup.files))


def test_list_of_one_part_reads_the_whole_set(w, tmp_path_factory):
    split = bs.split_set(w, tmp_path_factory)
    r = bs.invoke("list", split.files[1], "--json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert {f["path"] for f in doc["files"]} == set(expected_files(w.dossier))


def test_list_of_a_file_that_is_not_a_backup_fails(tmp_path):
    junk = tmp_path / "junk.tar.zst"
    junk.write_bytes(b"not a backup at all" * 10)
    r = bs.invoke("list", junk)
    assert r.code == 1, r
    assert "verify" in r.err


# --- list MEDIUM ----------------------------------------------------------------------------


def test_list_medium_shows_dossier_kind_date_size_and_coverage(w, tmp_path_factory):
    medium = bs.two_backup_medium(w, tmp_path_factory)
    r = bs.invoke("list", medium)
    assert r.code == 0, r
    rows = [line.split() for line in r.out.splitlines() if line.startswith("MAG")]
    assert len(rows) == 2
    mag1 = next(row for row in rows if row[0] == "MAG001")
    mag2 = next(row for row in rows if row[0] == "MAG002")
    assert mag1[1:3] == ["full", "2026-11-27T12:00:00Z"]
    assert mag2[1:3] == ["no-index", "2026-11-27T12:05:00Z"]
    assert mag1[-1] == "MAG001_2026-11-27_full.tar.zst"
    lines = r.out.splitlines()
    coverage = lines[lines.index(next(x for x in lines if x.startswith("MAG001"))) + 1]
    assert "the signed sidecar claims records covering" in coverage
    assert "to 2026-11-26 (not verified by list)" in coverage
    # The claim names the last recorded operation.
    assert coverage.endswith("last recorded operation 2026-11-26")
    assert mag1[3:5] == bs_human(w.archive.stat().st_size).split()
    assert "verify" in r.out  # says these are claims, proven by verify


def bs_human(n: int) -> str:
    from fiscalsafe.units import human_size as human

    return human(n)


def test_list_medium_json(w, tmp_path_factory):
    medium = bs.two_backup_medium(w, tmp_path_factory)
    r = bs.invoke("list", medium, "--json")
    assert r.code == 0, r
    backups = {b["dossier"]: b for b in json.loads(r.out)["backups"]}
    assert set(backups) == {"MAG001", "MAG002"}
    b = backups["MAG001"]
    assert b["kind"] == "full" and b["created"] == "2026-11-27T12:00:00Z"
    assert b["size"] == w.archive.stat().st_size
    assert b["file"] == "MAG001_2026-11-27_full.tar.zst" and b["parts"] == 1
    assert b["coverage"].endswith("..2026-11-26")
    assert backups["MAG002"]["kind"] == "no-index"


def test_list_medium_counts_split_parts(w, tmp_path_factory):
    split = bs.split_set(w, tmp_path_factory)
    r = bs.invoke("list", split.files[0].parent, "--json")
    assert r.code == 0, r
    (b,) = json.loads(r.out)["backups"]
    assert b["parts"] == b["parts_expected"] == split.parts
    assert b["size"] == sum(p.stat().st_size for p in split.files)
    text = bs.invoke("list", split.files[0].parent)
    assert f"{split.parts}/{split.parts} parts" in text.out


# --- evidence -------------------------------------------------------------------------------


def read_evidence(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_evidence_records_what_was_verified(w, tmp_path, monkeypatch):
    bs.freeze_clock(monkeypatch, AUDIT_TIME)
    evidence = tmp_path / "evidence.json"
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--evidence", evidence,
    )  # fmt: skip
    assert r.code == 0, r
    assert "evidence written" in r.out
    assert not Path(str(evidence) + ".minisig").exists()
    doc = read_evidence(evidence)
    assert doc["format"] == "fiscalsafe-evidence" and doc["verdict"] == "proven"
    assert doc["created"] == "2027-03-15T09:30:00Z"
    assert doc["tool"].startswith("fiscalsafe ")
    assert set(doc["format_versions"]) >= {"manifest", "fiscal_archive", "journal"}
    assert doc["auditor_key"] is None
    (v,) = doc["verifications"]
    assert v["target"] == w.archive.name
    (f,) = v["files"]
    assert f["size"] == w.archive.stat().st_size
    assert f["sha256"] == hashlib.sha256(w.archive.read_bytes()).hexdigest()
    assert v["shop_key"] == w.public.fingerprint
    assert v["fiscal"]["trust"]["fingerprints"] and not v["fiscal"]["trust"]["self_asserted"]
    assert v["fiscal"]["coverage"]["complete"] is True
    assert v["fiscal"]["coverage"]["required"] == ["2025-11-27", "2026-11-27"]
    assert v["findings"] == [] and v["verdict"] == "proven"
    assert v["backup"]["format_version"] == [1, 0]


def test_evidence_of_a_failed_verification_lists_the_findings(w, tmp_path, monkeypatch):
    bs.freeze_clock(monkeypatch, AUDIT_TIME)
    usb = tmp_path / "usb"
    (copy,) = [p for p in bs.copy_files(bs.backup_paths(w.backup), usb) if p.suffix == ".zst"]
    data = bytearray(copy.read_bytes())
    copy.write_bytes(bytes(data[: len(data) - 1000]))
    evidence = tmp_path / "evidence.json"
    r = bs.invoke("verify", copy, "--key", w.shop_pub, "--years", bs.YEARS, "--evidence", evidence)
    assert r.code == 1, r
    doc = read_evidence(evidence)
    assert doc["verdict"] == "findings"
    found = {f["code"] for f in doc["verifications"][0]["findings"]}
    assert "SIDECAR_SIGNATURE_INVALID" in found
    assert found & {"CONTAINER_TRUNCATED", "CONTAINER_CORRUPT"}


def test_evidence_signed_by_an_auditor_key_verifies_with_stock_minisign(w, tmp_path, monkeypatch):
    keys = tmp_path / "auditor-keys"
    r = bs.invoke(
        "keys", "generate", "--no-passphrase", "--out", keys, "--name", "auditor", "--json"
    )
    assert r.code == 0, r
    fingerprint = json.loads(r.out)["fingerprint"]
    bs.freeze_clock(monkeypatch, AUDIT_TIME)
    evidence = tmp_path / "evidence.json"
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--evidence", evidence, "--auditor-key", keys / "auditor.key",
    )  # fmt: skip
    assert r.code == 0, r
    sig = Path(str(evidence) + ".minisig")
    assert sig.exists()
    doc = read_evidence(evidence)
    assert doc["auditor_key"] == fingerprint
    signature = minisign.verify_bytes(
        minisign.load_public_key(keys / "auditor.pub"), sig.read_bytes(), evidence.read_bytes()
    )
    assert "verdict=proven" in signature.trusted_comment
    tool = bs.minisign_binary()
    proc = subprocess.run(
        [tool, "-Vm", str(evidence), "-p", str(keys / "auditor.pub")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # One changed byte and the stock tool refuses it.
    evidence.write_bytes(evidence.read_bytes().replace(b'"proven"', b'"proven" ', 1))
    proc = subprocess.run(
        [tool, "-Vm", str(evidence), "-p", str(keys / "auditor.pub")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0


def test_evidence_matches_its_json_schema(w, tmp_path):
    if not SCHEMA.exists():
        pytest.skip(f"schemas/{SCHEMA.name} is not written yet: nothing to validate against")
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--evidence", good,
    )  # fmt: skip
    assert r.code == 0, r
    r = bs.invoke("verify", w.archive, "--key", good, "--evidence", bad)  # not a key: usage
    assert r.code == 2 and not bad.exists(), r
    foreign = tmp_path / "other.pub"
    foreign.write_bytes(minisign.generate_keypair(seed=b"\2" * 32).public_key().to_file_bytes())
    r = bs.invoke("verify", w.archive, "--key", foreign, "--years", "1", "--evidence", bad)
    assert r.code == 1, r
    from referencing import Registry, Resource

    # The evidence schema refers to its siblings (finding, check-report...) by $id.
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc))
        for doc in (json.loads(p.read_text()) for p in SCHEMA.parent.glob("*.schema.json"))
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    for path in (good, bad):
        validator.validate(read_evidence(path))
