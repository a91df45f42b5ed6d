"""The gettext catalogues: every French entry translated, not fuzzy, with the same
placeholders as its English id; the compiled ``.mo`` matches its ``.po``; and the ``.po``
holds exactly the messages the code marks for translation.

To update them after changing a text: ``python3 dev.py i18n`` (Babel extracts the marked
texts of the whole package, merges them into the catalogues and compiles them), translate
the new entries in ``fiscalsafe/locale/fr/LC_MESSAGES/fiscalsafe.po``, then run it again.
"""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from fiscalsafe import i18n

PACKAGE = Path(i18n.__file__).resolve().parent
LOCALES = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT_LANGUAGE]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "n_": (1, 2)}
SOURCES = (".",)


def po_path(lang: str) -> Path:
    return i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def catalogue(lang: str):
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def entries(lang: str):
    return [m for m in catalogue(lang) if m.id]


def test_the_catalogues_exist_for_every_language_offered():
    assert LOCALES == ["fr"]
    for lang in LOCALES:
        assert po_path(lang).is_file() and po_path(lang).with_suffix(".mo").is_file()


@pytest.mark.parametrize("lang", LOCALES)
def test_every_entry_is_translated_and_not_fuzzy(lang):
    cat = catalogue(lang)
    assert not cat.fuzzy, "the catalogue header is marked fuzzy"
    fuzzy = [m.id for m in entries(lang) if m.fuzzy]
    untranslated = [
        m.id
        for m in entries(lang)
        if not m.string or any(not s for s in (m.string if m.pluralizable else [m.string]))
    ]
    assert fuzzy == [] and untranslated == []
    assert cat.num_plurals == 2
    assert all(len(m.string) == 2 for m in entries(lang) if m.pluralizable)


@pytest.mark.parametrize("lang", LOCALES)
def test_translations_keep_the_placeholders_of_their_ids(lang):
    wrong = []
    for m in entries(lang):
        ids = m.id if m.pluralizable else (m.id,)
        strings = m.string if m.pluralizable else (m.string,)
        expected = set().union(*(fields(i) for i in ids))
        for s in strings:
            got = fields(s)
            # a plural form may leave out the count it is chosen by
            if got != expected and not (m.pluralizable and got == expected - {"n"}):
                wrong.append((m.id, sorted(expected), sorted(got)))
    assert wrong == []


@pytest.mark.parametrize("lang", LOCALES)
def test_compiled_catalogue_matches_its_source(lang):
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(lang))
    assert compiled.getvalue() == po_path(lang).with_suffix(".mo").read_bytes(), (
        "the .mo is out of date: run pybabel compile (see this module's docstring)"
    )


def marked_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for source in SOURCES:
        path = PACKAGE / source
        folder, pattern = (path, "**.py") if path.is_dir() else (path.parent, path.name)
        for _, _, message, _, _ in extract_from_dir(
            folder, method_map=[(pattern, "python")], keywords=KEYWORDS
        ):
            found.add(message)
    return found


@pytest.mark.parametrize("lang", LOCALES)
def test_catalogue_holds_exactly_the_marked_messages(lang):
    marked = marked_messages()
    assert marked, "no message marked for translation was found"
    in_po = {m.id if not m.pluralizable else tuple(m.id) for m in entries(lang)}
    assert sorted(map(str, marked - in_po)) == [], "not in the catalogue: run pybabel update"
    assert sorted(map(str, in_po - marked)) == [], "obsolete entries: run pybabel update"


def test_the_compiled_catalogue_is_what_gettext_reads():
    assert i18n.gettext("fr", "PROVEN") == "VÉRIFIÉ"
    assert i18n.gettext("en", "PROVEN") == "PROVEN"
    assert re.search("2 erreurs", i18n.ngettext("fr", *_errors(), 2).format(subject="x", n=2))
    assert "1 erreur\u00a0;" in i18n.ngettext("fr", *_errors(), 1).format(subject="x", n=1)


def _errors() -> tuple[str, str]:
    return (
        "NOT PROVEN: {subject} has {n} error; see the findings below.",
        "NOT PROVEN: {subject} has {n} errors; see the findings below.",
    )
