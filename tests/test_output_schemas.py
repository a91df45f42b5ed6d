"""The JSON Schemas of the backup-side outputs validate what the commands really print.

One small sample and one real backup of it are made once per test run, by the command line in a
subprocess (``python -m fiscalsafe``), exactly as a shop or an auditor runs it. Their
``--json`` output is checked against ``schemas/``:

- ``backup --json`` -> backup-result.schema.json;
- ``verify --json``, proven, failing (a damaged copy), bag-only (a BagIt folder), and
  with no readable identity (``trust: {}``) -> verify-report.schema.json;
- ``restore --json``, restored and refused -> restore-result.schema.json;
- ``list --json`` of a folder and of an archive -> list.schema.json;
- the ``--evidence`` record, unsigned and signed -> evidence.schema.json;
- ``fiscalsafe/manifest.json`` taken from the backup -> manifest.schema.json.

The backups are made "now" (the command line's clock) of a sample that ends on
2026-11-27, like the other subprocess tests.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from fiscalsafe import minisign
from fiscalsafe.formats import manifest as fm
from fiscalsafe.formats.dossier import DEFAULT_PROFILE
from fiscalsafe.pipeline import evidence as fe
from fiscalsafe.pipeline import verify_backup as vb
from fiscalsafe.samples.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
BASE = "https://fiscalsafe.invalid/schemas/"
BASIC_BAG = ROOT / "tests" / "data" / "bagit-conformance" / "v1.0" / "valid" / "basicBag"
OUTPUT_SCHEMAS = {
    "manifest",
    "backup-result",
    "verify-report",
    "restore-result",
    "list",
    "evidence",
}
SCHEMA_DOCS = {
    p.name.removesuffix(".schema.json"): json.loads(p.read_text())
    for p in sorted(SCHEMAS.glob("*.schema.json"))
}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMA_DOCS.values()
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        SCHEMA_DOCS[name], registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, doc: Any) -> None:
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_invalid(name: str, doc: Any) -> None:
    assert not validator(name).is_valid(doc)


def cli(*args: str | Path, code: int) -> Any:
    """Run ``python -m fiscalsafe ARGS --json``; check the exit code; return the JSON."""
    dropped = ("FORCE_COLOR", "CLICOLOR_FORCE", "FISCALSAFE_PASSPHRASE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    # No trust directory: only the keys the test passes count.
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", FISCALSAFE_TRUST_DIR=os.devnull)
    proc = subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args), "--json"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def read_member(archive: Path, suffix: str) -> bytes:
    with archive.open("rb") as fh:
        reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                if member.name.endswith(suffix):
                    return tar.extractfile(member).read()
    raise AssertionError(f"no member {suffix} in {archive}")


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every real output, made once: one sample, one backup, then the other commands."""
    work = tmp_path_factory.mktemp("output-schemas")
    sample = write_sample(
        work / "sample",
        seed=5,
        until=dt.date(2026, 11, 27),
        size=256 * 1024,
        tickets_per_day=1,
        years=7,
    )
    keys = sample.keys
    usb = work / "usb"
    usb.mkdir()
    out: dict[str, Any] = {}
    out["backup"] = cli(
        "backup", sample.dossiers[0], "--to", usb, "--key", keys["shop_secret"],
        "--trust", keys["editor_public"], code=0,
    )  # fmt: skip
    (archive,) = (Path(p) for p in out["backup"]["backups"][0]["files"])
    out["archive"] = archive
    pub = ("--key", keys["shop_public"])

    out["verify_proven"] = cli(
        "verify", archive, *pub, "--trust", keys["editor_public"],
        "--evidence", work / "evidence.json", code=0,
    )  # fmt: skip
    out["evidence_unsigned"] = json.loads((work / "evidence.json").read_text())

    damaged = work / "damaged"
    damaged.mkdir()
    bad = damaged / archive.name
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (damaged / (archive.name + ".minisig")).write_bytes(
        Path(str(archive) + ".minisig").read_bytes()
    )
    bag = BASIC_BAG
    # A plain bag cannot be given with --key (usage error): the good backup stands beside.
    out["verify_failing"] = cli(
        "verify", archive, bad, *pub, "--trust", keys["editor_public"],
        "--evidence", work / "signed.json", "--auditor-key", keys["shop_secret"], code=1,
    )  # fmt: skip
    out["evidence_signed"] = json.loads((work / "signed.json").read_text())
    out["evidence_signature"] = (work / "signed.json.minisig").read_bytes()
    out["evidence_bytes"] = (work / "signed.json").read_bytes()
    out["verify_bag"] = cli("verify", bag, code=0)

    profile = DEFAULT_PROFILE.to_json() | {"identity": "absent.json", "name": "no-identity"}
    (work / "profile.json").write_text(json.dumps(profile))
    out["verify_no_identity"] = cli(
        "verify", archive, *pub, "--profile", work / "profile.json", code=1
    )

    out["verify_consistent"] = cli("verify", archive, *pub, code=1)
    out["restore_ok"] = cli(
        "restore", archive, work / "restored", *pub, "--trust", keys["editor_public"], code=0
    )
    out["restore_refused"] = cli("restore", bad, work / "refused", *pub, code=1)
    out["refused_dest"] = work / "refused"

    out["list_folder"] = cli("list", usb, code=0)
    out["list_archive"] = cli("list", archive, code=0)

    out["manifest_bytes"] = read_member(archive, "/fiscalsafe/manifest.json")
    out["manifest_sig"] = read_member(archive, "/fiscalsafe/manifest.json.minisig")
    out["shop_public"] = minisign.load_public_key(keys["shop_public"])
    return out


# --- the schemas themselves --------------------------------------------------------------


def test_output_schemas_exist():
    assert set(SCHEMA_DOCS) >= OUTPUT_SCHEMAS


@pytest.mark.parametrize("name", sorted(SCHEMA_DOCS))
def test_schema_is_valid_draft_2020_12(name):
    schema = SCHEMA_DOCS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{BASE}{name}.schema.json"
    assert schema.get("title") and schema.get("description")


def test_every_reference_resolves():
    """Each ``$ref`` of every schema resolves in the registry (names and pointers)."""

    def refs(node: Any):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for schema in SCHEMA_DOCS.values():
        resolver = REGISTRY.resolver(base_uri=schema["$id"])
        for ref in refs(schema):
            resolver.lookup(ref)  # raises if unresolvable


def test_constants_match_the_code():
    summary = SCHEMA_DOCS["manifest"]["$defs"]["summary"]["properties"]
    assert summary["format"]["const"] == fm.MANIFEST_FORMAT
    assert tuple(SCHEMA_DOCS["manifest"]["$defs"]["kind"]["enum"]) == fm.KINDS
    report = SCHEMA_DOCS["verify-report"]["$defs"]["report"]["properties"]
    assert report["format"]["const"] == vb.VERIFY_FORMAT
    assert SCHEMA_DOCS["evidence"]["properties"]["format"]["const"] == fe.EVIDENCE_FORMAT


def test_generated_backup_documentation_is_up_to_date():
    spec = importlib.util.spec_from_file_location("schemas_generate", SCHEMAS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("schemas_generate", module)
    spec.loader.exec_module(module)
    rendered = module.render_all()
    for name in ("backup-format.md", "manifest.schema.json"):
        path = SCHEMAS / name
        assert rendered[path] == path.read_text(), f"run schemas/generate.py ({name})"


# --- real outputs --------------------------------------------------------------------------


def test_backup_json(outputs):
    doc = outputs["backup"]
    assert_valid("backup-result", doc)
    assert doc["exit_code"] == 0 and not doc["failures"] and len(doc["backups"]) == 1
    # Where the system can drop a file's cached pages (Linux), the read-back read the medium;
    # the run as on Windows (no posix_fadvise) says it could not.
    assert doc["backups"][0]["read_back_from_medium"] is hasattr(os, "posix_fadvise")


def test_manifest_from_a_real_backup(outputs):
    data = outputs["manifest_bytes"]
    minisign.verify_bytes(outputs["shop_public"], outputs["manifest_sig"], data)
    doc = json.loads(data)
    assert_valid("manifest", doc)
    assert data == fm.parse_manifest(data).to_bytes()  # the documented serialisation
    assert doc["bag"] == outputs["backup"]["backups"][0]["bag"]


def test_verify_proven_json(outputs):
    doc = outputs["verify_proven"]
    assert_valid("verify-report", doc)
    (report,) = doc["reports"]
    assert report["verdict"] == "proven" and report["mode"] == "backup"
    assert report["fiscal"]["trust"]["self_asserted"] is False


def test_verify_failing_json(outputs):
    doc = outputs["verify_failing"]
    assert_valid("verify-report", doc)
    good, damaged = doc["reports"]
    assert good["mode"] == "backup" and good["verdict"] == "proven"
    assert damaged["mode"] == "backup" and damaged["verdict"] == "findings"
    assert doc["verdict"] == "findings"


def test_verify_bag_only_json(outputs):
    doc = outputs["verify_bag"]
    assert_valid("verify-report", doc)
    (report,) = doc["reports"]
    assert report["mode"] == "bag" and report["shop_key"] is None and report["files"] == []


def test_verify_consistent_json(outputs):
    """A backup verified without the editor key: no error, origin not proven, exit 1."""
    doc = outputs["verify_consistent"]
    assert_valid("verify-report", doc)
    (report,) = doc["reports"]
    assert doc["verdict"] == report["verdict"] == "consistent"
    assert report["counts"]["error"] == 0 and report["fiscal"]["trust"]["self_asserted"]
    assert_invalid("verify-report", doc | {"verdict": "proven"})


def test_verify_without_identity_json(outputs):
    """The placeholder fiscal object: dossier "?", trust {}, no coverage, no stats."""
    doc = outputs["verify_no_identity"]
    assert_valid("verify-report", doc)
    fiscal = doc["reports"][0]["fiscal"]
    assert fiscal["trust"] == {} and fiscal["stats"] == {} and fiscal["dossier"] == "?"
    assert fiscal["journal_head"] is None
    codes = {f["code"] for f in doc["reports"][0]["findings"]}
    assert "DOSSIER_MALFORMED" in codes


def test_restore_json(outputs):
    ok, refused = outputs["restore_ok"], outputs["restore_refused"]
    assert_valid("restore-result", ok)
    assert_valid("restore-result", refused)
    assert ok["restored"] is True and ok["files"] > 0
    assert refused["restored"] is False and not outputs["refused_dest"].exists()


def test_list_json(outputs):
    folder, archive = outputs["list_folder"], outputs["list_archive"]
    assert_valid("list", folder)
    assert_valid("list", archive)
    assert [b["file"] for b in folder["backups"]] == [outputs["archive"].name]
    assert archive["authenticated"] is False and "files" not in archive["manifest"]


def test_evidence_records(outputs):
    unsigned, signed = outputs["evidence_unsigned"], outputs["evidence_signed"]
    assert_valid("evidence", unsigned)
    assert_valid("evidence", signed)
    assert unsigned["auditor_key"] is None and unsigned["verdict"] == "proven"
    assert signed["verifications"] == outputs["verify_failing"]["reports"]
    sig = minisign.verify_bytes(
        outputs["shop_public"], outputs["evidence_signature"], outputs["evidence_bytes"]
    )
    assert sig.trusted_comment.startswith("fiscalsafe-evidence v1 created=")
    assert signed["auditor_key"] == outputs["shop_public"].fingerprint


# --- the schemas refuse what the code never prints ---------------------------------------


def test_schemas_refuse_inconsistent_documents(outputs):
    manifest = json.loads(outputs["manifest_bytes"])
    broken = [
        ("manifest", manifest, lambda d: d.pop("files")),
        ("manifest", manifest, lambda d: d.update(extra=1)),
        ("manifest", manifest, lambda d: d.update(kind="photos")),
        ("manifest", manifest, lambda d: d.update(forced=True)),
        ("manifest", manifest, lambda d: d["files"][0].update(path="../escape")),
        ("manifest", manifest, lambda d: d["files"][0].update(sha256="A" * 64)),
        ("manifest", manifest, lambda d: d.update(version=[2, 0])),
        ("list", outputs["list_archive"], lambda d: d["manifest"].update(files=[])),
        ("list", outputs["list_archive"], lambda d: d.update(authenticated=True)),
        ("verify-report", outputs["verify_proven"], lambda d: d.update(verdict="findings")),
        ("verify-report", outputs["verify_failing"], lambda d: d.update(verdict="proven")),
        ("verify-report", outputs["verify_proven"], lambda d: d["reports"][0].update(fiscal=None)),
        ("verify-report", outputs["verify_proven"], lambda d: d["reports"][0].update(mode="bag")),
        ("restore-result", outputs["restore_refused"], lambda d: d.update(restored=True)),
        ("evidence", outputs["evidence_signed"], lambda d: d.update(verdict="proven")),
        ("backup-result", outputs["backup"], lambda d: d.update(exit_code=1)),
    ]
    for name, doc, damage in broken:
        changed = copy.deepcopy(doc)
        damage(changed)
        assert_invalid(name, changed)
