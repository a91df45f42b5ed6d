"""The pipeline's and decoders' messages speak the reader's language.

A refused backup, a medium too small, a malformed fiscal archive, a missing part of a split
set and a file changed while it was copied: in French their messages are French, with no
English sentence left in them; in English they read as before. Codes never change, and a
finding written by a signature-verification worker process speaks the parent's language.
"""

from __future__ import annotations

import os

import backup_support as bs
import pytest

from fiscalsafe import i18n
from fiscalsafe.errors import MalformedError
from fiscalsafe.formats.archive import TICKET, parse_envelope
from fiscalsafe.formats.packing import unpack
from fiscalsafe.pipeline import fiscal, media, workers
from fiscalsafe.pipeline.backup import ChangedDuringBackup, FindingsRefusal, RefusedError
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.pipeline.verify_backup import discover
from fiscalsafe.samples.tamper import apply_tamper

pytestmark = pytest.mark.usefixtures("one_worker")


def speak(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process (and the workers it starts) in ``lang``; conftest restores English."""
    monkeypatch.setenv(i18n.LANG_ENV, lang)
    i18n.set_language(lang)


def remove_recent_archive(dossier) -> None:
    sorted((dossier / "archives").glob("*.fsa"))[-4].unlink()  # a gap in the last year


# --- a backup refused by the fiscal check ----------------------------------------------


def test_a_refused_backup_is_explained_in_the_readers_language(w, mine, usb, monkeypatch):
    bs.freeze_clock(monkeypatch)
    dossier = mine.dossiers[0]
    remove_recent_archive(dossier)
    with pytest.raises(FindingsRefusal) as caught:
        bs.make_backup(w, dossier, usb)
    english = str(caught.value)
    assert english.startswith("dossier MAG001 failed the fiscal check (8 errors: ARCHIVE_CHAIN_")
    assert "no backup was written. Run 'fiscalsafe check' for details" in english
    speak("fr", monkeypatch)
    with pytest.raises(FindingsRefusal) as caught:
        bs.make_backup(w, dossier, usb)
    french = str(caught.value)
    assert french.startswith(
        "le dossier MAG001 n'a pas passé le contrôle fiscal (8 erreurs\u00a0: ARCHIVE_CHAIN_"
    )
    assert "COVERAGE_GAP" in french  # codes stay codes
    assert "aucune sauvegarde n'a été écrite. Lancez «\u00a0fiscalsafe check\u00a0»" in french
    assert "failed the fiscal check" not in french and "no backup was" not in french
    assert bs.entries(usb) == set()


# --- a medium too small ----------------------------------------------------------------


def test_a_medium_too_small_is_refused_with_sizes_in_the_readers_language(w, usb, monkeypatch):
    monkeypatch.setattr(media, "free_bytes", lambda path: 5000)
    with pytest.raises(RefusedError) as caught:
        bs.make_backup(w, w.dossier, usb)
    english = str(caught.value)
    assert english.startswith(f"not enough space on {usb}: the backup needs about ")
    assert english.endswith(", 5.0\u00a0kB available")
    speak("fr", monkeypatch)
    with pytest.raises(RefusedError) as caught:
        bs.make_backup(w, w.dossier, usb)
    french = str(caught.value)
    assert french.startswith(f"pas assez de place sur {usb}\u00a0: la sauvegarde demande environ ")
    assert french.endswith(", 5,0\u00a0ko disponibles")
    assert "not enough space" not in french and "available" not in french
    assert bs.entries(usb) == set()


# --- a malformed fiscal archive --------------------------------------------------------


def malformed_archive_finding():
    result = fiscal._check_archive("archives/A000009.fsa", b"\xc1 not msgpack", ((), True), "UTC")
    (found,) = result.findings
    assert found.code == "ARCHIVE_MALFORMED"
    return found.message


def test_a_malformed_archive_is_reported_in_the_readers_language(monkeypatch):
    assert malformed_archive_finding() == "fiscal archive: not valid msgpack (FormatError)"
    speak("fr", monkeypatch)
    assert malformed_archive_finding() == (
        "archive fiscale\u00a0: ce n'est pas du msgpack valide (FormatError)"
    )


def test_a_decoder_names_what_it_read_in_the_readers_language(monkeypatch):
    with pytest.raises(MalformedError, match=r"^ticket: trailing bytes after the document$"):
        unpack(b"\x01\x02", TICKET)
    speak("fr", monkeypatch)
    with pytest.raises(MalformedError) as caught:
        unpack(b"\x01\x02", TICKET)
    assert str(caught.value) == "ticket\u00a0: des octets suivent la fin du document"
    with pytest.raises(MalformedError) as caught:
        parse_envelope(b"\x01")
    assert str(caught.value) == "archive fiscale\u00a0: dictionnaire attendu, int trouvé"


# --- a missing part of a split set -----------------------------------------------------


@pytest.fixture
def split_copy(w, tmp_path_factory, tmp_path):
    split = bs.split_set(w, tmp_path_factory)
    parts = bs.copy_files(bs.backup_paths(split), tmp_path / "usb")
    parts = [p for p in parts if not p.name.endswith(".minisig")]
    parts[1].unlink()
    os.unlink(f"{parts[1]}.minisig")
    return parts


def missing_part(w, parts) -> str:
    (files,) = discover([parts[0]])
    report = bs.verify(w, files)
    (found,) = [f for f in report.findings if f.code == "PART_MISSING"]
    return found.message


def test_a_missing_part_is_reported_in_the_readers_language(w, split_copy, monkeypatch):
    total = len(split_copy)
    assert missing_part(w, split_copy) == f"split backup has {total} parts; missing part 2"
    speak("fr", monkeypatch)
    assert missing_part(w, split_copy) == (
        f"la sauvegarde en plusieurs parties en compte {total}\u00a0; il manque la partie 2"
    )


# --- a file changed while it was copied ------------------------------------------------


def touching(path):
    def touch(done, total):
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))

    return touch


def changed_during_backup(w, dossier, usb) -> str:
    with pytest.raises(ChangedDuringBackup) as caught:
        bs.make_backup(w, dossier, usb, progress=touching(dossier / "ycar" / "VEHICULE.fic"))
    assert bs.entries(usb) == set()
    return str(caught.value)


def test_a_file_changed_during_the_backup_is_reported_in_the_readers_language(
    w, mine, usb, monkeypatch
):
    dossier = mine.dossiers[0]
    assert changed_during_backup(w, dossier, usb) == (
        "ycar/VEHICULE.fic changed during the backup; run it again"
    )
    speak("fr", monkeypatch)
    assert changed_during_backup(w, dossier, usb) == (
        "ycar/VEHICULE.fic a changé pendant la sauvegarde\u00a0; relancez-la"
    )


# --- findings written in worker processes ----------------------------------------------


def test_a_finding_written_by_a_worker_process_speaks_the_parents_language(w, mine, monkeypatch):
    dossier = mine.dossiers[0]
    apply_tamper("archive-truncated", dossier, mine.keys)
    # The worker server starts in English: the workers' language comes from the parent.
    workers.start_server()
    speak("fr", monkeypatch)
    report = check_dossier(dossier, as_of=bs.NOW, years=bs.YEARS, trust=[w.editor], workers=2)
    malformed = [f for f in report.findings if f.code == "ARCHIVE_MALFORMED"]
    assert malformed, [f.code for f in report.findings]
    for found in malformed:
        assert found.message.startswith("archive fiscale\u00a0: "), found.message
        assert "fiscal archive" not in found.message
