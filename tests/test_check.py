"""``fiscalsafe check``: read-only, trust, exit codes, output, coverage and sample variants.

Tampered dossiers are in ``test_tamper.py``; this file covers everything else a user of
``check`` relies on. Exit codes: 0 proven, 1 findings (including a damaged dossier.json:
the evidence is bad, not the command line), 2 usage (bad option, folder that is not a
dossier, unusable ``--trust`` key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AS_OF, AS_OF_ARG, run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fiscalsafe.crypto import load_public_key_pem
from fiscalsafe.errors import MalformedError, OperationalError
from fiscalsafe.formats import archive as fa
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.pipeline.fiscal import FiscalChecker
from fiscalsafe.samples.sample import SampleResult
from fiscalsafe.samples.tamper import apply_tamper
from fiscalsafe.verify.findings import Severity
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.trust import TrustedKeys

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
REPORT_SCHEMA = SCHEMAS / "check-report.schema.json"


def fingerprint(sample: SampleResult) -> str:
    return load_public_key_pem(sample.keys["editor_public"].read_bytes()).fingerprint


def codes(report_doc: dict) -> list[str]:
    return [f["code"] for f in report_doc["findings"]]


def validate_report(doc: dict) -> None:
    """Validate against the published schema when it exists (it is written separately)."""
    if not REPORT_SCHEMA.exists():
        return
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resource = referencing.Resource.from_contents(schema)
        resources.extend([(schema.get("$id", path.name), resource), (path.name, resource)])
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema, registry=registry).validate(doc)


# --- read-only ---------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file's content digest, size, mtime and mode; every folder's listing and mtime.

    Tests run as root in CI, where read-only modes do not stop writes: the proof that
    nothing was written is this snapshot, not a permission error.
    """
    state: dict[str, tuple] = {}
    for top, dirs, files in os.walk(root):
        top_path = Path(top)
        st = top_path.stat()
        state[top_path.relative_to(root).as_posix() + "/"] = (
            sorted(dirs + files),
            st.st_mtime_ns,
            stat.S_IMODE(st.st_mode),
        )
        for name in files:
            path = top_path / name
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            key = path.relative_to(root).as_posix()
            state[key] = (digest, st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return state


def set_modes(root: Path, file_mode: int, dir_mode: int) -> None:
    for top, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            os.chmod(Path(top) / name, file_mode)
        os.chmod(top, dir_mode)


@pytest.fixture
def read_only_dossier(fresh_sample: SampleResult) -> Iterator[Path]:
    dossier = fresh_sample.dossiers[0]
    set_modes(dossier, 0o444, 0o555)
    try:
        yield dossier
    finally:
        set_modes(dossier, 0o644, 0o755)  # so that the temporary folder can be removed


def test_check_writes_nothing(read_only_dossier: Path, fresh_sample: SampleResult) -> None:
    before = snapshot(read_only_dossier)
    parent_before = sorted(os.listdir(read_only_dossier.parent))
    trust = fresh_sample.keys["editor_public"]
    code, out, err = run_cli("check", read_only_dossier, "--trust", trust, "--as-of", AS_OF_ARG)
    assert code == 0, (out, err)
    assert out.splitlines()[0].startswith("PROVEN dossier MAG001"), out
    assert snapshot(read_only_dossier) == before
    assert sorted(os.listdir(read_only_dossier.parent)) == parent_before


# --- trust -------------------------------------------------------------------------------


def test_self_asserted_trust_is_consistent_not_proven(sample_root: SampleResult) -> None:
    """A key found inside the dossier proves consistency, never origin: no PROVEN, exit 1."""
    code, out, err = run_cli("check", sample_root.dossiers[0], "--as-of", AS_OF_ARG)
    assert code == 1, (out, err)
    assert out.splitlines()[0].startswith("CONSISTENT, ORIGIN NOT PROVEN dossier MAG001")
    assert "PROVEN dossier" not in out.splitlines()[0].replace("NOT PROVEN", "")
    assert "KEY_SELF_ASSERTED" in out
    assert "self-asserted" in out
    assert fingerprint(sample_root) in out
    code, out, err = run_cli("check", sample_root.dossiers[0], "--as-of", AS_OF_ARG, "--json")
    assert code == 1, err
    doc = json.loads(out)
    validate_report(doc)
    assert doc["verdict"] == "consistent"
    assert doc["counts"]["error"] == 0


def test_require_trust_without_trust_fails(sample_root: SampleResult) -> None:
    code, out, err = run_cli(
        "check", sample_root.dossiers[0], "--as-of", AS_OF_ARG, "--require-trust", "--json"
    )
    assert code == 1, err
    doc = json.loads(out)
    validate_report(doc)
    assert doc["verdict"] == "findings"
    assert "TRUST_NOT_ESTABLISHED" in codes(doc)
    assert doc["trust"] == {"self_asserted": True, "fingerprints": [fingerprint(sample_root)]}
    [self_asserted] = [f for f in doc["findings"] if f["code"] == "KEY_SELF_ASSERTED"]
    assert self_asserted["severity"] == "warning"
    assert self_asserted["found"] == fingerprint(sample_root)
    assert fingerprint(sample_root) in self_asserted["message"]


def weak_key_pem(kind: str) -> bytes:
    if kind == "garbage":
        return b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"
    if kind == "rsa-1024":
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    else:
        key = ec.generate_private_key(ec.SECP384R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("rsa-1024", ("1024 bits", "refused")),
        ("ec-p384", ("secp384r1", "not accepted")),
        ("garbage", ("not a PEM public key",)),
    ],
)
def test_unusable_trust_key_is_refused(
    kind: str, words: tuple[str, ...], sample_root: SampleResult, tmp_path: Path
) -> None:
    key = tmp_path / f"{kind}.pem"
    key.write_bytes(weak_key_pem(kind))
    code, out, err = run_cli("check", sample_root.dossiers[0], "--trust", key, "--as-of", AS_OF_ARG)
    assert code == 2, (out, err)
    assert out == ""
    message = err.strip()
    assert "\n" not in message and "Traceback" not in err, err
    assert str(key) in message
    for word in words:
        assert word in message


# --- exit codes and output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("{missing}",), ("is not a folder",)),
        (("{not_a_dossier}",), ("is not a dossier", "dossier.json")),
        (("{dossier}", "--as-of", "yesterday"), ("--as-of", "yesterday")),
        (("{dossier}", "--as-of", "2026-02-30"), ("--as-of", "2026-02-30")),
        (("{dossier}", "--years", "0"), ("--years",)),
        (("{dossier}", "--frobnicate"), ("--frobnicate",)),
        (("{dossier}", "--trust", "{missing}"), ("does not exist",)),
    ],
    ids=[
        "missing-dossier",
        "not-a-dossier",
        "bad-as-of",
        "impossible-as-of",
        "zero-years",
        "unknown-option",
        "missing-trust-key",
    ],
)
def test_usage_errors_exit_2(
    args: tuple[str, ...], words: tuple[str, ...], sample_root: SampleResult, tmp_path: Path
) -> None:
    places = {
        "missing": tmp_path / "no-such-folder",
        "not_a_dossier": tmp_path,
        "dossier": sample_root.dossiers[0],
    }
    code, out, err = run_cli("check", *(a.format(**places) for a in args))
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", ("dossier.json", "not valid UTF-8 JSON")),
        (b'{"format": "fiscalsafe-dossier", "version": [1, 0]}', ("dossier.json", "'tz'")),
        (b'{"format": "fiscalsafe-dossier", "version": [9, 0]}', ("dossier.json", "9.0")),
    ],
    ids=["not-json", "missing-field", "future-version"],
)
def test_malformed_dossier_json_is_one_clear_line(
    content: bytes, words: tuple[str, ...], fresh_sample: SampleResult
) -> None:
    dossier = fresh_sample.dossiers[0]
    (dossier / "dossier.json").write_bytes(content)
    code, out, err = run_cli(
        "check", dossier, "--trust", fresh_sample.keys["editor_public"], "--as-of", AS_OF_ARG
    )
    # Damaged evidence, not a bad command line: "not proven" (1), like any other finding.
    assert code == 1, (out, err)
    assert "Traceback" not in err
    message = err.strip()
    assert message.startswith("error:") and "\n" not in message, err
    for word in words:
        assert word in message


def test_json_report_matches_schema(sample_root: SampleResult) -> None:
    if not REPORT_SCHEMA.exists():
        pytest.skip(f"{REPORT_SCHEMA.relative_to(SCHEMAS.parent)} is not written yet")
    pytest.importorskip("jsonschema")
    trust = sample_root.keys["editor_public"]
    code, out, err = run_cli(
        "check", sample_root.dossiers[1], "--trust", trust, "--as-of", AS_OF_ARG, "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    validate_report(doc)
    assert doc["verdict"] == "proven" and doc["dossier"] == "MAG002"


# --- coverage ----------------------------------------------------------------------------


def test_young_dossier_is_proven_since_genesis(make_sample) -> None:
    sample = make_sample(years=3, size=64 * 1024)
    report = check_dossier(
        sample.dossiers[0], trust=[sample.keys["editor_public"]], as_of=AS_OF, workers=1
    )
    assert report.ok, [f.to_json() for f in report.findings]
    [info] = [f for f in report.findings if f.code == "COVERAGE_SINCE_GENESIS"]
    assert info.severity is Severity.INFO
    coverage = report.to_json()["coverage"]
    assert coverage["since_genesis"] is True
    assert coverage["genesis"] == "2023-11-27"
    assert coverage["gaps"] == [] and coverage["complete"] is True


def test_more_years_than_history_is_since_genesis_not_a_gap(sample_root: SampleResult) -> None:
    # Seven years from genesis checked for eight: there is nothing older to keep.
    report = check_dossier(
        sample_root.dossiers[0], trust=[sample_root.keys["editor_public"]], as_of=AS_OF, years=8
    )
    assert report.ok
    assert report.coverage.required_start == dt.date(2018, 11, 27)
    assert report.coverage.since_genesis
    assert "COVERAGE_GAP" not in {f.code for f in report.findings}


@pytest.mark.parametrize("years", [6, 8])
def test_missing_oldest_archives_leave_a_gap_from_the_required_start(
    years: int, fresh_sample: SampleResult
) -> None:
    dossier = fresh_sample.dossiers[0]
    apply_tamper("coverage-short", dossier, fresh_sample.keys)
    report = check_dossier(
        dossier, trust=[fresh_sample.keys["editor_public"]], as_of=AS_OF, years=years
    )
    assert not report.ok
    assert not report.coverage.since_genesis
    # Archives 1-18 (2019-11-27 .. 2021-04-30) are gone; the required range starts earlier.
    required_start = dt.date(2026 - years, 11, 27)
    assert report.coverage.gaps == [(required_start, dt.date(2021, 4, 30))]
    assert "COVERAGE_GAP" in {f.code for f in report.findings}


# --- sample variants ---------------------------------------------------------------------


def test_fiscal_year_from_april_is_proven(sample_root: SampleResult) -> None:
    dossier = sample_root.dossiers[1]
    report = check_dossier(
        dossier, trust=[sample_root.keys["editor_public"]], as_of=AS_OF, workers=1
    )
    noisy = [f for f in report.findings if f.severity is not Severity.INFO]
    assert report.ok and not noisy, [f.to_json() for f in noisy]
    years = []
    for path in sorted((dossier / "archives").glob("*.fsa")):
        body = fa.parse_body(fa.parse_envelope(path.read_bytes()).body)
        for closure in body.closures:
            if closure.kind == "year":
                assert (closure.start.month, closure.start.day) == (4, 1)
                assert (closure.end.month, closure.end.day) == (3, 31)
                assert closure.end.year == closure.start.year + 1
                assert body.period_end == closure.end
                years.append(closure.end)
    assert years == [dt.date(y, 3, 31) for y in range(2020, 2027)]


def test_ed25519_editor_key_is_proven(make_sample) -> None:
    sample = make_sample(editor_algorithm="ed25519", years=2, size=64 * 1024)
    for dossier in sample.dossiers:
        report = check_dossier(
            dossier, trust=[sample.keys["editor_public"]], as_of=AS_OF, workers=1
        )
        assert report.ok, [f.to_json() for f in report.findings]
        assert report.stats["signatures_verified"] > 1000
    first = next(iter(sorted((sample.dossiers[0] / "archives").glob("*.fsa"))))
    assert fa.parse_envelope(first.read_bytes()).alg == "ed25519"


def test_open_application_is_a_warning(make_sample) -> None:
    sample = make_sample(open_app=True, years=1, size=64 * 1024)
    report = check_dossier(
        sample.dossiers[0], trust=[sample.keys["editor_public"]], as_of=AS_OF, workers=1
    )
    locked = [f for f in report.findings if f.code == "DOSSIER_LOCKED"]
    assert sorted(f.file for f in locked) == ["odeis/POSTE-01.lck", "ycar/POSTE-02.lck"]
    assert all(f.severity is Severity.WARNING for f in locked)
    assert "MARIE" in locked[0].message
    assert report.ok  # a warning: the fiscal evidence itself is proven


def test_a_dead_worker_is_an_operational_error_not_a_traceback():
    # The out-of-memory killer takes a worker: no verdict, a clear error (exit 3).
    keys = TrustedKeys((), self_asserted=True)
    report = CheckReport(
        dossier="MAG001", path="x", as_of=AS_OF.isoformat(), years=6, trust={}, coverage=None
    )
    with FiscalChecker("MAG001", "Europe/Paris", keys, workers=2) as checker:
        checker._futures.append(checker._submit(checker._get_pool(), os._exit, 9))
        with pytest.raises(OperationalError, match="worker process died"):
            checker.finish(report, AS_OF, 6)


def test_small_files_are_read_whole_and_a_pipe_is_refused_without_blocking(tmp_path):
    # Sized from the file, not from the 64 MB limit; a FIFO (which could block for ever,
    # or never end) is refused on the open descriptor, without waiting for a writer.
    import signal

    from fiscalsafe.pipeline.check import MAX_SMALL_FILE, read_small

    content = b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 5000 + b"\n-----END PUBLIC KEY-----\n"
    plain = tmp_path / "editor.pub"
    plain.write_bytes(content)
    assert read_small(plain, "key") == content
    fifo = tmp_path / "fifo.pub"
    os.mkfifo(fifo)

    def blocked(signum, frame):
        raise TimeoutError("read_small blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(10)  # a regression fails here instead of hanging the suite
    try:
        with pytest.raises(MalformedError, match="FIFO, not a regular file"):
            read_small(fifo, "key")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert read_small(tmp_path / "absent.pub", "key") is None
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(MAX_SMALL_FILE + 1)
    with pytest.raises(MalformedError):
        read_small(big, "big")
