"""PROVEN means current and genuine: trust from outside, coverage that is never vacuous,
histories that only move forward, and claims that never switch a check off.

Each test plays one attack on the verdict and checks the finding that stops it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import backup_support as bs
import pytest

from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.packing import pack
from fiscalsafe.pipeline import backup as backup_module
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.pipeline.lineage import check_lineage
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.samples.tamper import _editor, _Journal, apply_tamper
from fiscalsafe.verify.coverage import compute_coverage
from fiscalsafe.verify.findings import Severity
from fiscalsafe.verify.freshness import KnownArchive, KnownPoint, compare
from fiscalsafe.verify.journal import JournalResult
from fiscalsafe.verify.verified import (
    ProvenArchive,
    VerifiedHead,
    signature_digest,
    verified_journal,
)


@pytest.fixture
def root(w, tmp_path):
    return bs.copy_root(w, tmp_path / "root")


def check(dossier: Path, w, *, as_of=bs.NOW, state: StateStore | None = None, **options):
    with bs.single_worker():
        return check_dossier(
            dossier, as_of=as_of, years=bs.YEARS, trust=[w.editor], state=state, **options
        )


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


def errors(report) -> set[str]:
    return {f.code for f in report.findings if f.severity is Severity.ERROR}


# --- coverage is never vacuous -------------------------------------------------------------


def test_a_stale_dossier_is_not_current(w) -> None:
    """An old copy of a dossier, checked a year after its last operation."""
    later = bs.NOW + dt.timedelta(days=365)
    report = check(w.dossier, w, as_of=later)
    assert "COVERAGE_STALE" in errors(report), report.findings
    cov = report.coverage
    assert cov.stale and not cov.complete
    assert cov.last_operation == dt.date(2026, 11, 26)
    # The days after the last operation are never counted as covered.
    assert cov.covered[-1][1] == cov.last_operation
    [stale] = [f for f in report.findings if f.code == "COVERAGE_STALE"]
    assert "2026-11-26" in stale.message and "45-day" in stale.message


def test_idle_days_within_the_tolerance_are_said_not_hidden(w) -> None:
    report = check(w.dossier, w, as_of=bs.NOW + dt.timedelta(days=30))
    assert report.ok, report.findings
    assert "COVERAGE_IDLE" in codes(report)
    cov = report.coverage
    assert cov.idle_excused == "tolerance" and cov.idle[0] == dt.date(2026, 11, 27)
    # One day over the tolerance is stale: the boundary is exact.
    last = cov.last_operation
    for days, stale in ((45, False), (46, True)):
        as_of = dt.datetime.combine(last + dt.timedelta(days=days), dt.time(12), dt.UTC)
        report = check(w.dossier, w, as_of=as_of)
        assert ("COVERAGE_STALE" in codes(report)) is stale, (days, report.findings)


def test_a_longer_closure_can_be_allowed_on_purpose(w) -> None:
    report = check(w.dossier, w, as_of=bs.NOW + dt.timedelta(days=100), max_idle_days=120)
    assert report.ok, report.findings


def append_end_of_activity(dossier: Path, keys: dict) -> None:
    """The shop software records that the shop closed for good, and signs a new head."""
    journal = _Journal.load(dossier)
    last = journal.bodies[-1]
    body = dict(last)
    body.update(
        seq=last["seq"] + 1,
        ts=last["ts"] + 60_000_000,
        code=fj.END_OF_ACTIVITY_CODE,
        text="end of activity",
        data={},
        prev=journal.sigs[-1],
    )
    signer = _editor(keys)
    raw = pack(body)
    journal.insert(len(journal.bodies), body, signer.sign(raw))
    journal.write(head_signer=signer)


def test_a_signed_end_of_activity_excuses_the_days_after_it(root, w) -> None:
    dossier = root.dossiers[0]
    append_end_of_activity(dossier, root.keys)
    report = check(dossier, w, as_of=bs.NOW + dt.timedelta(days=400))
    assert report.ok, report.findings
    assert "COVERAGE_END_OF_ACTIVITY" in codes(report)
    assert report.coverage.idle_excused == "end-of-activity"


def test_an_old_end_of_activity_does_not_excuse_a_reopened_shop(root, w) -> None:
    """Activity recorded after an end-of-activity record: the shop reopened, and its idle
    days are judged again."""
    dossier = root.dossiers[0]
    append_end_of_activity(dossier, root.keys)
    journal = _Journal.load(dossier)
    last = journal.bodies[-1]
    body = dict(last)
    body.update(seq=last["seq"] + 1, ts=last["ts"] + 86_400_000_000, code=10, text="start")
    body["prev"] = journal.sigs[-1]
    signer = _editor(root.keys)
    journal.insert(len(journal.bodies), body, signer.sign(pack(body)))
    journal.write(head_signer=signer)
    report = check(dossier, w, as_of=bs.NOW + dt.timedelta(days=400))
    assert "COVERAGE_STALE" in errors(report), report.findings
    assert report.coverage.end_of_activity is None


def test_verify_as_of_after_the_backup_cannot_cover_unknown_days(w) -> None:
    report = bs.verify(w, w.backup, as_of=bs.NOW + dt.timedelta(days=10))
    assert "COVERAGE_BEYOND_BACKUP" in errors(report), bs.describe(report)
    assert report.fiscal.coverage.unknowable == (dt.date(2026, 11, 28), dt.date(2026, 12, 7))


def entry(seq: int, day: int, sig: bytes) -> fj.JournalEntry:
    ts = int(dt.datetime(2026, 1, day, 12, tzinfo=dt.UTC).timestamp() * 1_000_000)
    return fj.JournalEntry(
        seq, ts, "Europe/Paris", 60, 10, "P1", "op", "", {}, "ecdsa-p256-sha256", b"k", b"",
        b"", sig, 0,
    )  # fmt: skip


def test_records_after_a_break_never_count_whatever_their_sequence() -> None:
    """A record replayed after a break, with a sequence number inside the verified part,
    must not extend coverage (it is selected by position, not by number)."""
    result = JournalResult()
    result.entries = [entry(1, 1, b"a"), entry(2, 2, b"b"), entry(2, 25, b"replayed")]
    result.verified_until, result.verified_count = 2, 2
    journal = verified_journal(result)
    assert [e.ts for e in journal.entries] == [e.ts for e in result.entries[:2]]
    as_of = dt.datetime(2026, 1, 25, 12, tzinfo=dt.UTC)
    cov, findings = compute_coverage((), journal, as_of, 1, "Europe/Paris")
    assert cov.last_operation == dt.date(2026, 1, 2)
    assert cov.covered == [(dt.date(2026, 1, 1), dt.date(2026, 1, 2))]
    assert "COVERAGE_GAP" in {f.code for f in findings}


# --- trust from outside only ---------------------------------------------------------------


def test_backup_without_an_outside_editor_key_is_refused(w, tmp_path) -> None:
    dest = tmp_path / "usb"
    dest.mkdir()
    with bs.single_worker(), pytest.raises(backup_module.FindingsRefusal) as caught:
        bs.make_backup(w, w.dossier, dest, trust=[])
    assert "self-asserted" in str(caught.value)
    assert list(dest.iterdir()) == []


def test_a_self_asserted_check_never_becomes_the_reference(w, tmp_path) -> None:
    """A key planted in the dossier must not be able to push the state forward."""
    state = StateStore(tmp_path / "state")
    with bs.single_worker():
        report = check_dossier(w.dossier, as_of=bs.NOW, years=bs.YEARS, trust=[], state=state)
    assert report.verdict == "consistent"
    assert not state.advance(report, "check", bs.NOW)
    assert not (tmp_path / "state").exists()


def make_trust_dir(folder: Path, w, bound: str | None) -> Path:
    (folder / "shop").mkdir(parents=True)
    (folder / "editor").mkdir()
    shutil.copy(w.shop_pub, folder / "shop" / "shop.pub")
    shutil.copy(w.editor, folder / "editor" / "editor.pub")
    if bound is not None:
        (folder / "shop" / "shop.dossiers").write_text(f"# this shop's dossiers\n{bound}\n")
    return folder


@pytest.mark.parametrize(("bound", "code"), [(None, 0), ("MAG001", 0), ("MAG002", 1)])
def test_trust_folder_binds_a_shop_key_to_its_dossiers(w, tmp_path, bound, code) -> None:
    trust = make_trust_dir(tmp_path / "trust", w, bound)
    r = bs.invoke("verify", w.archive, "--years", bs.YEARS, "--json", trust_dir=trust)
    assert r.code == code, r
    found = {f["code"] for f in json.loads(r.out)["reports"][0]["findings"]}
    assert ("KEY_NOT_FOR_DOSSIER" in found) is (bound == "MAG002")


# --- freshness and rollback ----------------------------------------------------------------


def test_check_remembers_and_catches_a_rolled_back_journal(root, w, tmp_path) -> None:
    dossier = root.dossiers[0]
    state = StateStore(tmp_path / "state")
    first = check(dossier, w, state=state)
    assert first.ok and state.advance(first, "check", bs.NOW)
    apply_tamper("journal-rolled-back", dossier, root.keys)
    # The rolled-back dossier is consistent on its own: only the state shows it.
    assert check(dossier, w).ok
    report = check(dossier, w, state=state)
    assert "JOURNAL_ROLLBACK" in errors(report), report.findings
    [rollback] = [f for f in report.findings if f.code == "JOURNAL_ROLLBACK"]
    assert rollback.expected == f">= {first.history.tip.seq}"
    assert rollback.found == first.history.tip.seq - 5
    # A refused history never moves the state.
    assert not state.advance(report, "check", bs.NOW)
    assert state.load("MAG001").head == first.history.tip


def test_a_diverging_history_is_a_rollback() -> None:
    history = verified_journal(_result([b"a", b"b", b"c"])).history("MAG001")
    same = VerifiedHead(2, 0, signature_digest(b"b"))
    other = VerifiedHead(2, 0, signature_digest(b"x"))
    ahead = VerifiedHead(4, 0, signature_digest(b"d"))
    assert compare(history, (), KnownPoint("s", same), "j") == []
    assert [f.code for f in compare(history, (), KnownPoint("s", other), "j")] == [
        "JOURNAL_ROLLBACK"
    ]
    assert [f.code for f in compare(history, (), KnownPoint("s", ahead), "j")] == [
        "JOURNAL_ROLLBACK"
    ]
    # Each digest compared in full: one byte off is another record.
    near = VerifiedHead(2, 0, signature_digest(b"b")[:-1] + b"\0")
    assert compare(history, (), KnownPoint("s", near), "j")


def test_an_archive_already_proven_must_keep_its_bytes() -> None:
    history = verified_journal(_result([b"a"])).history("MAG001")
    known = KnownPoint("s", None, KnownArchive(7, "aa" * 32))

    def archive(number: int, digest: str) -> ProvenArchive:
        day = dt.date(2026, 1, 1)
        return ProvenArchive(f"A{number}.fsa", digest, number, False, day, day, ())

    assert compare(history, (archive(7, "aa" * 32),), known, "j") == []
    for archives in ((archive(7, "bb" * 32),), (archive(6, "aa" * 32),), ()):
        assert [f.code for f in compare(history, archives, known, "j")] == ["ARCHIVE_ROLLBACK"]


def _result(sigs: list[bytes]) -> JournalResult:
    result = JournalResult()
    result.entries = [entry(i + 1, i + 1, s) for i, s in enumerate(sigs)]
    result.verified_until = result.verified_count = len(sigs)
    return result


def test_a_damaged_state_file_is_an_operational_error(w, tmp_path) -> None:
    state_dir = tmp_path / "state"
    (state_dir / "dossiers").mkdir(parents=True)
    (state_dir / "dossiers" / "MAG001.json").write_text("{not json")
    r = bs.invoke(
        "check", w.dossier, "--trust", w.editor, "--years", bs.YEARS, "--state", state_dir
    )
    assert r.code == 3, r
    assert "damaged" in r.err and "Traceback" not in r.err


def test_backup_refuses_to_replace_a_newer_history_on_the_medium(root, w, tmp_path) -> None:
    dossier = root.dossiers[0]
    dest = tmp_path / "usb"
    dest.mkdir()
    with bs.single_worker():
        good = bs.make_backup(w, dossier, dest)
    sidecar = Path(str(good.files[0]) + ".minisig").read_bytes()
    assert b" head=" in sidecar
    before = bs.tree(dest)
    apply_tamper("journal-rolled-back", dossier, root.keys)
    # No state on this machine (a new computer): the medium itself is the anchor.
    with bs.single_worker(), pytest.raises(backup_module.FindingsRefusal) as caught:
        bs.make_backup(w, dossier, dest, allow_findings=True)
    assert "older than a history already proven" in str(caught.value)
    assert "JOURNAL_ROLLBACK" in {f.code for f in caught.value.report.findings}
    assert bs.tree(dest) == before and bs.entries(dest) == set(before)


def test_backup_records_its_proof_in_the_state(w, tmp_path) -> None:
    state = StateStore(tmp_path / "state")
    dest = tmp_path / "usb"
    dest.mkdir()
    with bs.single_worker():
        result = bs.make_backup(w, w.dossier, dest, state=state)
    known = state.load("MAG001")
    assert known is not None and known.head == result.check_report.history.tip
    assert known.archive is not None


def test_verify_of_a_medium_catches_a_newer_backup_of_an_older_history(root, w, tmp_path) -> None:
    dossier = root.dossiers[0]
    dest = tmp_path / "usb"
    dest.mkdir()
    with bs.single_worker():
        bs.make_backup(w, dossier, dest, name="monday")
        apply_tamper("journal-rolled-back", dossier, root.keys)
        bs.make_backup(w, dossier, tmp_path, name="tuesday", now=bs.NOW + dt.timedelta(hours=1))
    for suffix in (".tar.zst", ".tar.zst.minisig"):
        shutil.move(tmp_path / f"tuesday{suffix}", dest / f"tuesday{suffix}")
    monday = bs.verify(w, [dest / "monday.tar.zst"])
    tuesday = bs.verify(w, [dest / "tuesday.tar.zst"])
    assert monday.ok and tuesday.ok  # each backup is consistent on its own
    check_lineage([tuesday, monday], state=None, now=bs.NOW, journal_file="data/jet/journal.jet")
    assert monday.ok
    assert "JOURNAL_ROLLBACK" in bs.error_codes(tuesday), bs.describe(tuesday)
    r = bs.invoke("verify", dest, "--key", w.shop_pub, "--trust", w.editor, "--years", 1)
    assert r.code == 1, r
    assert "JOURNAL_ROLLBACK" in r.out


def test_verify_since_an_evidence_record(root, w, tmp_path) -> None:
    dossier = root.dossiers[0]
    with bs.single_worker():
        good = bs.make_backup(w, dossier, tmp_path, name="good")
    evidence = tmp_path / "evidence.json"
    args = ("--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS)
    r = bs.invoke("verify", good.files[0], *args, "--evidence", evidence)
    assert r.code == 0, r
    head = json.loads(evidence.read_text())["verifications"][0]["fiscal"]["journal_head"]
    assert len(head["sig_sha256"]) == 64
    apply_tamper("journal-rolled-back", dossier, root.keys)
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    with bs.single_worker():
        old = bs.make_backup(w, dossier, old_dir, name="later", now=bs.NOW + dt.timedelta(hours=2))
    fresh_state = tmp_path / "auditor-state"
    r = bs.invoke("verify", old.files[0], *args, "--state", fresh_state)
    assert r.code == 0, r  # alone, the older history looks fine
    r = bs.invoke("verify", old.files[0], *args, "--since", evidence, "--state", tmp_path / "s2")
    assert r.code == 1, r
    assert "JOURNAL_ROLLBACK" in r.out and "evidence.json" in r.out


def test_the_state_is_kept_per_user_and_names_no_path_from_the_data(tmp_path) -> None:
    store = StateStore(tmp_path)
    assert store._path("MAG001") == tmp_path / "dossiers" / "MAG001.json"
    hostile = "../../etc/passwd"
    assert store._path(hostile).parent == tmp_path / "dossiers"
    assert store._path(hostile).name == hashlib.sha256(hostile.encode()).hexdigest() + ".json"


# --- a claim never switches a check off ------------------------------------------------------


def test_a_photos_backup_carrying_fiscal_files_is_checked(root, w, tmp_path, monkeypatch) -> None:
    """A backup signed as "photos" (so, once, never checked) that carries a damaged
    fiscal archive: the archive is verified whatever the kind says."""
    dossier = root.dossiers[0]
    apply_tamper("flipped-byte-archive", dossier, root.keys)
    real_select = backup_module.select_files

    def smuggle(files, kind):
        chosen, omitted = real_select(files, "full")
        return chosen, omitted

    monkeypatch.setattr(backup_module, "select_files", smuggle)
    with bs.single_worker():
        result = bs.make_backup(w, dossier, tmp_path, kind="photos", allow_findings=True)
    report = bs.verify(w, result)
    assert report.manifest.kind == "photos"
    assert report.fiscal is not None
    assert "ARCHIVE_SIGNATURE_INVALID" in bs.error_codes(report), bs.describe(report)


def test_the_clock_can_be_fixed_for_reproducible_runs(w, monkeypatch) -> None:
    monkeypatch.setenv("FISCALSAFE_NOW", "2026-12-01T08:30:00+00:00")
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--years", bs.YEARS, "--json")
    assert json.loads(r.out)["as_of"] == "2026-12-01T08:30:00+00:00", r
    monkeypatch.setenv("FISCALSAFE_NOW", "tomorrow")
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--years", bs.YEARS)
    assert r.code == 2 and "FISCALSAFE_NOW" in r.err, r
