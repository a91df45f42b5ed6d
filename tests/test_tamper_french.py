"""``sample --tamper`` says what it damaged in the reader's language.

In French a tamper's description and its ``--tamper list`` line are French, with French
numbers and dates; in English they read exactly as the English catalogue writes them.
"""

from __future__ import annotations

import re

import pytest
from conftest import copy_sample, run_cli

from fiscalsafe import i18n
from fiscalsafe.samples.tamper import apply_tamper

NBSP = "\u00a0"


def speak(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process in ``lang``; conftest restores English."""
    monkeypatch.setenv(i18n.LANG_ENV, lang)
    i18n.set_language(lang)


def describe(lang, sample_root, tmp_path, monkeypatch, name: str) -> str:
    speak(lang, monkeypatch)
    sample = copy_sample(sample_root, tmp_path / lang)
    return apply_tamper(name, sample.dossiers[0], sample.keys)


def test_a_tamper_says_what_it_changed_in_french(sample_root, tmp_path, monkeypatch):
    text = describe("fr", sample_root, tmp_path, monkeypatch, "vat-sum-mismatch")
    assert re.fullmatch(
        rf"\S+\.fsa{NBSP}: jour du \d\d/\d\d/\d{{4}}, taux de [\d,]+{NBSP}%{NBSP}: 100 centimes "
        rf"passés de la TVA au HT{NBSP}; archive, journal et tête signés à nouveau",
        text,
    ), text


def test_a_tamper_says_what_it_changed_in_english_as_before(sample_root, tmp_path, monkeypatch):
    text = describe("en", sample_root, tmp_path, monkeypatch, "vat-sum-mismatch")
    assert re.fullmatch(
        r"\S+\.fsa: day \d{4}-\d\d-\d\d, rate [\d.]+%: 100 cents moved from VAT to net; "
        r"archive, journal and head re-signed",
        text,
    ), text


def test_a_cut_archive_gives_its_sizes_in_french(sample_root, tmp_path, monkeypatch):
    text = describe("fr", sample_root, tmp_path, monkeypatch, "archive-truncated")
    assert re.fullmatch(
        rf"\S+\.fsa{NBSP}: coupé de [\d{NBSP}\u202f]+ à [\d{NBSP}\u202f]+ octets", text
    )
    assert "bytes" not in text
    english = describe("en", sample_root, tmp_path / "again", monkeypatch, "archive-truncated")
    assert re.fullmatch(r"\S+\.fsa: cut from \d+ to \d+ bytes", english), english


def test_the_tamper_list_is_in_the_readers_language(tmp_path):
    code, out, err = run_cli("sample", "unused", "--tamper", "list", "--lang", "fr", cwd=tmp_path)
    assert code == 0, err
    assert f"Sans la clé{NBSP}: supprimer la tête signée du journal." in out
    assert "Without the key" not in out and "Shop software" not in out
    code, out, err = run_cli("sample", "unused", "--tamper", "list", "--lang", "en", cwd=tmp_path)
    assert code == 0, err
    assert "Without the key: delete the journal's signed head." in out
