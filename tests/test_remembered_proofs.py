"""Remembered proofs: a second backup does not prove the same sealed archive bytes again,
and nothing remembered ever lets a changed or forged archive pass."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
from concurrent.futures import Future
from pathlib import Path

import backup_support as bs
import pytest

from fiscalsafe import minisign
from fiscalsafe.crypto import derive_signing_key, load_signing_key_pem
from fiscalsafe.formats import journal as fj
from fiscalsafe.pipeline import backup as backup_module
from fiscalsafe.pipeline import backup_payload as payload_module
from fiscalsafe.pipeline import check as check_module
from fiscalsafe.pipeline import fiscal
from fiscalsafe.pipeline import proofs as proofs_module
from fiscalsafe.pipeline.check import start_check
from fiscalsafe.pipeline.proofs import RememberedProofs, hkdf_sha256
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.samples.continuation import add_journal_day
from fiscalsafe.samples.tamper import apply_tamper
from fiscalsafe.verify import journal as verify_journal_module
from fiscalsafe.verify.findings import Severity


@pytest.fixture
def w(tmp_path_factory):
    return bs.world(tmp_path_factory)


@pytest.fixture
def root(w, tmp_path):
    return bs.copy_root(w, tmp_path / "root")


@pytest.fixture
def state(tmp_path) -> StateStore:
    return StateStore(tmp_path / "state")


def usb(tmp_path: Path, name: str = "usb") -> Path:
    dest = tmp_path / name
    dest.mkdir()
    return dest


def backup(w, dossier: Path, dest: Path, state: StateStore, **options):
    with bs.single_worker():
        return bs.make_backup(w, dossier, dest, state=state, **options)


def check(w, dossier: Path, state: StateStore, seed: bytes | None, trust=None):
    with (
        bs.single_worker(),
        start_check(
            dossier,
            as_of=bs.NOW,
            years=bs.YEARS,
            trust=[w.editor] if trust is None else trust,
            state=state,
            proof_seed=seed,
        ) as pending,
    ):
        report = pending.result()
        pending.remember_proofs()
    return report


def archive_count(dossier: Path) -> int:
    return len(list((dossier / "archives").glob("*.fsa")))


def errors(report) -> set[str]:
    return {f.code for f in report.findings if f.severity is Severity.ERROR}


def proofs_file(state: StateStore, dossier: str = "MAG001") -> Path:
    return state.proofs_path(dossier)


def journal_records(dossier: Path) -> int:
    with (dossier / "jet" / "journal.jet").open("rb") as stream:
        return sum(1 for item in fj.iter_records(stream) if isinstance(item, fj.JournalEntry))


# --- the nightly job ---------------------------------------------------------------------


def test_the_second_backup_remembers_every_sealed_archive(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    first = backup(w, dossier, usb(tmp_path), state, name="first")
    assert first.archive_proofs == {"verified": n, "remembered": 0}
    assert proofs_file(state).stat().st_mode & 0o777 == 0o600
    second = backup(w, dossier, usb(tmp_path, "usb2"), state, name="second")
    # The journal did not change: every record's signature was proven the night before.
    remembered = {"verified": 0, "remembered": n}
    remembered["journal_signatures_remembered"] = journal_records(dossier)
    assert second.archive_proofs == remembered
    assert second.check_verdict == "proven"
    # The chain, journal, cross-checks and coverage still ran: same findings, same coverage.
    assert second.coverage == first.coverage
    assert second.check_counts == first.check_counts
    assert second.to_json()["archive_proofs"] == remembered
    bs.assert_proven(w, second)


def test_the_packaging_hash_confirms_a_remembered_proof(
    root, w, tmp_path, state, monkeypatch
) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state, name="first")
    hashed_first: list[str] = []
    real_lookup = check_module._remembered

    def recording_lookup(proofs, f):
        hashed_first.append(f.relpath)
        return real_lookup(proofs, f)

    monkeypatch.setattr(check_module, "_remembered", recording_lookup)
    second = backup(w, dossier, usb(tmp_path, "usb2"), state, name="second")
    assert second.archive_proofs["remembered"] == n
    # No archive was read to find its proof: the packaging's hash of it confirmed it.
    assert hashed_first == []
    # A backup that does not package the archives finds their proofs by hashing them.
    photos = backup(w, dossier, usb(tmp_path, "usb3"), state, name="photos", kind="photos")
    assert photos.archive_proofs["remembered"] == n
    assert len(hashed_first) == n


def test_proofs_that_cannot_be_recorded_leave_the_backup_in_place(root, w, tmp_path, state):
    dossier = root.dossiers[0]
    first = backup(w, dossier, usb(tmp_path), state, name="first")
    add_journal_day(dossier, load_signing_key_pem(root.keys["editor_secret"].read_bytes()))
    # Recorded while the archive is read back: their failure must not undo the backup, nor
    # hold back the state the next backup's rollback checks start from.
    proofs_file(state).unlink()
    proofs_file(state).mkdir()
    dest = usb(tmp_path, "usb2")
    later = bs.NOW + dt.timedelta(hours=1)
    with pytest.raises(backup_module.ProofsNotRecorded, match="second is in place") as caught:
        backup(w, dossier, dest, state, name="second", now=later, keep=1)
    assert "is a folder" in str(caught.value)
    assert sorted(p.name for p in dest.iterdir()) == ["second.tar.zst", "second.tar.zst.minisig"]
    bs.assert_proven(w, [dest / "second.tar.zst"])
    assert state.load("MAG001").head.seq > first.check_report.history.tip.seq


def test_the_command_says_the_backup_is_in_place_when_its_proofs_fail(
    root, w, tmp_path, state, monkeypatch
) -> None:
    bs.freeze_clock(monkeypatch)
    proofs_file(state).mkdir(parents=True)
    common = ("backup", root.dossiers[0], "--to", usb(tmp_path), "--key", w.shop_key)
    common += ("--trust", w.editor, "--years", bs.YEARS, "--state", state.folder)
    for attempt in ("first", "again"):  # the second time, a previous one is on the medium
        out = bs.invoke(*common, "--name", "first")
        assert out.code == 3, (attempt, out)
        assert "backup first is in place" in out.err, out.err
        assert "intact" not in out.err and "nothing was replaced" not in out.err, out.err


def test_without_state_or_with_a_self_asserted_key_nothing_is_remembered(
    root, w, tmp_path, state
) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    assert check(w, dossier, state, None).archive_proofs == {"verified": n, "remembered": 0}
    # Told the shop key but no outside editor key: checked against the dossier's own key,
    # which proves no origin, so nothing is reused (nor recorded).
    plain = check(w, dossier, state, w.secret.seed, trust=[])
    assert plain.trust["self_asserted"]
    assert plain.archive_proofs == {"verified": n, "remembered": 0}
    assert check(w, dossier, state, w.secret.seed).archive_proofs["remembered"] == n


def test_a_byte_changed_after_a_remembered_proof_is_caught(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    changed = apply_tamper("flipped-byte-archive", dossier, root.keys)
    with pytest.raises(backup_module.FindingsRefusal) as caught:
        backup(w, dossier, usb(tmp_path, "usb2"), state)
    report = caught.value.report
    assert "TICKET_SIGNATURE_INVALID" in errors(report), changed
    assert report.archive_proofs["verified"] == 1
    assert report.archive_proofs["remembered"] == n - 1
    # check --key hashes each archive to find its record: the same archive, proven in full.
    checked = check(w, dossier, state, w.secret.seed)
    assert "TICKET_SIGNATURE_INVALID" in errors(checked)
    assert checked.archive_proofs["verified"] == 1
    assert checked.archive_proofs["remembered"] == n - 1


def _same_stat_rewrite(path: Path, data: bytes) -> None:
    """Other bytes under the same size and modification time: only a hash tells them apart."""
    st = path.stat()
    path.write_bytes((data + bytes(st.st_size))[: st.st_size])
    os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns))


def test_an_archive_rewritten_after_the_lookup_is_proven_as_packaged(
    root, w, tmp_path, state, monkeypatch
) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    real_start = backup_module.start_check
    archives = sorted((dossier / "archives").glob("*.fsa"))
    target, other = archives[3], archives[4].read_bytes()

    def start_then_rewrite(*args, **kwargs):
        pending = real_start(*args, **kwargs)
        # After the remembered proof was found, before the packaging reads the archive.
        _same_stat_rewrite(target, other)
        return pending

    monkeypatch.setattr(backup_module, "start_check", start_then_rewrite)
    dest = usb(tmp_path, "usb2")
    with pytest.raises(backup_module.FindingsRefusal) as caught:
        backup(w, dossier, dest, state)
    # The packaged bytes hash to another digest: their remembered proof did not stand, and
    # the archive was proven in full, as packaged.
    report = caught.value.report
    assert report.archive_proofs["verified"] == 1
    assert report.archive_proofs["remembered"] == n - 1
    assert "ARCHIVE_MALFORMED" in {f.code for f in report.findings if target.name in f.file}
    assert list(dest.iterdir()) == []


def test_an_archive_restored_between_the_packaging_and_its_full_proof_is_refused(
    root, w, tmp_path, state, monkeypatch
) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    target = sorted((dossier / "archives").glob("*.fsa"))[3]
    original = target.read_bytes()
    relpath = f"archives/{target.name}"
    # Packaged with one byte changed, so its remembered proof does not stand...
    _same_stat_rewrite(target, original[:100] + bytes([original[100] ^ 1]) + original[101:])
    real_packaged = backup_module.CheckGate.packaged

    def packaged_then_restore(self, name, sha256):
        real_packaged(self, name, sha256)
        if name == relpath:
            sha256.result()  # the packaging has hashed the changed bytes
            # ...and the original bytes are back for the full proof, which they pass.
            _same_stat_rewrite(target, original)

    monkeypatch.setattr(backup_module.CheckGate, "packaged", packaged_then_restore)
    dest = usb(tmp_path, "usb2")
    with pytest.raises(backup_module.ChangedDuringBackup, match=target.name):
        backup(w, dossier, dest, state)
    assert list(dest.iterdir()) == []


def test_a_hashing_error_during_the_confirmation_fails_cleanly(
    root, w, tmp_path, state, monkeypatch
) -> None:
    dossier = root.dossiers[0]
    first = backup(w, dossier, usb(tmp_path), state)
    recorded = proofs_file(state).read_bytes()
    relpath = "archives/" + sorted((dossier / "archives").glob("*.fsa"))[3].name
    real_copy = payload_module.copy_member

    def failing_for_one_archive(tar, f, *args):
        hashed = real_copy(tar, f, *args)
        if f.relpath != relpath:
            return hashed
        hashed.result()
        failed: Future = Future()  # the hashing thread's error, as its future carries it
        failed.set_exception(OSError("hashing failed"))
        return failed

    monkeypatch.setattr(payload_module, "copy_member", failing_for_one_archive)
    dest = usb(tmp_path, "usb2")
    with pytest.raises(OSError, match="hashing failed"):
        backup(w, dossier, dest, state)
    # Nothing on the medium, the remembered proofs and the state as the first backup left them.
    assert list(dest.iterdir()) == []
    assert proofs_file(state).read_bytes() == recorded
    assert state.load("MAG001").head.seq == first.check_report.history.tip.seq


# --- records that must not be trusted ----------------------------------------------------


def _records(state: StateStore) -> dict:
    return json.loads(proofs_file(state).read_text())


def test_a_forged_record_is_refused(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    before = {p.name: p.read_bytes() for p in (dossier / "archives").glob("*.fsa")}
    apply_tamper("flipped-byte-archive", dossier, root.keys)
    [changed] = [
        p for p in (dossier / "archives").glob("*.fsa") if p.read_bytes() != before[p.name]
    ]
    # The forger edits the record of that archive to name the changed bytes' digest; he
    # cannot compute its authentication code.
    import hashlib

    doc = _records(state)
    [entry] = [e for e in doc["records"] if e["record"]["file"] == f"archives/{changed.name}"]
    entry["record"]["sha256"] = hashlib.sha256(changed.read_bytes()).hexdigest()
    proofs_file(state).write_text(json.dumps(doc))
    report = check(w, dossier, state, w.secret.seed)
    assert "TICKET_SIGNATURE_INVALID" in errors(report)
    assert report.archive_proofs["verified"] == 1
    assert report.archive_proofs["remembered"] == n - 1


def test_two_records_of_one_archive_mean_a_full_proof(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state, name="first")
    # A second authentic record for the same archive, of other bytes (only the shop key's
    # holder can write one): the record to confirm is ambiguous, so none is used.
    doc = _records(state)
    entry = copy.deepcopy(doc["records"][0])
    entry["record"]["sha256"] = "0" * 64
    key = hkdf_sha256(w.secret.seed, proofs_module.HKDF_INFO)
    canonical = proofs_module._canonical(entry["record"])
    entry["mac"] = hmac.new(key, canonical, hashlib.sha256).hexdigest()
    doc["records"].append(entry)
    proofs_file(state).write_text(json.dumps(doc))
    second = backup(w, dossier, usb(tmp_path, "usb2"), state, name="second")
    assert second.archive_proofs["verified"] == 1
    assert second.archive_proofs["remembered"] == n - 1
    assert second.check_verdict == "proven"


def test_a_record_from_another_shop_key_is_refused(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    # The shop's own key finds them: the records themselves are fine.
    assert check(w, dossier, state, w.secret.seed).archive_proofs["remembered"] == n
    other_shop = minisign.SecretKey(key_id=b"\x01" * 8, seed=b"\x02" * 32)
    report = check(w, dossier, state, other_shop.seed)
    assert report.ok
    assert report.archive_proofs == {"verified": n, "remembered": 0}


def test_a_record_copied_from_another_dossier_is_refused(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    # Dossier MAG009 holds the very same archive files; MAG001's records are copied to it.
    twin = tmp_path / "twin"
    shutil.copytree(dossier, twin)
    identity = json.loads((twin / "dossier.json").read_text())
    identity["id"] = "MAG009"
    (twin / "dossier.json").write_text(json.dumps(identity))
    shutil.copy(proofs_file(state), proofs_file(state, "MAG009"))
    report = check(w, twin, state, w.secret.seed)
    assert report.archive_proofs == {"verified": archive_count(twin), "remembered": 0}


def test_a_trust_change_forces_a_full_proof(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    second_key = tmp_path / "second-editor.pub"
    second_key.write_bytes(derive_signing_key(b"a second editor key").public_key().to_pem())
    report = check(w, dossier, state, w.secret.seed, trust=[w.editor, second_key])
    assert report.archive_proofs == {"verified": n, "remembered": 0}


def test_a_damaged_records_file_means_a_full_proof(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    proofs_file(state).write_text('{"format": "fiscalsafe-proofs", "records": [')
    report = check(w, dossier, state, w.secret.seed)
    assert report.ok and report.archive_proofs == {"verified": n, "remembered": 0}


def test_another_checker_version_forces_a_full_proof(root, w, tmp_path, state, monkeypatch) -> None:
    from fiscalsafe.pipeline import proofs

    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    monkeypatch.setattr(proofs, "CHECKER_VERSION", proofs.CHECKER_VERSION + 1)
    assert check(w, dossier, state, w.secret.seed).archive_proofs["remembered"] == 0


def test_an_older_minor_version_is_read_and_another_major_ignored(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    backup(w, dossier, usb(tmp_path), state)
    doc = json.loads(proofs_file(state).read_bytes())
    assert doc["version"] == [1, 1] and "journal" in doc
    # As a 1.0 file was written: the archives, without the journal's record.
    del doc["journal"]
    doc["version"] = [1, 0]
    proofs_file(state).write_text(json.dumps(doc))
    report = check(w, dossier, state, w.secret.seed)
    assert report.archive_proofs == {"verified": 0, "remembered": n}
    doc["version"] = [2, 0]
    proofs_file(state).write_text(json.dumps(doc))
    report = check(w, dossier, state, w.secret.seed)
    assert report.ok and report.archive_proofs == {"verified": n, "remembered": 0}


def test_the_rollback_checks_still_fire_with_remembered_proofs(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    saved = tmp_path / "saved-archives"
    shutil.copytree(dossier / "archives", saved)
    apply_tamper("journal-rolled-back", dossier, root.keys)
    report = check(w, dossier, state, w.secret.seed)
    assert report.archive_proofs["remembered"] == archive_count(dossier)
    assert "JOURNAL_ROLLBACK" in errors(report)
    # An archive the state names, gone from a dossier whose other archives are remembered.
    newest = sorted((dossier / "archives").glob("*.fsa"))[-1]
    newest.unlink()
    report = check(w, dossier, state, w.secret.seed)
    assert report.archive_proofs["remembered"] == archive_count(dossier)
    assert "ARCHIVE_ROLLBACK" in errors(report)


# --- the event journal: from the last remembered head onward -----------------------------


def journal_remembered(report) -> int:
    return report.archive_proofs.get("journal_signatures_remembered", 0)


@pytest.fixture
def journal_signatures(monkeypatch) -> list[int]:
    """The sequence numbers of the journal records whose signatures are checked."""
    checked: list[int] = []
    real = verify_journal_module._verify_signature

    def counting(entry, keys, add, where):
        checked.append(entry.seq)
        return real(entry, keys, add, where)

    monkeypatch.setattr(verify_journal_module, "_verify_signature", counting)
    return checked


def add_day(dossier: Path, keys: dict[str, Path]) -> None:
    add_journal_day(dossier, load_signing_key_pem(keys["editor_secret"].read_bytes()))


def test_a_day_later_only_the_new_journal_records_are_verified(
    root, w, tmp_path, state, journal_signatures
) -> None:
    dossier = root.dossiers[0]
    before = journal_records(dossier)
    backup(w, dossier, usb(tmp_path), state)
    add_day(dossier, root.keys)
    journal_signatures.clear()
    report = check(w, dossier, state, w.secret.seed)
    assert report.ok, errors(report)
    assert journal_signatures == [before + 1, before + 2]
    assert journal_remembered(report) == before
    assert report.stats["journal_records"] == before + 2
    # Tonight's journal is remembered in turn: tomorrow checks none of these again.
    journal_signatures.clear()
    again = check(w, dossier, state, w.secret.seed)
    assert journal_signatures == [] and journal_remembered(again) == before + 2


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("journal-entry-edited", "JOURNAL_SIGNATURE_INVALID"),
        ("journal-tail-truncated", "JOURNAL_TRUNCATED"),
        ("journal-entry-deleted", "JOURNAL_SEQUENCE_BROKEN"),
    ],
)
def test_a_journal_changed_after_a_remembered_proof_is_verified_in_full(
    root, w, tmp_path, state, journal_signatures, tamper, code
) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    add_day(dossier, root.keys)
    apply_tamper(tamper, dossier, root.keys)
    journal_signatures.clear()
    report = check(w, dossier, state, w.secret.seed)
    assert code in errors(report)
    assert journal_remembered(report) == 0
    assert len(journal_signatures) == journal_records(dossier)


def test_a_forged_journal_record_is_refused(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    apply_tamper("journal-entry-edited", dossier, root.keys)
    # The forger makes the record describe the edited journal; he cannot compute its code.
    data = (dossier / "jet" / "journal.jet").read_bytes()
    doc = _records(state)
    doc["journal"]["record"]["prefix"]["sha256"] = hashlib.sha256(data).hexdigest()
    doc["journal"]["record"]["prefix"]["bytes"] = len(data)
    proofs_file(state).write_text(json.dumps(doc))
    report = check(w, dossier, state, w.secret.seed)
    assert "JOURNAL_SIGNATURE_INVALID" in errors(report)
    assert journal_remembered(report) == 0


def test_an_archive_record_cannot_stand_for_the_journal(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    backup(w, dossier, usb(tmp_path), state)
    doc = _records(state)
    doc["journal"] = doc["records"][0]  # authentic, but a record of an archive
    proofs_file(state).write_text(json.dumps(doc))
    report = check(w, dossier, state, w.secret.seed)
    assert report.ok and journal_remembered(report) == 0


def test_a_journal_with_findings_is_not_remembered(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    apply_tamper("journal-head-missing", dossier, root.keys)
    report = check(w, dossier, state, w.secret.seed)
    assert "JOURNAL_HEAD_MISSING" in {f.code for f in report.findings}
    assert "journal" not in _records(state)


# --- verify never remembers; a medium proves identical bytes once ------------------------


def test_verify_never_reads_remembered_proofs(root, w, tmp_path, state, monkeypatch) -> None:
    dossier = root.dossiers[0]
    first = backup(w, dossier, usb(tmp_path), state)

    def refuse(*args, **kwargs):
        raise AssertionError("verify read remembered proofs")

    monkeypatch.setattr(RememberedProofs, "open", refuse)
    monkeypatch.setattr(RememberedProofs, "_read_records", refuse)
    r = bs.invoke(
        "verify", first.files[0], "--key", w.shop_pub, "--trust", w.editor,
        "--years", bs.YEARS, "--state", state.folder,
    )  # fmt: skip
    assert r.code == 0, r
    assert "PROVEN" in r.out


def test_a_medium_proves_identical_archive_bytes_once(root, w, tmp_path, state, monkeypatch):
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    dest = usb(tmp_path)
    backup(w, dossier, dest, state, name="monday")
    apply_tamper("flipped-byte-archive", dossier, root.keys)
    backup(w, dossier, dest, state, name="tuesday", allow_findings=True)
    calls: list[str] = []
    real = fiscal.verify_archive

    def counting(file, data, keys, tz, *, sha256=None):
        calls.append(file)
        # The digest taken to spot a repeat is handed on, and it is the digest of these bytes.
        assert sha256 == hashlib.sha256(data).hexdigest()
        return real(file, data, keys, tz, sha256=sha256)

    monkeypatch.setattr(fiscal, "verify_archive", counting)
    monkeypatch.setattr(fiscal.worker_processes, "default_workers", lambda: 1)
    r = bs.invoke(
        "verify", dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS, "--json"
    )
    reports = json.loads(r.out)["reports"]
    # Monday's archives in full; of Tuesday's, only the one whose bytes differ.
    assert len(calls) == n + 1
    tuesday = next(x for x in reports if "tuesday" in x["target"])
    assert "TICKET_SIGNATURE_INVALID" in {f["code"] for f in tuesday["findings"]}
    monday = next(x for x in reports if "monday" in x["target"])
    assert monday["verdict"] == "proven"


def verify_medium(w, dest: Path, monkeypatch) -> dict[str, dict]:
    monkeypatch.setattr(fiscal.worker_processes, "default_workers", lambda: 1)
    r = bs.invoke(
        "verify", dest, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS, "--json"
    )
    return {Path(x["target"]).name.split(".")[0]: x for x in json.loads(r.out)["reports"]}


@pytest.mark.parametrize(("older", "newer"), [("monday", "tuesday"), ("b-older", "a-newer")])
def test_a_medium_proves_each_journal_record_once(
    root, w, tmp_path, state, monkeypatch, journal_signatures, older, newer
) -> None:
    """Whichever of the two is verified first, the longer journal or the shorter."""
    dossier = root.dossiers[0]
    n = journal_records(dossier)
    dest = usb(tmp_path)
    backup(w, dossier, dest, state, name=older)
    add_day(dossier, root.keys)
    backup(w, dossier, dest, state, name=newer, now=bs.NOW + dt.timedelta(hours=1))
    journal_signatures.clear()
    reports = verify_medium(w, dest, monkeypatch)
    assert {r["verdict"] for r in reports.values()} == {"proven"}, {
        k: [f["code"] for f in r["findings"]] for k, r in reports.items()
    }
    assert sorted(journal_signatures) == sorted([*range(1, n + 3)])


def test_a_medium_does_not_take_a_changed_journal_for_a_proven_one(
    root, w, tmp_path, state, monkeypatch
) -> None:
    dossier = root.dossiers[0]
    journal = dossier / "jet" / "journal.jet"
    good = journal.read_bytes()
    dest = usb(tmp_path)
    apply_tamper("journal-entry-edited", dossier, root.keys)
    backup(w, dossier, dest, state, name="b-older", allow_findings=True)
    journal.write_bytes(good)
    add_day(dossier, root.keys)
    backup(w, dossier, dest, state, name="a-newer", now=bs.NOW + dt.timedelta(hours=1))
    # The newer journal, verified first, ends a record where the older ends: same length,
    # other bytes.
    reports = verify_medium(w, dest, monkeypatch)
    assert reports["a-newer"]["verdict"] == "proven"
    assert "JOURNAL_SIGNATURE_INVALID" in {f["code"] for f in reports["b-older"]["findings"]}


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    ikm = bytes([0x0B] * 22)
    salt = bytes(range(13))
    info = bytes(range(0xF0, 0xFA))
    okm = hkdf_sha256(ikm, info, 42, salt)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_check_with_the_shop_key_reuses_and_says_so(root, w, tmp_path, state) -> None:
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    common = ("check", dossier, "--trust", w.editor, "--years", bs.YEARS, "--state", state.folder)
    first = bs.invoke(*common, "--key", w.shop_key)
    assert first.code == 0, first
    assert f"{n} proven in full, 0 remembered" in first.out
    second = bs.invoke(*common, "--key", w.shop_key, "--json")
    assert json.loads(second.out)["archive_proofs"] == {
        "verified": 0,
        "remembered": n,
        "journal_signatures_remembered": journal_records(dossier),
    }
    default = bs.invoke(*common, "--json")
    assert json.loads(default.out)["archive_proofs"] == {"verified": n, "remembered": 0}


def test_backup_says_how_many_archives_were_proven_and_remembered(
    root, w, tmp_path, state, monkeypatch
) -> None:
    bs.freeze_clock(monkeypatch)
    dossier = root.dossiers[0]
    n = archive_count(dossier)
    common = (
        "backup", dossier, "--to", usb(tmp_path), "--key", w.shop_key, "--trust", w.editor,
        "--years", bs.YEARS, "--state", state.folder,
    )  # fmt: skip
    first = bs.invoke(*common, "--name", "first")
    assert first.code == 0, first
    assert f"fiscal archives: {n} proven in full, 0 remembered" in first.out
    second = bs.invoke(*common, "--name", "second", "--json")
    assert second.code == 0, second
    assert json.loads(second.out)["backups"][0]["archive_proofs"] == {
        "verified": 0,
        "remembered": n,
        "journal_signatures_remembered": journal_records(dossier),
    }
