"""``schemas/``: the JSON Schemas are valid, real output validates against them, and the
generated parts of the documentation agree with the code.

A sample root (``write_sample(seed=3, ...)``) provides real documents: the JSON output of
``check``, ``sample`` and ``keys generate``, ``dossier.json``, and the msgpack archives,
journal and head (converted to JSON with bytes as base64, as the schemas describe them).
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from typer.testing import CliRunner

from fiscalsafe import crypto
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.main import app
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import dossier as fd
from fiscalsafe.formats import journal as fj
from fiscalsafe.minisign import load_public_key
from fiscalsafe.samples.sample import write_sample
from fiscalsafe.verify import report as vr
from fiscalsafe.verify.codes import CODES

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
BASE = "https://fiscalsafe.invalid/schemas/"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))
EXPECTED_SCHEMAS = {
    "check-report",
    "finding",
    "profile",
    "dossier",
    "sample-output",
    "keys-generate",
    "journal-record",
    "journal-head",
    "fiscal-archive",
    "manifest",
    "backup-result",
    "error",
    "verify-report",
    "restore-result",
    "list",
    "evidence",
    "bench-result",
    "report-data",
    "report-check",
}
AS_OF = "2026-11-27"


def _load_generate():
    spec = importlib.util.spec_from_file_location("schemas_generate", SCHEMAS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("schemas_generate", module)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()
SCHEMA_DOCS = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in SCHEMA_FILES}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMA_DOCS.values()
)


def validator(name: str, pointer: str = "") -> Draft202012Validator:
    """A validator for schema ``name`` (or its ``#/$defs/...`` part), refs resolved."""
    schema = {"$ref": f"{BASE}{name}.schema.json{pointer}"} if pointer else SCHEMA_DOCS[name]
    return Draft202012Validator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, doc: Any, pointer: str = "") -> None:
    errors = sorted(validator(name, pointer).iter_errors(doc), key=lambda e: e.path)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_invalid(name: str, doc: Any, pointer: str = "") -> None:
    assert not validator(name, pointer).is_valid(doc)


def jsonable(value: Any) -> Any:
    """msgpack value -> the JSON form the schemas describe: bin becomes base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def properties(name: str, pointer: str = "") -> set[str]:
    node = SCHEMA_DOCS[name]
    for part in pointer.strip("#/").split("/") if pointer else []:
        node = node[part]
    return set(node["properties"])


# --- the schemas themselves --------------------------------------------------------------


def test_every_expected_schema_exists():
    assert set(SCHEMA_DOCS) == EXPECTED_SCHEMAS


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == BASE + path.name
    assert schema.get("title") and schema.get("description")


def test_generated_documentation_is_up_to_date():
    stale = [
        p.relative_to(ROOT).as_posix()
        for p, text in generate.render_all().items()
        if p.read_text() != text
    ]
    assert not stale, f"run .venv/bin/python schemas/generate.py: stale {stale}"


def test_finding_schema_codes_match_codes_py():
    schema = SCHEMA_DOCS["finding"]
    assert schema["properties"]["code"]["enum"] == list(CODES)
    for code, (severity, _) in CODES.items():
        assert_valid("finding", {"code": code, "severity": severity, "message": "m"})
        for other in {"error", "warning", "info"} - {severity}:
            assert_invalid("finding", {"code": code, "severity": other, "message": "m"})


def test_findings_md_table_matches_codes_py():
    text = (SCHEMAS / "findings.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (\w+) \| (.+) \|$", text, re.M)
    assert {code: (sev, summary) for code, sev, summary in rows} == CODES
    assert [code for code, _, _ in rows] == list(CODES)


def test_findings_md_exit_codes_match_cli():
    text = (SCHEMAS / "findings.md").read_text()
    rows = dict(re.findall(r"^\| ([0-3]) \| ([a-z ]+) \|", text, re.M))
    assert rows == {
        str(exitcodes.OK): "all proven",
        str(exitcodes.FINDINGS): "findings",
        str(exitcodes.USAGE): "usage error",
        str(exitcodes.OPERATIONAL): "operational error",
    }


def test_journal_md_lists_every_jet_code():
    text = (SCHEMAS / "journal.md").read_text()
    for code, meaning in fj.JET_CODES.items():
        assert f"| {code} | {meaning} |" in text


def test_format_constants_match_the_schemas():
    consts = {
        "fiscal-archive": fa.ARCHIVE_FORMAT,
        "journal-head": None,
        "dossier": fd.DOSSIER_FORMAT,
        "profile": fd.PROFILE_FORMAT,
        "check-report": vr.REPORT_FORMAT,
    }
    for name, value in consts.items():
        if value is not None:
            assert SCHEMA_DOCS[name]["properties"]["format"]["const"] == value
    head_body = SCHEMA_DOCS["journal-head"]["$defs"]["body"]["properties"]
    assert head_body["format"]["const"] == fj.HEAD_FORMAT
    header = SCHEMA_DOCS["journal-record"]["$defs"]["header"]["properties"]
    assert header["format"]["const"] == fj.JOURNAL_FORMAT
    closure = SCHEMA_DOCS["fiscal-archive"]["$defs"]["closure"]["properties"]
    assert tuple(closure["kind"]["enum"]) == fa.CLOSURE_KINDS
    for name in ("fiscal-archive", "journal-record", "journal-head"):
        assert set(SCHEMA_DOCS[name]["$defs"]["alg"]["enum"]) == crypto.ACCEPTED_ALGORITHMS


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_markdown_links_resolve():
    pages = [
        *SCHEMAS.glob("*.md"),
        ROOT / "fixtures" / "golden" / "README.md",
        ROOT / "fixtures" / "conformance" / "README.md",
    ]
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", page.read_text()):
            linked = (page.parent / target) if target else page
            assert linked.exists(), f"{page.name}: broken link {target}"
            if anchor:
                assert anchor in _anchors(linked), f"{page.name}: no #{anchor} in {linked.name}"


# --- the sample root and real command output --------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemas") / "sample"
    return write_sample(
        root, seed=3, until=dt.date(2026, 11, 27), size=256 * 1024, tickets_per_day=1, years=7
    )


def run_json(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def self_asserted_report(sample) -> dict:
    return run_json("check", str(sample.dossiers[0]), "--json", "--as-of", AS_OF, code=1)


def test_check_json_self_asserted(self_asserted_report):
    doc = self_asserted_report
    assert_valid("check-report", doc)
    assert doc["verdict"] == "consistent" and doc["trust"]["self_asserted"] is True
    assert [f["code"] for f in doc["findings"]] == ["KEY_SELF_ASSERTED"]


def test_check_json_with_trust(sample):
    doc = run_json(
        "check",
        str(sample.dossiers[1]),
        "--json",
        "--as-of",
        AS_OF,
        "--trust",
        str(sample.keys["editor_public"]),
    )
    assert_valid("check-report", doc)
    assert doc["verdict"] == "proven" and doc["findings"] == []
    assert doc["trust"]["self_asserted"] is False


def test_check_json_with_findings(sample, tmp_path):
    """A damaged copy: findings with file, record, offset, expected and found."""
    dossier = tmp_path / "MAG001"
    shutil.copytree(sample.dossiers[0], dossier)
    archive = dossier / "archives" / "A000010.fsa"
    data = bytearray(archive.read_bytes())
    data[-5] ^= 0x01  # inside the envelope signature
    archive.write_bytes(bytes(data))
    (dossier / "archives" / "A000011.fsa").unlink()  # ARCHIVE_FILE_MISSING names its record
    journal = dossier / "jet" / "journal.jet"
    journal.write_bytes(journal.read_bytes()[:-40])  # cut inside the last record
    (dossier / "odeis" / "POSTE-01.lck").write_bytes(b"POSTE-01\nMARIE\n")
    doc = run_json("check", str(dossier), "--json", "--as-of", AS_OF, code=1)
    assert_valid("check-report", doc)
    assert doc["verdict"] == "findings" and doc["counts"]["error"] > 0
    codes = {f["code"] for f in doc["findings"]}
    assert {"ARCHIVE_SIGNATURE_INVALID", "JOURNAL_MALFORMED", "DOSSIER_LOCKED"} <= codes
    for field in ("file", "record", "expected", "found"):
        assert any(field in f for f in doc["findings"]), field


def test_report_schema_rejects_inconsistent_reports(self_asserted_report):
    doc = self_asserted_report
    assert_invalid("check-report", doc | {"verdict": "findings"})
    assert_invalid("check-report", doc | {"verdict": "proven"})  # a self-asserted key
    assert_invalid("check-report", doc | {"counts": doc["counts"] | {"error": 1}})
    assert_invalid("check-report", doc | {"extra": 1})
    bad_finding = doc["findings"][0] | {"severity": "error"}
    assert_invalid("check-report", doc | {"findings": [bad_finding]})
    unknown = doc["findings"][0] | {"code": "NOT_A_CODE"}
    assert_invalid("check-report", doc | {"findings": [unknown]})
    coverage = doc["coverage"] | {"complete": False}
    assert_invalid("check-report", doc | {"coverage": coverage})


def test_sample_json(tmp_path):
    doc = run_json(
        "sample",
        str(tmp_path / "s"),
        "--seed",
        "3",
        "--until",
        AS_OF,
        "--size",
        "64K",
        "--tickets-per-day",
        "1",
        "--years",
        "1",
        "--json",
    )
    assert_valid("sample-output", doc)
    assert all(Path(p).exists() for p in doc["files"])


def test_sample_result_to_json(sample):
    from fiscalsafe.cli.render import output_document

    doc = output_document(sample.to_json(), "sample-output")
    assert_valid("sample-output", json.loads(json.dumps(doc)))


def test_keys_generate_json(tmp_path):
    doc = run_json(
        "keys", "generate", "--out", str(tmp_path), "--json", "--no-passphrase", "--name", "k"
    )
    assert_valid("keys-generate", doc)
    assert doc["encrypted"] is False
    assert load_public_key(doc["public_key"]).fingerprint == doc["fingerprint"]


def test_default_profile_validates():
    doc = fd.DEFAULT_PROFILE.to_json()
    assert_valid("profile", doc)
    assert set(doc) == properties("profile")
    assert_invalid("profile", doc | {"categories": [{"name": "x", "patterns": [""]}]})
    assert_invalid("profile", doc | {"version": [2, 0]})


def test_sample_dossier_json_validates(sample):
    for dossier in sample.dossiers:
        doc = json.loads((dossier / "dossier.json").read_text())
        assert_valid("dossier", doc)
        assert set(doc) == properties("dossier")


@pytest.mark.parametrize("day", ["01-01", "02-28", "04-30", "12-31"])
def test_dossier_schema_accepts_real_days(day):
    doc = fd.DossierIdentity("X", "s", "1", "UTC", tuple(map(int, day.split("-")))).to_json()
    assert_valid("dossier", doc)


@pytest.mark.parametrize("day", ["02-29", "02-30", "04-31", "13-01", "00-10", "1-01", "01-1"])
def test_dossier_schema_refuses_what_parse_identity_refuses(day):
    doc = fd.DossierIdentity("X", "s", "1", "UTC", (1, 1)).to_json() | {"fiscal_year_start": day}
    assert_invalid("dossier", doc)


# --- msgpack documents from the sample ---------------------------------------------------


def _archives(dossier: Path) -> list[Path]:
    """The first, the last, and every archive that closes a fiscal year."""
    paths = sorted((dossier / "archives").glob("*.fsa"))
    chosen = {paths[0], paths[-1]}
    for path in paths:
        body = msgpack.unpackb(msgpack.unpackb(path.read_bytes())["body"])
        if any(c["kind"] == "year" for c in body["closures"]):
            chosen.add(path)
    return sorted(chosen)


def test_archives_validate(sample):
    body_keys = properties("fiscal-archive", "#/$defs/body")
    ticket_keys = properties("fiscal-archive", "#/$defs/ticket_body")
    closure_keys = properties("fiscal-archive", "#/$defs/closure")
    kinds = set()
    for dossier in sample.dossiers:
        for path in _archives(dossier):
            envelope = msgpack.unpackb(path.read_bytes())
            assert set(envelope) == properties("fiscal-archive")
            assert_valid("fiscal-archive", jsonable(envelope))
            body = msgpack.unpackb(envelope["body"])
            assert set(body) == body_keys
            assert_valid("fiscal-archive", jsonable(body), "#/$defs/body")
            for closure in body["closures"]:
                assert set(closure) == closure_keys
                kinds.add(closure["kind"])
            for ticket in body["tickets"]:
                assert_valid("fiscal-archive", jsonable(ticket), "#/$defs/ticket")
                ticket_body = msgpack.unpackb(ticket[0])
                assert set(ticket_body) == ticket_keys
                assert_valid("fiscal-archive", jsonable(ticket_body), "#/$defs/ticket_body")
    assert kinds == {"day", "month", "year"}


def test_archive_schema_refuses_wrong_bodies():
    body = jsonable(
        msgpack.unpackb(
            msgpack.unpackb((ROOT / "fixtures/golden/dossier/archives/A000001.fsa").read_bytes())[
                "body"
            ]
        )
    )
    assert_valid("fiscal-archive", body, "#/$defs/body")
    assert_invalid("fiscal-archive", body | {"prev": "AAAA"}, "#/$defs/body")  # first + prev
    assert_invalid("fiscal-archive", body | {"first": 1}, "#/$defs/body")
    assert_invalid("fiscal-archive", body | {"period": ["2025-03-01"]}, "#/$defs/body")
    closure = body["closures"][0] | {"kind": "week"}
    assert_invalid("fiscal-archive", body | {"closures": [closure]}, "#/$defs/body")


def _journal_values(path: Path) -> list:
    unpacker = msgpack.Unpacker()
    unpacker.feed(path.read_bytes())
    return list(unpacker)


def test_journal_and_head_validate(sample):
    record_keys = properties("journal-record", "#/$defs/body")
    for dossier in sample.dossiers:
        header, *records = _journal_values(dossier / "jet" / "journal.jet")
        assert set(header) == properties("journal-record", "#/$defs/header")
        assert_valid("journal-record", jsonable(header), "#/$defs/header")
        chosen, seen = [records[0], records[-1]], set()
        for record in records:
            code = msgpack.unpackb(record[0])["code"]
            if code not in seen:
                seen.add(code)
                chosen.append(record)
        assert {20, 30, 50, 60, 260} <= seen
        for record in chosen:
            assert_valid("journal-record", jsonable(record))
            body = msgpack.unpackb(record[0])
            assert set(body) == record_keys
            assert_valid("journal-record", jsonable(body), "#/$defs/body")
        head = msgpack.unpackb((dossier / "jet" / "journal.head").read_bytes())
        assert_valid("journal-head", jsonable(head))
        head_body = msgpack.unpackb(head[0])
        assert set(head_body) == properties("journal-head", "#/$defs/body")
        assert_valid("journal-head", jsonable(head_body), "#/$defs/body")


def test_journal_schema_refuses_wrong_bodies():
    _, first, *_ = _journal_values(ROOT / "fixtures/golden/dossier/jet/journal.jet")
    body = jsonable(msgpack.unpackb(first[0]))
    assert_valid("journal-record", body, "#/$defs/body")
    assert_invalid("journal-record", body | {"code": 10}, "#/$defs/body")  # seq 1 not genesis
    assert_invalid("journal-record", body | {"kid": "AAAA"}, "#/$defs/body")  # not 8 bytes
    assert_invalid("journal-record", body | {"alg": "rsa-sha1"}, "#/$defs/body")
    archive_event = body | {"seq": 2, "code": 20, "data": {"archive": 1}}
    assert_invalid("journal-record", archive_event, "#/$defs/body")
