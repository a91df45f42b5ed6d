"""Golden vectors (``fixtures/golden/``): fixed keys, fixed bytes.

- the current code reproduces every committed byte (so a format change cannot slip by);
- the vectors are self-consistent and check out with independent code: stock msgpack
  re-encodes the documented fields to the same bytes, and the signatures verify with the
  ``cryptography`` primitives alone, keys identified as ``schemas/keys.md`` says;
- the verifier accepts the golden dossier, and any one-byte change of its fiscal files
  is caught.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from conftest import stock_tool
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from fiscalsafe import minisign
from fiscalsafe.crypto import derive_signing_key, load_public_key_pem
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.pipeline.fiscal import FiscalChecker
from fiscalsafe.verify.archives import verify_archive
from fiscalsafe.verify.findings import Severity
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.trust import TrustedKeys

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "fixtures" / "golden"
ARCHIVE = "archives/A000001.fsa"
JOURNAL = "jet/journal.jet"
HEAD = "jet/journal.head"


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_golden", ROOT / "fixtures" / "make_golden.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_golden", module)
    spec.loader.exec_module(module)
    return module


make_golden = _load_generator()
VECTORS = json.loads((GOLDEN / "vectors.json").read_text())
BY_NAME = {v["name"]: v for v in VECTORS["vectors"]}


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    files, _ = make_golden.build()
    return files


@pytest.fixture(scope="module")
def editor_keys() -> TrustedKeys:
    key = load_public_key_pem((GOLDEN / "keys" / "editor.pub").read_bytes())
    return TrustedKeys((key,), self_asserted=False)


# --- The code reproduces the committed bytes ---------------------------------------------


def test_generator_reproduces_every_committed_file(built):
    for path, data in built.items():
        committed = (GOLDEN / path).read_bytes()
        assert committed == data, f"{path}: the code no longer produces the golden bytes"


def test_no_stray_files_in_golden(built):
    present = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert present - {"README.md"} == set(built)


def test_make_golden_check_mode_passes():
    assert make_golden.main(["--check"]) == 0


def test_vectors_list_every_file_with_its_digest(built):
    for path, meta in VECTORS["files"].items():
        data = (GOLDEN / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert len(data) == meta["size"]


# --- The vectors are self-consistent, checked with independent code ---------------------


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_vector_hex_matches_its_digest_and_file(name):
    vector = BY_NAME[name]
    raw = bytes.fromhex(vector["hex"])
    assert hashlib.sha256(raw).hexdigest() == vector["sha256"]
    if "file" in vector:
        assert (GOLDEN / vector["file"]).read_bytes() == raw
    if "base64" in vector:
        assert base64.b64decode(vector["base64"]) == raw


@pytest.mark.parametrize("name", sorted(n for n, v in BY_NAME.items() if "fields" in v))
def test_stock_msgpack_reencodes_the_documented_fields(name):
    """An independent writer following schemas/ (field order, shortest forms) gets the
    same bytes: the documented fields, packed by the stock library, are the vector."""
    vector = BY_NAME[name]
    fields = make_golden.unjsonable(vector["fields"])
    assert msgpack.packb(fields, use_bin_type=True).hex() == vector["hex"]


def _independent_p256(der: bytes):
    key = serialization.load_der_public_key(der)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return key


EDITOR_SIGNED = sorted(
    n for n, v in BY_NAME.items() if "signature_hex" in v and v["kind"] != "minisign-signature"
)


@pytest.mark.parametrize("name", EDITOR_SIGNED)
def test_signatures_verify_with_plain_cryptography(name):
    vector = BY_NAME[name]
    editor = VECTORS["keys"]["editor"]
    key = _independent_p256(bytes.fromhex(editor["spki_der_hex"]))
    sig = bytes.fromhex(vector["signature_hex"])
    assert len(sig) == 64  # raw r || s
    der_sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.verify(der_sig, bytes.fromhex(vector["hex"]), ec.ECDSA(hashes.SHA256()))


def test_editor_key_identifiers_as_documented():
    editor = VECTORS["keys"]["editor"]
    der = bytes.fromhex(editor["spki_der_hex"])
    pem = (GOLDEN / "keys" / "editor.pub").read_bytes()
    assert (
        serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == der
    )
    assert hashlib.sha256(der).digest()[:8].hex() == editor["key_id_hex"] == "d767e22c6af61fa4"
    assert editor["fingerprint"] == "SHA256:" + hashlib.sha256(der).hexdigest()
    signer = derive_signing_key(b"golden-editor")
    assert signer.public_key().der == der
    # The documented derivation, recomputed here from schemas/keys.md.
    material = hashlib.sha256(b"fiscalsafe editor key\0golden-editor").digest()
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    scalar = int.from_bytes(material, "big") % (order - 1) + 1
    assert format(scalar, "064x") == editor["private_scalar_hex"]


def test_signing_is_deterministic():
    signer = derive_signing_key(b"golden-editor")
    body = bytes.fromhex(BY_NAME["ticket-1"]["hex"])
    assert signer.sign(body).hex() == BY_NAME["ticket-1"]["signature_hex"]


def test_chain_links_in_the_vectors():
    t1, t2 = BY_NAME["ticket-1"], BY_NAME["ticket-2"]
    assert t1["fields"]["prev"] == {"bin": ""}
    assert t2["fields"]["prev"] == {"bin": t1["signature_hex"]}
    records = [BY_NAME[f"journal-record-{i}"] for i in range(1, 5)]
    assert records[0]["fields"]["prev"] == {"bin": ""}
    assert records[0]["fields"]["code"] == fj.GENESIS_CODE
    for before, after in zip(records, records[1:], strict=False):
        assert after["fields"]["prev"] == {"bin": before["signature_hex"]}
    head = BY_NAME["journal-head-body"]["fields"]
    last_sig = bytes.fromhex(records[-1]["signature_hex"])
    assert head["last_sig_sha256"] == {"bin": hashlib.sha256(last_sig).hexdigest()}
    archive_sha = BY_NAME["archive-file"]["sha256"]
    assert records[-1]["fields"]["data"]["sha256"] == archive_sha


def test_journal_file_is_header_plus_records():
    expected = BY_NAME["journal-header"]["hex"] + "".join(
        BY_NAME[f"journal-record-{i}"]["record_hex"] for i in range(1, 5)
    )
    assert BY_NAME["journal-file"]["hex"] == expected


# --- The fiscalsafe parsers read back the documented fields -----------------------------


def test_parsers_read_the_documented_fields():
    env = fa.parse_envelope((GOLDEN / "dossier" / ARCHIVE).read_bytes())
    assert env.version == (1, 0)
    assert env.signature.hex() == BY_NAME["archive-body"]["signature_hex"]
    body = fa.parse_body(env.body)
    fields = BY_NAME["archive-body"]["fields"]
    assert body.number == fields["number"] and body.first is True
    assert [body.period_start.isoformat(), body.period_end.isoformat()] == fields["period"]
    assert (body.gt_open, body.gt_close) == (fields["gt_open"], fields["gt_close"])
    assert [c.kind for c in body.closures] == ["day", "month"]
    tickets = [fa.decode_ticket(b, s, i) for i, (b, s) in enumerate(body.raw_tickets)]
    assert [t.ttc for t in tickets] == [1411, 550]

    items = list(fj.iter_records(io.BytesIO((GOLDEN / "dossier" / JOURNAL).read_bytes())))
    assert items[0] == "GOLD01"
    assert [e.code for e in items[1:]] == [260, 50, 50, 20]
    assert [e.utc_offset_min for e in items[1:]] == [60, 60, 120, 120]  # DST on 2025-03-30
    head = fj.parse_head((GOLDEN / "dossier" / HEAD).read_bytes())
    assert (head.seq, head.ts) == (4, items[-1].ts)


# --- The verifier accepts the golden dossier --------------------------------------------


def test_check_proves_the_golden_dossier():
    doc = VECTORS["dossier"]
    report = check_dossier(
        GOLDEN / doc["path"],
        as_of=dt.datetime.fromisoformat(doc["as_of"]),
        years=doc["years"],
        trust=[GOLDEN / doc["trust"]],
        workers=1,
    )
    assert report.ok
    assert report.to_json()["verdict"] == doc["expected_verdict"]
    assert [f.code for f in report.findings] == doc["expected_finding_codes"]
    assert report.stats["signatures_verified"] == 8  # archive, 2 tickets, 4 records, head
    cov = report.coverage.to_json()
    assert cov == {  # the worked example of schemas/coverage.md
        "required": ["2019-04-02", "2025-04-02"],
        "covered": [["2025-03-01", "2025-04-01"]],
        "gaps": [],
        "genesis": "2025-03-01",
        "since_genesis": True,
        "last_operation": "2025-04-01",
        "idle": ["2025-04-02", "2025-04-02"],
        "idle_excused": "tolerance",
        "max_idle_days": 45,
        "end_of_activity": None,
        "unknowable": None,
        "stale": False,
        "complete": True,
    }


def _golden_files() -> dict[str, bytes]:
    return {name: (GOLDEN / "dossier" / name).read_bytes() for name in (ARCHIVE, JOURNAL, HEAD)}


def _verify(files: dict[str, bytes], keys: TrustedKeys) -> list:
    """The check engine on in-memory files, exactly as ``check`` and ``verify`` run it."""
    with FiscalChecker("GOLD01", "Europe/Paris", keys, workers=1) as checker:
        checker.add_archive(ARCHIVE, files[ARCHIVE])
        checker.add_journal(JOURNAL, files[JOURNAL], HEAD, files[HEAD])
        report = CheckReport("GOLD01", "golden", "", 6, {}, None)
        checker.finish(report, make_golden.AS_OF, 6)
    return report.findings


def _header_unsigned_positions() -> set[int]:
    """Bytes of the journal header that no signature or cross-check covers: only its minor
    version, which by design may change without breaking readers (schemas/journal.md)."""
    header = bytes.fromhex(BY_NAME["journal-header"]["hex"])
    return {header.index(b"\x92\x01\x00") + 2}


def _flip_outcomes(name: str, keys: TrustedKeys) -> tuple[list, list]:
    """Flip one bit of every byte (bit ``position % 8``, so every bit position is hit
    across neighbouring bytes) and run the check engine on each damaged copy."""
    files = _golden_files()
    missed, crashed = [], []
    for position in range(len(files[name])):
        damaged = bytearray(files[name])
        damaged[position] ^= 1 << (position % 8)
        try:
            findings = _verify({**files, name: bytes(damaged)}, keys)
        except Exception as exc:  # noqa: BLE001 - recorded, asserted on below
            crashed.append((position, type(exc).__name__))
            continue
        if not any(f.severity is Severity.ERROR for f in findings):
            missed.append(position)
    return missed, crashed


@pytest.fixture(scope="module")
def flip_outcomes(editor_keys) -> dict[str, tuple[list, list]]:
    return {name: _flip_outcomes(name, editor_keys) for name in (ARCHIVE, JOURNAL, HEAD)}


def test_golden_files_verify_clean(editor_keys):
    findings = _verify(_golden_files(), editor_keys)
    assert [f.code for f in findings] == ["COVERAGE_SINCE_GENESIS"]


@pytest.mark.parametrize("name", [ARCHIVE, JOURNAL, HEAD])
def test_every_one_byte_change_is_caught(flip_outcomes, name):
    missed, _ = flip_outcomes[name]
    allowed = _header_unsigned_positions() if name == JOURNAL else set()
    assert set(missed) <= allowed, f"{name}: undetected one-byte changes at {missed}"


def test_journal_header_dossier_change_is_caught(flip_outcomes):
    header = bytes.fromhex(BY_NAME["journal-header"]["hex"])
    dossier = header.index(b"GOLD01")
    missed, _ = flip_outcomes[JOURNAL]
    assert not set(missed) & set(range(dossier, dossier + len("GOLD01")))


@pytest.mark.parametrize("name", [ARCHIVE, JOURNAL, HEAD])
def test_one_byte_changes_never_crash_the_verifier(flip_outcomes, name):
    _, crashed = flip_outcomes[name]
    assert not crashed, f"{name}: the verifier raised on {crashed}"


def test_ticket_time_out_of_range_is_a_finding_not_a_crash(editor_keys):
    signer = derive_signing_key(b"golden-editor")
    ticket = fa.encode_ticket_body(
        seq=1, ts=2**63 - 1, workstation="W", operator="O", vat=[], ttc=0, prev=b""
    )
    body = fa.encode_body(
        dossier="GOLD01",
        number=1,
        first=True,
        prev=b"",
        period_start=dt.date(2025, 3, 1),
        period_end=dt.date(2025, 3, 31),
        created_ts=0,
        tz="Europe/Paris",
        gt_open=0,
        gt_close=0,
        ticket_prev=b"",
        closures=[],
        tickets=[(ticket, signer.sign(ticket))],
    )
    data = fa.encode_envelope(body, signer.algorithm, signer.public_key().key_id, signer.sign(body))
    result = verify_archive("archives/A000001.fsa", data, editor_keys, "Europe/Paris")
    malformed = [f for f in result.findings if f.code == "ARCHIVE_MALFORMED"]
    assert malformed and "timestamp" in malformed[0].message


# --- minisign vectors -------------------------------------------------------------------


def test_shop_key_vectors():
    shop = VECTORS["keys"]["shop"]
    secret = minisign.generate_keypair(seed=bytes.fromhex(shop["seed_hex"]))
    pub = minisign.load_public_key(GOLDEN / "keys" / "shop.pub")
    assert pub == secret.public_key()
    assert pub.fingerprint == shop["fingerprint"] == "450C74D21CA2DEE7"
    assert pub.key_id.hex() == shop["key_id_hex"]
    assert pub.to_string() == shop["public_key_base64"]
    plain = minisign.load_secret_key(GOLDEN / "keys" / "shop.key", None)
    assert plain == secret
    encrypted = minisign.load_secret_key(GOLDEN / "keys" / "shop-scrypt.key", shop["passphrase"])
    assert encrypted == secret
    with pytest.raises(minisign.WrongPassphraseError):
        minisign.load_secret_key(GOLDEN / "keys" / "shop-scrypt.key", "not the passphrase")


def test_minisign_signature_vector():
    vector = BY_NAME["minisign-archive-signature"]
    pub = minisign.load_public_key(GOLDEN / "keys" / "shop.pub")
    archive = (GOLDEN / vector["signed_file"]).read_bytes()
    assert hashlib.blake2b(archive, digest_size=64).hexdigest() == vector["blake2b_512"]
    sig = minisign.verify_bytes(pub, (GOLDEN / vector["file"]).read_bytes(), archive)
    assert sig.prehashed and sig.trusted_comment == vector["trusted_comment"]
    assert sig.signature.hex() == vector["signature_hex"]
    assert sig.global_signature.hex() == vector["global_signature_hex"]


def test_minisign_signature_rejects_any_one_byte_change():
    vector = BY_NAME["minisign-archive-signature"]
    pub = minisign.load_public_key(GOLDEN / "keys" / "shop.pub")
    archive = (GOLDEN / vector["signed_file"]).read_bytes()
    sig_file = (GOLDEN / vector["file"]).read_bytes()
    for position in range(len(archive)):
        damaged = bytearray(archive)
        damaged[position] ^= 0x01
        with pytest.raises(minisign.VerificationError):
            minisign.verify_bytes(pub, sig_file, bytes(damaged))
    accepted = []
    for position in range(len(sig_file)):
        damaged = bytearray(sig_file)
        damaged[position] ^= 0x01
        try:
            minisign.verify_bytes(pub, bytes(damaged), archive)
        except (minisign.MalformedError, minisign.VerificationError):
            continue
        accepted.append(position)
    # Harmless: the untrusted comment, which nothing signs, and the final line end
    # (0x0a -> 0x0b, whitespace that readers strip, as minisign does).
    harmless = set(range(sig_file.index(b"\n"))) | {len(sig_file) - 1}
    assert set(accepted) <= harmless, f"accepted changes at {sorted(set(accepted) - harmless)}"


def test_stock_minisign_verifies_the_golden_signature():
    exe = stock_tool("minisign")
    vector = BY_NAME["minisign-archive-signature"]
    result = subprocess.run(
        [
            exe,
            "-V",
            "-p",
            str(GOLDEN / "keys" / "shop.pub"),
            "-m",
            str(GOLDEN / vector["signed_file"]),
            "-x",
            str(GOLDEN / vector["file"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert vector["trusted_comment"] in result.stdout
