"""Reports made once per test run, shared by the report tests (read them, never change them).

- ``good(w)``: the small sample's good backup verified with ``--report`` (French HTML),
  an auditor key, ``--auditor`` and ``--evidence``;
- ``damaged(w)``: a backup of the same dossier with its middle archive removed (made with
  ``--allow-findings``), verified with ``--years 3``: one month not covered, twelve before
  the dossier's first record;
- ``html_tree(data)``: the page parsed with the standard library (elements and attributes).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import backup_support as bs

from fiscalsafe.samples.tamper import apply_tamper

_CACHE: dict[str, object] = {}
AUDITOR = "Marie Dupont-Lefèvre"


@dataclass(frozen=True)
class Made:
    folder: Path
    report: Path
    evidence: Path
    auditor_pub: Path
    result: bs.CliResult

    @property
    def html(self) -> str:
        return self.report.read_text(encoding="utf-8")


def auditor_keys(base: Path) -> tuple[Path, Path]:
    keys = base / "auditor-keys"
    if not keys.exists():
        r = bs.invoke("keys", "generate", "--out", keys, "--name", "auditor", "--no-passphrase")
        assert r.code == 0, r
    return keys / "auditor.key", keys / "auditor.pub"


def make_report(w, base: Path, medium: Path, name: str, *extra: str | Path) -> Made:
    secret, public = auditor_keys(base)
    folder = base / name
    folder.mkdir()
    report, evidence = folder / f"{name}.html", folder / f"{name}.json"
    r = bs.invoke(
        "verify", medium, "--key", w.shop_pub, "--trust", w.editor,
        "--evidence", evidence, "--report", report, "--lang", "fr",
        "--auditor", AUDITOR, "--auditor-key", secret, *extra,
    )  # fmt: skip
    return Made(folder, report, evidence, public, r)


def good(w, tmp_path_factory) -> Made:
    if "good" not in _CACHE:
        base = tmp_path_factory.mktemp("report")
        _CACHE["good"] = make_report(w, base, w.backup_dir, "good", "--years", bs.YEARS)
    return _CACHE["good"]  # type: ignore[return-value]


def damaged(w, tmp_path_factory) -> Made:
    if "damaged" not in _CACHE:
        base = tmp_path_factory.mktemp("report-damaged")
        root = bs.copy_root(w, base / "root")
        dossier = root.dossiers[0]
        apply_tamper("archive-removed", dossier, root.keys)
        usb = base / "usb"
        usb.mkdir()
        with bs.single_worker():
            bs.make_backup(w, dossier, usb, allow_findings=True)
        _CACHE["damaged"] = make_report(w, base, usb, "damaged", "--years", "3")
    return _CACHE["damaged"]  # type: ignore[return-value]


def copy_made(made: Made, dest: Path) -> Made:
    """A private copy of a report and its files, to damage."""
    shutil.copytree(made.folder, dest)
    return Made(
        dest, dest / made.report.name, dest / made.evidence.name, made.auditor_pub, made.result
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str, tag: str, **attrs: str) -> list[dict[str, str]]:
    """Every ``tag`` element whose attributes include ``attrs`` (``class_`` for class)."""
    parser = _Collector()
    parser.feed(html)
    want = {k.rstrip("_"): v for k, v in attrs.items()}
    return [
        a for t, a in parser.elements if t == tag and all(a.get(k) == v for k, v in want.items())
    ]
