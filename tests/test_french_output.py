"""No English reaches a French user.

Every command a shop owner or an auditor runs is run here as a subprocess
(``python -m fiscalsafe``) on a machine whose locale is French (``LANG=fr_FR.UTF-8``, no
``FISCALSAFE_LANG``): sample, keys generate, check (proven and with findings), backup
(written; refused for findings; the application still open; the medium full; interrupted;
written despite findings), verify (proven, with a French report, and not proven), list and
restore. Their standard output and error are scanned for English (``english_scan.py``: the
catalogue's English sentences, and lines of English prose), and the English found is listed
in the assertion message. The same runs with ``--json``, in French and in English, give
documents that validate against their schemas and have the same keys. The command lines of
the French guides (``docs/guide-*.md``) all parse, and each guide's commands run as written,
in order, with its Windows drives mapped to test folders.

Until every command's texts are translated, ``test_no_english_reaches_a_french_user`` (and
``test_the_french_json_messages_are_french``) fail, listing each English sentence by run.

Run it alone: ``python3 dev.py test tests/test_french_output.py -q``.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
import typer.main
from babel.messages.pofile import read_po
from conftest import CLI_TIMEOUT, cli_env
from english_scan import (
    FRENCH_PO,
    catalogue_hits,
    catalogue_patterns,
    english_lines,
    guide_commands,
    key_paths,
    schema_errors,
    split_command,
)

pytestmark = pytest.mark.slow

SAMPLE_ARGS = ("--seed", "7", "--years", "7", "--until", "2026-11-27", "--size", "1MB",
               "--tickets-per-day", "2", "--shops", "1")  # fmt: skip
#: The damage of the refused backup, and the finding code that must say why.
TAMPER, TAMPER_CODE = "grand-total-mismatch", "GRAND_TOTAL_MISMATCH"

#: Runs ``python -m fiscalsafe`` with a fault: ``full`` leaves 4 KiB free on every disk,
#: ``interrupt`` is Ctrl-C when the backup creates its hidden ``.partial`` file.
FAULT_DRIVER = """
import collections, shutil, sys
fault = sys.argv.pop(1)
if fault == "full":
    usage = collections.namedtuple("usage", "total used free")
    shutil.disk_usage = lambda path: usage(10**9, 10**9 - 4096, 4096)
else:
    from fiscalsafe import fsio
    create = fsio.create_new
    def interrupted(path, mode=0o644):
        if str(path).endswith(".partial"):
            raise KeyboardInterrupt
        return create(path, mode)
    fsio.create_new = interrupted
from fiscalsafe.cli.entry import run
run()
"""


def language_env(lang: str, work: Path) -> dict[str, str]:
    """French: only the system locale says so. English: ``FISCALSAFE_LANG``."""
    env = cli_env()
    for var in ("FISCALSAFE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "FISCALSAFE_PASSPHRASE"):
        env.pop(var, None)
    env.update(LANG="fr_FR.UTF-8", FISCALSAFE_TRUST_DIR=os.devnull)
    env["FISCALSAFE_STATE_DIR"] = str(work / "state")
    if lang == "en":
        env["FISCALSAFE_LANG"] = "en"
    return env


@dataclass
class Run:
    name: str
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def describe(self) -> str:
        return f"{self.name}: fiscalsafe {' '.join(self.args)} -> {self.code}\n{self.out}{self.err}"

    def document(self) -> dict:
        return json.loads(self.out)


class Scenario:
    """The commands of a shop owner's and an auditor's day, in one folder and language."""

    def __init__(self, work: Path, lang: str, json_out: bool):
        self.work, self.json_out = work, json_out
        self.env = language_env(lang, work)
        self.runs: dict[str, Run] = {}

    def run(self, name: str, *args: str | Path, code: int, fault: str | None = None) -> Run:
        words = tuple(map(str, args)) + (("--json",) if self.json_out else ())
        command = [sys.executable, "-m", "fiscalsafe"]
        if fault is not None:
            command = [sys.executable, "-c", FAULT_DRIVER, fault]
        proc = subprocess.run(
            [*command, *words],
            capture_output=True,
            text=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        result = Run(name, words, proc.returncode, proc.stdout, proc.stderr)
        assert result.code == code, result.describe()
        assert "Traceback" not in result.err, result.describe()
        self.runs[name] = result
        return result

    def samples(self) -> None:
        w = self.work
        self.run("sample", "sample", w / "sample", *SAMPLE_ARGS, code=0)
        self.run("sample damaged", "sample", w / "damaged", *SAMPLE_ARGS, "--tamper", TAMPER,
                 code=0)  # fmt: skip
        self.run("sample open", "sample", w / "open", *SAMPLE_ARGS, "--open", code=0)
        self.run("keys generate", "keys", "generate", "--out", w, "--no-passphrase", code=0)

    def checks_and_backups(self) -> None:
        w, good, damaged = self.work, Shop(self.work / "sample"), Shop(self.work / "damaged")
        own_state = ("--state", w / "state-damaged")  # the damaged history is another one
        (w / "medium").mkdir()
        self.run("check proven", "check", good.dossier, *good.trust, code=0)
        self.run("check findings", "check", damaged.dossier, *damaged.trust, *own_state, code=1)
        to = ("--to", w / "medium")
        self.run("backup", "backup", good.dossier, *to, *good.signing, "--rotate", "weekday",
                 code=0)  # fmt: skip
        # Its own medium: on the first one, the older backup there would refuse it already.
        (w / "medium-findings").mkdir()
        self.run("backup refused", "backup", damaged.dossier, "--to", w / "medium-findings",
                 *damaged.signing, *own_state, code=1)  # fmt: skip
        opened = Shop(w / "open")
        self.run("backup open", "backup", opened.dossier, *to, *opened.signing, code=3)
        again = ("backup", good.dossier, *to, *good.signing, "--rotate", "weekday")
        self.run("backup medium full", *again, code=3, fault="full")
        self.run("backup interrupted", *again, code=3, fault="interrupt")
        self.run("backup with findings", "backup", damaged.dossier, "--to", w / "medium-findings",
                 *damaged.signing, *own_state, "--allow-findings", code=0)  # fmt: skip

    def verify_list_restore(self) -> None:
        w, good, damaged = self.work, Shop(self.work / "sample"), Shop(self.work / "damaged")
        report = ("--report", w / "rapport.html", "--auditor", "Marie Dupont")
        self.run("verify proven", "verify", w / "medium", *good.checking, *report, code=0)
        self.run("verify not proven", "verify", w / "medium-findings", *damaged.checking,
                 "--state", w / "state-damaged", code=1)  # fmt: skip
        self.run("list", "list", w / "medium", code=0)
        archive = next((w / "medium").glob("MAG001_*_full.tar.zst"))
        self.run("restore", "restore", archive, w / "restored", *good.checking, code=0)

    def play(self) -> dict[str, Run]:
        self.samples()
        self.checks_and_backups()
        self.verify_list_restore()
        return self.runs


@dataclass
class Shop:
    """A sample root written by ``fiscalsafe sample --shops 1``."""

    root: Path

    @property
    def dossier(self) -> Path:
        return self.root / "dossiers" / "MAG001"

    @property
    def trust(self) -> tuple[str, ...]:
        return ("--trust", str(self.root / "keys" / "editor.pub"))

    @property
    def signing(self) -> tuple[str, ...]:
        return ("--key", str(self.root / "keys" / "shop.key"), *self.trust)

    @property
    def checking(self) -> tuple[str, ...]:
        return ("--key", str(self.root / "keys" / "shop.pub"), *self.trust)


@pytest.fixture(scope="module")
def french(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return Scenario(tmp_path_factory.mktemp("fr-text"), "fr", json_out=False).play()


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Run]]:
    return {
        lang: Scenario(tmp_path_factory.mktemp(f"{lang}-json"), lang, json_out=True).play()
        for lang in ("fr", "en")
    }


def english_in(text: str) -> list[str]:
    return [*catalogue_hits(text), *english_lines(text)]


def test_no_english_reaches_a_french_user(french: dict[str, Run]) -> None:
    found = {
        name: sorted(set(english_in(run.out + "\n" + run.err))) for name, run in french.items()
    }
    found = {name: texts for name, texts in found.items() if texts}
    listing = "\n".join(
        f"- {name}: " + " | ".join(repr(text) for text in texts) for name, texts in found.items()
    )
    assert not found, f"English in the French output of {len(found)} runs:\n{listing}"


def filled(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", "7", text)


def test_the_detectors_find_each_english_sentence_and_no_french_one() -> None:
    """Over the whole catalogue: every English sentence, its fields filled, is found; none
    of the French translations is taken for English."""
    with FRENCH_PO.open("rb") as fh:
        catalogue = [m for m in read_po(fh, locale="fr") if m.id]
    sentences = [(msgid, m) for msgid, _pattern in catalogue_patterns() for m in catalogue
                 if msgid in (m.id if m.pluralizable else (m.id,))]  # fmt: skip
    assert len(sentences) >= 20
    missed = [msgid for msgid, _m in sentences if msgid not in catalogue_hits(filled(msgid))]
    assert missed == []
    french = [s for m in catalogue for s in (m.string if m.pluralizable else (m.string,))]
    taken = [s for s in french if english_in(filled(s))]
    assert taken == []


def visible_text(page: str) -> str:
    """What a reader sees of an HTML report: no style, no data block, no tags."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<br\s*/?>|</(p|div|li|tr|h[1-6]|td|th)>", "\n", page, flags=re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_french_report_holds_no_english(french: dict[str, Run], tmp_path_factory) -> None:
    run = french["verify proven"]
    page = Path(run.args[run.args.index("--report") + 1]).read_text(encoding="utf-8")
    assert '<html lang="fr"' in page
    assert "VÉRIFIÉ" in visible_text(page)
    english = english_in(visible_text(page))
    assert english == [], english


def text_of(run: Run) -> str:
    return run.out + run.err


def test_each_run_failed_for_its_documented_reason(french, documents) -> None:
    """Finding codes, workstation names and JSON codes are the same in every language: the
    reasons are read there (and, for a message with no code, in the English run)."""
    for name in ("check findings", "backup refused", "verify not proven"):
        assert TAMPER_CODE in text_of(french[name]), french[name].describe()
    assert "BACKUP_WITH_FINDINGS" in text_of(french["verify not proven"])
    assert {"POSTE-01", "POSTE-02"} <= set(re.findall(r"POSTE-\d+", text_of(french["backup open"])))
    for lang, runs in documents.items():
        assert runs["backup interrupted"].document()["error"] == "interrupted", lang
        assert runs["verify proven"].document()["verdict"] == "proven", lang
        for name in ("backup open", "backup medium full"):
            failures = runs[name].document().get("failures", [runs[name].document()])
            assert [f.get("code", f.get("exit_code")) for f in failures] == [3], lang
        refused = runs["backup refused"].document()
        assert refused["backups"] == [] and [f["code"] for f in refused["failures"]] == [1], lang
        assert TAMPER_CODE in refused["failures"][0]["error"], lang
    assert "failed the fiscal check" in text_of(documents["en"]["backup refused"])
    assert "not enough space" in text_of(documents["en"]["backup medium full"])
    assert "application is still open" in text_of(documents["en"]["backup open"])
    # Application open, full, interrupted: the medium still holds the one good backup, nothing else.
    medium = Path(french["backup"].args[french["backup"].args.index("--to") + 1])
    kept = sorted(p.name for p in medium.iterdir())
    assert len(kept) == 2 and kept[1] == kept[0] + ".minisig", kept


def test_json_outputs_validate_and_keep_their_keys_in_both_languages(documents) -> None:
    french, english = documents["fr"], documents["en"]
    assert french.keys() == english.keys()
    for name in french:
        for lang, run in (("fr", french[name]), ("en", english[name])):
            assert schema_errors(run.document()) == [], f"{lang} {run.describe()}"
        assert key_paths(french[name].document()) == key_paths(english[name].document()), name


def test_the_french_json_messages_are_french(documents) -> None:
    """A JSON document keeps its keys and codes, but its ``message`` fields are for people."""
    found = {}
    for name, run in documents["fr"].items():
        messages = re.findall(r'"message": ("(?:[^"\\]|\\.)*")', run.out)
        english = english_in("\n".join(json.loads(m) for m in messages))
        if english:
            found[name] = sorted(set(english))
    assert not found, found


# --- The guides ---------------------------------------------------------------------------------


def parser_of(words: tuple[str, ...]):
    """The command (typer's own click) a command line names, its name, and the rest."""
    from fiscalsafe.cli.main import app

    command = typer.main.get_command(app)
    name, rest = "fiscalsafe", list(words)
    while getattr(command, "commands", None) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in command.commands, f"no command {name!r}"
        command = command.commands[name]
    return command, name, rest


def test_every_command_line_of_the_guides_parses() -> None:
    """Each line is parsed as the command line would parse it (options, their values and
    arguments), without running it."""
    commands = guide_commands()
    assert len(commands) >= 15
    for command_line in commands:
        command, name, rest = parser_of(command_line.words)
        if rest == ["--version"]:
            assert any("--version" in p.opts for p in command.params)
            continue
        try:
            command.make_context(name, rest)
        except typer.TyperException as exc:
            pytest.fail(f"{command_line.guide}: {command_line.line}\n  {exc.format_message()}")


def test_the_guides_show_what_their_readers_run() -> None:
    used: dict[str, set[str]] = {}
    for command_line in guide_commands():
        used.setdefault(command_line.guide, set()).add(command_line.words[0])
    assert {"keys", "check", "backup", "list", "restore"} <= used["guide-commercant.md"]
    assert {"keys", "verify", "report-check", "list", "restore"} <= used["guide-auditeur.md"]
    words = {w for c in guide_commands() for w in c.words}
    assert {"--rotate", "--keep", "--allow-findings", "--auditor", "--auditor-key"} <= words
    assert split_command('verify E:\\ --auditor "Marie Dupont"') == (
        "verify", "E:\\", "--auditor", "Marie Dupont",
    )  # fmt: skip


def test_the_guides_follow_french_typography() -> None:
    """A no-break space before ``:`` ``;`` ``?`` ``!`` in prose (code spans and blocks
    aside), as on the French screens."""
    from english_scan import GUIDES

    wrong = []
    for guide in GUIDES:
        text = guide.read_text(encoding="utf-8")
        text = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
        for line in text.splitlines():
            prose = re.sub(r"`[^`]*`", "", line)
            if re.search(r"[ \t][:;?!](\s|$)", prose):
                wrong.append(f"{guide.name}: {line.strip()}")
    assert wrong == []


def guide_paths(line_words: tuple[str, ...], drives: dict[str, Path]) -> list[str]:
    """The guide's Windows paths (``E:\\...``) turned into folders of the test."""
    out = []
    for word in line_words:
        match = re.fullmatch(r"([A-Z]):\\(.*)", word)
        if match:
            rest = match.group(2).replace("\\", "/")
            word = str(drives[match.group(1)] / rest) if rest else str(drives[match.group(1)])
        out.append(word)
    return out


def run_guide(guide: str, cwd: Path, drives: dict[str, Path], archive: str) -> None:
    """Run every command of ``guide`` in order, in French, with its Windows drives mapped
    to test folders; each must succeed."""
    env = {**language_env("fr", cwd), "FISCALSAFE_PASSPHRASE": "phrase secrète"}
    for command_line in [c for c in guide_commands() if c.guide == guide]:
        words = [w.replace("MAG001_lundi_full.tar.zst", archive) for w in command_line.words]
        proc = subprocess.run(
            [sys.executable, "-m", "fiscalsafe", *guide_paths(tuple(words), drives)],
            capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            timeout=CLI_TIMEOUT, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"{command_line.line}\n{proc.stdout}{proc.stderr}"


def test_the_auditors_guide_runs_as_written(french: dict[str, Run], tmp_path: Path) -> None:
    """Every command of the auditor's guide, in order, on the shop's medium: its key
    generation, verification with a signed PDF report, report-check, list, the anchored
    verification, restore and check all succeed."""
    sample = Path(french["sample"].args[1])
    medium = Path(french["backup"].args[french["backup"].args.index("--to") + 1])
    archive = next(medium.glob("MAG001_*_full.tar.zst"))
    (tmp_path / "E").symlink_to(medium)
    (tmp_path / "C" / "Boutique").mkdir(parents=True)
    (tmp_path / "C" / "Boutique" / "MAG001").symlink_to(sample / "dossiers" / "MAG001")
    work = tmp_path / "C" / "Audit"  # the guide's working folder
    work.mkdir()
    for key in ("shop.pub", "editor.pub"):
        (work / key).write_bytes((sample / "keys" / key).read_bytes())
    run_guide("guide-auditeur.md", work, {"C": tmp_path / "C", "E": tmp_path / "E"}, archive.name)
    assert (work / "rapport.pdf.minisig").is_file() and (work / "rapport-2.json").is_file()
    assert (work / "MAG001" / "dossier.json").is_file()


def test_the_shop_owners_guide_runs_as_written(french: dict[str, Run], tmp_path: Path) -> None:
    """Every command of the shop owner's guide, in order: a new shop key, the checks with
    their reports, the nightly backup, one for every dossier, the dated backups kept on a
    disk, the photos, a backup despite findings, list and restore."""
    sample = Path(french["sample"].args[1])
    drives = {letter: tmp_path / letter for letter in "CEF"}
    for folder in drives.values():
        folder.mkdir()
    shutil.copytree(sample / "dossiers" / "MAG001", drives["C"] / "Boutique" / "MAG001")
    (drives["C"] / "Cles").mkdir()
    (drives["C"] / "Cles" / "editor.pub").write_bytes((sample / "keys" / "editor.pub").read_bytes())
    medium = Path(french["backup"].args[french["backup"].args.index("--to") + 1])
    archive = next(medium.glob("MAG001_*_full.tar.zst")).name  # the same weekday here
    run_guide("guide-commercant.md", tmp_path, drives, archive)
    assert (drives["C"] / "Boutique" / "MAG001-restaure" / "dossier.json").is_file()
    assert (drives["C"] / "Boutique" / "controle.html").is_file()
