"""Finding and signature messages in the user's language: in French they use the auditors'
words (signature invalide, chaînage rompu, grand total perpétuel, période non couverte...)
with French days and numbers, while the code stays the same and the English message is
unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random

import pytest
from test_signed_history_checks import proven

from fiscalsafe import i18n
from fiscalsafe import minisign as ms
from fiscalsafe.crypto import derive_signing_key
from fiscalsafe.errors import VerificationError
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import bagit as fmt
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import DossierIdentity
from fiscalsafe.localformat import Formatter
from fiscalsafe.samples.history import History, JournalWriter, build_history
from fiscalsafe.verify.archive_chain import verify_archive_chain
from fiscalsafe.verify.archives import ArchiveResult, verify_archive
from fiscalsafe.verify.bag import MAX_LINE_FINDINGS, BagValidator
from fiscalsafe.verify.coverage import compute_coverage
from fiscalsafe.verify.journal import JournalResult, verify_journal
from fiscalsafe.verify.trust import TrustedKeys
from fiscalsafe.verify.verified import verified_journal

NBSP = "\u00a0"
TZ = "Europe/Paris"
IDENTITY = DossierIdentity("MAG078", "Boutique", "55210055400013", TZ, (1, 1))
EDITOR = derive_signing_key(b"french messages editor")
AS_OF = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def speak(monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    monkeypatch.setenv(i18n.LANG_ENV, lang)
    i18n.set_language(lang)


def in_both_languages(monkeypatch, check):
    """The findings of ``check()`` in English, then in French (one finding expected)."""
    english = check()
    speak(monkeypatch, "fr")
    french = check()
    assert [f.code for f in french] == [f.code for f in english]
    assert len(english) == 1, [f.code for f in english]
    return english[0], french[0]


def trusted() -> TrustedKeys:
    return TrustedKeys((EDITOR.public_key(),), self_asserted=False)


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(
        IDENTITY, EDITOR, dt.date(2026, 8, 1), dt.date(2026, 11, 1), 1, random.Random(5)
    )


def verified_archives(history: History) -> list[ArchiveResult]:
    return [verify_archive(name, data, trusted(), TZ) for name, data in history.archives]


def test_an_archive_signature_that_does_not_verify(history, monkeypatch) -> None:
    name, data = history.archives[0]
    env = fa.parse_envelope(data)
    bad = env.signature[:-1] + bytes([env.signature[-1] ^ 1])
    tampered = fa.encode_envelope(env.body, env.alg, env.key_id, bad)
    english, french = in_both_languages(
        monkeypatch, lambda: verify_archive(name, tampered, trusted(), TZ).findings
    )
    assert english.code == "ARCHIVE_SIGNATURE_INVALID"
    assert english.message == "archive signature does not verify"
    assert french.message == (
        f"signature invalide{NBSP}: la signature de l'archive fiscale ne correspond pas à "
        "son contenu"
    )


def test_an_archive_chain_broken(history, monkeypatch) -> None:
    results = verified_archives(history)
    results[1].prev = bytes(64)
    english, french = in_both_languages(
        monkeypatch, lambda: verify_archive_chain(results, IDENTITY.dossier_id, TZ)
    )
    assert english.code == "ARCHIVE_CHAIN_BROKEN"
    assert english.message == "archive does not link to the previous archive's signature"
    assert french.message == (
        f"chaînage rompu{NBSP}: l'archive fiscale n'est pas chaînée à la signature de "
        "l'archive précédente"
    )
    assert (french.expected, french.found) == (english.expected, english.found)


def test_a_grand_total_not_carried(history, monkeypatch) -> None:
    results = verified_archives(history)
    results[2].gt_open += 100
    english, french = in_both_languages(
        monkeypatch, lambda: verify_archive_chain(results, IDENTITY.dossier_id, TZ)
    )
    assert english.code == "GRAND_TOTAL_NOT_CARRIED"
    assert english.message == "opening grand total is not the previous archive's closing"
    assert french.message == (
        "le grand total perpétuel d'ouverture n'est pas celui de clôture de l'archive précédente"
    )
    assert french.found == english.found == results[2].gt_open


def journal_with_a_skipped_number() -> JournalWriter:
    writer = JournalWriter(IDENTITY, EDITOR)
    moment = dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC)
    writer.add(moment, fj.GENESIS_CODE, "POSTE-01", "SYSTEM", "Initialisation", {})
    writer.add(moment + dt.timedelta(days=1), 10, "POSTE-01", "SYSTEM", "Demarrage", {})
    writer.seq += 1  # the next record is numbered 4: signed and chained, but not 3
    writer.add(moment + dt.timedelta(days=2), 40, "POSTE-01", "SYSTEM", "Arret", {})
    return writer


def test_a_journal_sequence_broken(monkeypatch) -> None:
    writer = journal_with_a_skipped_number()
    items = list(fj.iter_records(io.BytesIO(writer.file_bytes())))

    def check():
        return verify_journal(
            "jet/journal.jet", items, "jet/journal.head", writer.head_bytes(), trusted()
        ).findings

    english, french = in_both_languages(monkeypatch, check)
    assert english.code == "JOURNAL_SEQUENCE_BROKEN"
    assert english.message == "journal sequence is not consecutive"
    assert french.message == "les numéros des enregistrements du journal ne se suivent pas"
    assert (french.record, french.expected, french.found) == (4, 3, 4)


def test_a_coverage_gap_with_french_days(monkeypatch) -> None:
    archives = [
        proven(1, dt.date(2025, 1, 1), dt.date(2026, 3, 9), first=True),
        proven(2, dt.date(2026, 3, 15), dt.date(2026, 11, 27)),
    ]

    def check():
        return compute_coverage(archives, verified_journal(JournalResult()), AS_OF, 1, TZ)[1]

    english, french = in_both_languages(monkeypatch, check)
    assert english.code == "COVERAGE_GAP"
    assert english.message == "no verified record covers 2026-03-10 to 2026-03-14"
    assert french.message == (
        f"période non couverte{NBSP}: aucun enregistrement vérifié ne couvre la période "
        "du 10/03/2026 au 14/03/2026"
    )
    assert french.found == english.found == "gap 2026-03-10..2026-03-14"


def bag_with_a_wrong_checksum() -> list:
    validator = BagValidator()
    wrong = hashlib.sha256(b"something else").hexdigest()
    validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
    validator.feed_member("manifest-sha256.txt", [f"{wrong}  data/a.txt\n".encode()])
    validator.feed_member("data/a.txt", [b"ticket"])
    return validator.finish()


def test_a_bag_manifest_mismatch(monkeypatch) -> None:
    english, french = in_both_languages(monkeypatch, bag_with_a_wrong_checksum)
    assert english.code == "BAG_CHECKSUM_MISMATCH"
    assert english.message == (
        "'data/a.txt': its sha256 checksum differs from manifest-sha256.txt line 1"
    )
    assert french.message == (
        f"'data/a.txt'{NBSP}: son empreinte sha256 diffère de celle de manifest-sha256.txt, ligne 1"
    )


def test_bad_lines_beyond_the_cap_are_counted_as_the_french_write_numbers(monkeypatch) -> None:
    def check():
        validator = BagValidator()
        validator.add_directory("data")
        validator.feed_member("bagit.txt", [fmt.render_bagit_txt()])
        validator.feed_member("manifest-sha256.txt", [b"not a manifest line\n" * 5000])
        return validator.finish()[MAX_LINE_FINDINGS:]

    english, french = in_both_languages(monkeypatch, check)
    assert english.message.startswith("manifest-sha256.txt: 4900 more invalid lines not listed")
    grouped = Formatter("fr").number(4900)
    assert grouped != "4900"
    assert french.message == (
        f"manifest-sha256.txt{NBSP}: {grouped} autres lignes invalides non détaillées "
        f"(à partir de la ligne {Formatter('fr').number(101)})"
    )


def test_a_minisign_signature_that_does_not_verify(monkeypatch) -> None:
    secret = ms.generate_keypair(bytes(range(32)))
    public = secret.public_key()
    signature = ms.sign_bytes(secret, b"Z-ticket caisse 1\n", "trusted")

    def message() -> str:
        with pytest.raises(VerificationError) as caught:
            ms.verify_bytes(public, signature, b"Z-ticket caisse 2\n")
        return str(caught.value)

    english = message()
    speak(monkeypatch, "fr")
    french = message()
    key = public.fingerprint
    assert english == f"bad signature: the data does not match the signature by key {key}"
    assert french == (
        f"signature invalide{NBSP}: les données ne correspondent pas à la signature de la clé {key}"
    )


def test_a_damaged_minisign_file_is_described_in_french(monkeypatch) -> None:
    speak(monkeypatch, "fr")
    with pytest.raises(ms.MalformedError) as caught:
        ms.parse_signature(b"untrusted comment: x\n")
    assert str(caught.value) == f"fichier de signature{NBSP}: 2 ligne(s), 4 attendue(s)"
