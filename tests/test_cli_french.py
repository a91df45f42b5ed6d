"""The command line in French: the language chosen, the help, the parser's own mistakes,
the verdict and coverage lines with French dates, sizes and counts; codes and JSON keys
the same in both languages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import backup_support as bs
import pytest
from test_output_schemas import assert_valid

from fiscalsafe import i18n, oscompat
from fiscalsafe.cli import language
from fiscalsafe.cli.failure import run_app

NBSP = "\u00a0"
FRENCH_DAY = re.compile(r"\b\d\d/\d\d/\d{4}\b")
FRENCH_SIZE = re.compile(r"\b\d+(,\d)?\u00a0(octets|ko|Mo|Go)\b")


def cli(*args: str | Path, lang: str | None = "fr") -> subprocess.CompletedProcess:
    """``python -m fiscalsafe ARGS`` with ``$FISCALSAFE_LANG`` set to ``lang``."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", FISCALSAFE_TRUST_DIR=os.devnull)
    env.pop("FISCALSAFE_LANG", None)
    if lang is not None:
        env["FISCALSAFE_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def run_in_process(capsys, *args: str | Path) -> tuple[int, str, str]:
    """``run_app`` as the console entry point runs it: (exit code, stdout, stderr)."""
    from fiscalsafe.cli.main import app

    with pytest.raises(SystemExit) as exit_info:
        run_app(app, [str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def words(text: str) -> str:
    """Help boxes wrap and frame their lines: compare their words only."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


# --- choosing the language ---------------------------------------------------------------


def test_lang_is_read_wherever_it_stands_on_the_command_line():
    assert language.lang_option(["--lang", "fr", "check", "D"]) == "fr"
    assert language.lang_option(["check", "D", "--lang=en"]) == "en"
    assert language.lang_option(["check", "--", "--lang", "fr"]) is None
    assert language.lang_option(["check", "D"]) is None
    assert language.without_lang(["--lang", "fr", "check", "D", "--lang=en"]) == ["check", "D"]


@pytest.fixture
def bare_environment(monkeypatch):
    """No language variable at all, not on Windows, and a C library locale that names
    none: each test adds the one source it checks."""
    for var in (i18n.LANG_ENV, "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(oscompat, "is_windows", lambda: False)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda *a: (None, None))


def fake_windows_ui(monkeypatch, langid: int) -> None:
    class Kernel32:
        def GetUserDefaultUILanguage(self) -> int:  # noqa: N802 - the Windows name
            return langid

    monkeypatch.setattr(oscompat, "is_windows", lambda: True)
    monkeypatch.setattr(oscompat, "_windll", lambda name: Kernel32())


def choose(argv: list[str], monkeypatch) -> str:
    """The language a run with ``argv`` speaks (choosing it sets ``$FISCALSAFE_LANG`` for the
    workers: the next choice starts without it)."""
    chosen = language.apply_language(argv)
    assert i18n.language() == chosen and os.environ[i18n.LANG_ENV] == chosen
    monkeypatch.delenv(i18n.LANG_ENV)
    return chosen


def test_without_any_source_the_language_is_english(bare_environment, monkeypatch):
    assert choose([], monkeypatch) == "en"


def test_windows_ui_language_comes_before_english(bare_environment, monkeypatch):
    fake_windows_ui(monkeypatch, 0x040C)  # French (France)
    assert choose(["check", "D"], monkeypatch) == "fr"
    fake_windows_ui(monkeypatch, 0x0409)  # English (United States)
    assert choose(["check", "D"], monkeypatch) == "en"


def test_locale_variables_come_before_the_windows_ui_language(bare_environment, monkeypatch):
    fake_windows_ui(monkeypatch, 0x040C)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert choose([], monkeypatch) == "en"
    monkeypatch.setenv("LC_MESSAGES", "fr_FR.UTF-8")
    assert choose([], monkeypatch) == "fr"
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert choose([], monkeypatch) == "en"
    monkeypatch.setenv("LANGUAGE", "fr:en")
    assert choose([], monkeypatch) == "fr"


def test_fiscalsafe_lang_comes_before_the_locale_variables(bare_environment, monkeypatch):
    monkeypatch.setenv("LANGUAGE", "en")
    monkeypatch.setenv(i18n.LANG_ENV, "fr")
    assert choose([], monkeypatch) == "fr"


def test_the_option_comes_before_everything(bare_environment, monkeypatch):
    fake_windows_ui(monkeypatch, 0x040C)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.setenv(i18n.LANG_ENV, "fr")
    assert choose(["--lang", "en", "check", "D"], monkeypatch) == "en"


def test_a_bad_lang_is_a_usage_error_in_text_and_in_json(capsys):
    code, out, err = run_in_process(capsys, "check", "D", "--lang", "de")
    assert code == 2 and out == ""
    assert err.strip() == "error: --lang 'de': choose one of en, fr"
    code, out, err = run_in_process(capsys, "--lang=de", "list", "D", "--json")
    doc = json.loads(out)
    assert code == 2 and doc["error"] == "usage" and doc["exit_code"] == 2
    assert doc["message"] == "--lang 'de': choose one of en, fr"
    assert_valid("error", doc)


def test_a_bad_lang_stops_the_console_entry_point_before_any_work(tmp_path):
    proc = cli("--lang", "xx", "check", tmp_path / "nowhere", "--json", lang="fr")
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error"] == "usage"
    assert doc["message"] == f"--lang 'xx'{NBSP}: choisissez parmi en, fr"
    assert "Traceback" not in proc.stderr


# --- help ------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], [], ["keys"]], ids=["help", "bare", "bare-group"])
def test_the_help_of_the_command_groups_is_french(args):
    """typer's own panel titles too, however the help page is reached."""
    proc = cli(*args)
    page = words(proc.stdout + proc.stderr)
    assert "Commandes" in page and "Commands" not in page


def test_french_help_of_backup_and_verify_is_french():
    backup = words(cli("backup", "--help").stdout)
    assert "Vérifie, puis sauvegarde un dossier" in backup
    assert "Dossier de destination (clé USB, disque externe)." in backup
    assert "Clé secrète minisign du magasin." in backup
    assert "Langue des messages" in backup
    assert "Affiche cette aide et quitte." in backup and "[obligatoire]" in backup
    assert "Options" in backup and "Arguments" in backup
    for english in (
        "Destination folder (USB stick, disk).",
        "Check, then back up a dossier",
        "Keep the N newest backups per dossier.",
        "Machine-readable output.",
        "Environment variable holding the key's passphrase.",
        "Show this message and exit.",
        "[required]",
    ):
        assert english not in backup
    verify = words(cli("verify", "--help").stdout)
    assert "Prouve des sauvegardes" in verify
    assert "Clé publique du magasin (minisign .pub)." in verify
    for english in (
        "Prove backups (or any BagIt bag) without restoring them.",
        "Shop public key (minisign .pub).",
        "Write a JSON evidence record here.",
    ):
        assert english not in verify


def test_lang_on_the_command_line_translates_the_help_too():
    proc = cli("--lang", "fr", "restore", "--help", lang="en")
    assert "Dossier vide ou nouveau où restaurer." in words(proc.stdout)
    proc = cli("check", "--help", "--lang", "en", lang="fr")
    assert "The shop dossier folder." in words(proc.stdout)


# --- the parser's own mistakes -----------------------------------------------------------


def french_usage_error(capsys, *args: str) -> str:
    code, out, err = run_in_process(capsys, "--lang", "fr", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_parser_mistakes_are_said_in_french(capsys):
    assert french_usage_error(capsys, "verify", "--bogus") == (
        f"erreur{NBSP}: option inconnue{NBSP}: --bogus (voir «{NBSP}fiscalsafe verify "
        f"--help{NBSP}»)"
    )
    assert french_usage_error(capsys, "check") == (
        f"erreur{NBSP}: argument manquant{NBSP}: 'dossier'. (voir «{NBSP}fiscalsafe check "
        f"--help{NBSP}»)"
    )
    missing_option = french_usage_error(capsys, "backup", "D", "--key", "k")
    assert missing_option.startswith(f"erreur{NBSP}: option manquante{NBSP}: '--to'.")
    assert french_usage_error(capsys, "check", "D", "E").startswith(
        f"erreur{NBSP}: argument(s) en trop{NBSP}: E."
    )
    assert french_usage_error(capsys, "check", "D", "--years", "abc").startswith(
        f"erreur{NBSP}: valeur non valide pour '--years'{NBSP}: 'abc' n'est pas un nombre entier."
    )
    assert french_usage_error(capsys, "check", "D", "--as-of").startswith(
        f"erreur{NBSP}: l'option --as-of demande une valeur."
    )
    assert french_usage_error(capsys, "nosuch", "--help").startswith(
        f"erreur{NBSP}: commande inconnue{NBSP}: 'nosuch'."
    )


def test_english_parser_mistakes_keep_their_words(capsys):
    code, out, err = run_in_process(capsys, "verify", "--bogus")
    assert err.strip() == "error: No such option: --bogus (see 'fiscalsafe verify --help')"
    code, out, err = run_in_process(capsys, "nosuch")
    assert err.strip() == "error: No such command 'nosuch'. (see 'fiscalsafe --help')"
    code, out, err = run_in_process(capsys, "check", "D", "--years", "abc")
    assert err.strip() == (
        "error: Invalid value for '--years': 'abc' is not a whole number. "
        "(see 'fiscalsafe check --help')"
    )


def test_a_parser_mistake_with_json_is_the_same_document_in_both_languages(capsys):
    docs = {}
    for lang in ("en", "fr"):
        code, out, err = run_in_process(capsys, "--lang", lang, "verify", "--bogus", "--json")
        assert code == 2
        docs[lang] = json.loads(out)
        assert_valid("error", docs[lang])
    assert docs["en"]["error"] == docs["fr"]["error"] == "usage"
    assert docs["en"].keys() == docs["fr"].keys()
    assert docs["fr"]["message"].startswith(f"option inconnue{NBSP}: --bogus")


# --- what check, backup, verify and list say in French ------------------------------------


pytest_one_worker = pytest.mark.usefixtures("one_worker")


def line_starting(out: str, start: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith(start))


@pytest_one_worker
def test_check_in_french_says_verifie_with_french_dates(w):
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--years", "1", "--lang", "fr")
    assert r.code == 0, r
    first = r.out.splitlines()[0]
    assert first == f"VÉRIFIÉ dossier {w.dossier.name}{NBSP}: intégrité fiscale vérifiée"
    coverage = line_starting(r.out, "couverture")
    assert coverage.startswith(f"couverture{NBSP}: 1 an exigé, du 27/11/2025 au 27/11/2026")
    assert "dernière opération enregistrée le 26/11/2026" in coverage
    assert "2026-11-26" not in r.out
    assert "archives fiscales" in r.out


@pytest_one_worker
def test_backup_in_french_says_sauvegarde_with_french_sizes(w, tmp_path):
    r = bs.invoke(
        "backup", w.dossier, "--to", tmp_path / "usb", "--key", w.shop_key,
        "--trust", w.editor, "--years", "1", "--lang", "fr",
    )  # fmt: skip
    assert r.code == 0, r
    assert f"dossier de sauvegarde {tmp_path / 'usb'} créé" in r.err
    assert r.out.startswith("SAUVEGARDÉ dossier MAG001 (complète)")
    sizes = r.out.splitlines()[1]
    assert len(FRENCH_SIZE.findall(sizes)) == 2, sizes
    assert "relue et vérifiée" in sizes and " MB" not in sizes
    assert FRENCH_DAY.search(line_starting(r.out, "couverture"))


@pytest_one_worker
def test_verify_in_french_shows_the_creation_in_the_shops_time_zone(w):
    r = bs.invoke("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--lang", "fr")
    assert r.code == 0, r
    first = r.out.splitlines()[0]
    assert first.startswith(f"VÉRIFIÉ {w.archive.name} — dossier MAG001, ")
    # Made at 2026-11-27T12:00:00Z, checked at 20:00Z: 13:00 and 21:00 in Paris.
    assert first.endswith(
        f"sauvegarde complète du 27/11/2026 13:00 (horloge du vérificateur{NBSP}: 27/11/2026 21:00)"
    )
    assert "contrôles" in r.out


@pytest_one_worker
@pytest.mark.parametrize(
    ("schema", "args"),
    [
        ("check-report", ("check", "{dossier}", "--trust", "{editor}", "--years", "1")),
        ("verify-report", ("verify", "{archive}", "--key", "{shop_pub}", "--trust", "{editor}")),
        ("list", ("list", "{backup_dir}")),
    ],
)
def test_json_outputs_have_the_same_keys_in_both_languages(w, schema, args):
    paths = {
        "dossier": w.dossier,
        "editor": w.editor,
        "archive": w.archive,
        "shop_pub": w.shop_pub,
        "backup_dir": w.backup_dir,
    }
    argv = [a.format(**paths) for a in args]
    docs = {}
    for lang in ("en", "fr"):
        r = bs.invoke(*argv, "--json", "--lang", lang)
        assert r.code == 0, r
        docs[lang] = json.loads(r.out)
    assert key_paths(docs["en"]) == key_paths(docs["fr"])
    assert docs["en"].get("verdict") == docs["fr"].get("verdict")
    if schema == "verify-report":
        assert_valid(schema, docs["fr"])
    elif schema == "check-report":
        from test_schemas import assert_valid as assert_check_valid

        assert_check_valid(schema, {k: v for k, v in docs["fr"].items() if k != "archive_proofs"})
    else:
        assert_valid(schema, docs["fr"])


def key_paths(doc, prefix: str = "") -> set[str]:
    """Every key of a JSON document, by its path (list items share theirs)."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.add(prefix + key)
            found |= key_paths(value, f"{prefix}{key}.")
    elif isinstance(doc, list):
        for item in doc:
            found |= key_paths(item, f"{prefix}[].")
    return found
