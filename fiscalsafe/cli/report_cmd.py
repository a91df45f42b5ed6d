"""The verification report: ``--report`` of ``verify`` and ``check``, and ``report-check``.

``verify`` and ``check`` declare the options below and call :func:`write_verify_report` or
:func:`write_check_report`; everything the report says is drawn by ``fiscalsafe.report``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fiscalsafe import i18n
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.language import bad_language, language_option
from fiscalsafe.cli.options import LanguageOpt
from fiscalsafe.cli.render import console, finding_line, print_json
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _

ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help=_("Write a report to read, sign and attach: FILE.html or FILE.pdf (by extension)."),
    ),
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help=_(
            "Language of the output and of the report: fr or en (default: "
            "$FISCALSAFE_LANG, else the system's language, else en)."
        ),
        callback=language_option,
    ),
]
AuditorOpt = Annotated[
    str | None, typer.Option("--auditor", help=_("The auditor's name, shown in the report."))
]


def report_language(report: Path | None, lang: str | None, dossier: Path | None = None) -> str:
    """Refuse a bad ``--report`` or ``--lang`` before any work (and a report inside the
    dossier a check reads: the dossier is never modified); the language to use."""
    from fiscalsafe.report.write import report_format

    if lang is not None and lang not in i18n.LANGUAGES:
        raise bad_language(lang)
    if report is not None:
        report_format(report)
        if dossier is not None and dossier.resolve() in report.resolve().parents:
            raise UsageError(
                _(
                    "--report {path} lies inside the dossier, which is never modified",
                    path=report,
                )
            )
    return i18n.choose_language(lang)


def command_line() -> str:
    return shlex.join(["fiscalsafe", *sys.argv[1:]])


def _shop_key_entries(shop_keys: list, key_paths: list[Path] | None) -> list[dict[str, Any]]:
    from fiscalsafe.cli.trust import trust_dir
    from fiscalsafe.report.write import shop_key_entry

    folder = trust_dir() / "shop"
    paths = list(key_paths) if key_paths else sorted(folder.glob("*.pub"))
    return [
        shop_key_entry(k.key, k.origin, paths[i] if i < len(paths) else None)
        for i, k in enumerate(shop_keys)
    ]


def _media(targets: list[Path]) -> list[Path]:
    folders: list[Path] = []
    for target in targets:
        folder = target if target.is_dir() else target.parent
        if folder not in folders:
            folders.append(folder)
    return folders


def write_verify_report(
    path: Path,
    doc: dict[str, Any],
    *,
    lang: str,
    now,
    auditor_name: str | None,
    auditor,
    targets: list[Path],
    shop_keys: list,
    key_paths: list[Path] | None,
    editors: list[Path],
    trust_paths: list[Path] | None,
    evidence: Path | None,
) -> list[Path]:
    """The report of a verify run, from its evidence record ``doc``."""
    from fiscalsafe.report.write import build_context, write_report

    used = {v.get("shop_key") for v in doc.get("verifications", [])}
    entries = [e for e in _shop_key_entries(shop_keys, key_paths) if e["id"] in used]
    context = build_context(
        lang=lang,
        command=command_line(),
        now=now,
        auditor=auditor_name,
        media_paths=_media(targets),
        shop_keys=entries,
        editor_paths=editors,
        editor_source="option" if trust_paths else "trust folder",
    )
    name = evidence.name if evidence is not None else None
    return write_report(path, doc, context, evidence_name=name, auditor=auditor)


def write_check_report(
    path: Path, report, *, dossier: Path, lang: str, now, editors: list[Path], trust_paths
) -> list[Path]:
    """The page of a check in place: the same report, for one dossier."""
    from fiscalsafe.report.write import build_context, write_report

    context = build_context(
        lang=lang,
        command=command_line(),
        now=now,
        auditor=None,
        media_paths=[dossier],
        shop_keys=[],
        editor_paths=editors,
        editor_source="option" if trust_paths else "trust folder",
        identities={report.dossier: _identity(dossier)},
    )
    return write_report(path, report.to_json(), context, evidence_name=None, auditor=None)


def _identity(dossier: Path) -> dict[str, Any]:
    """Shop name, SIRET and time zone from the dossier's identity file; empty if unreadable
    (the check itself reports why)."""
    from fiscalsafe import fsio
    from fiscalsafe.errors import FiscalsafeError
    from fiscalsafe.formats.dossier import MAX_JSON_BYTES, parse_identity

    try:
        data = fsio.read_regular(dossier / "dossier.json", MAX_JSON_BYTES, "dossier.json")
        ident = parse_identity(data) if data is not None else None
    except (FiscalsafeError, OSError):
        return {}
    if ident is None:
        return {}
    return {"id": ident.dossier_id, "shop": ident.shop_name, "siret": ident.siret, "tz": ident.tz}


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    @app.command(
        "report-check",
        help=_("Check that a report, its evidence record and its signature belong together."),
    )
    @guarded
    def report_check(
        report: Annotated[Path, typer.Argument(help=_("The report (.html or .pdf)."))],
        evidence: Annotated[
            Path | None, typer.Option(help=_("The evidence record the report names."))
        ] = None,
        auditor_pub: Annotated[
            Path | None,
            typer.Option(help=_("The auditor's minisign public key: check REPORT.minisig.")),
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help=_("Machine-readable output."))
        ] = False,
        lang: LanguageOpt = None,
    ) -> int:
        """Check that a report, its evidence record and its signature belong together."""
        from fiscalsafe.report.check import check_report

        result = check_report(report, evidence, auditor_pub)
        if json_out:
            print_json(result.to_json())
        else:
            render_report_check(result)
        return exitcodes.OK if result.ok else exitcodes.FINDINGS


def render_report_check(result) -> None:
    if result.ok:
        title = _("REPORT CHECKED")
        line = f"[bold green]{title}[/] {result.report}"
        if result.evidence_sha256:
            line += _(
                ": evidence SHA-256 {sha256} (verdict {verdict})",
                sha256=result.evidence_sha256,
                verdict=result.verdict,
            )
    else:
        codes = ", ".join(sorted({f.code for f in result.findings if f.severity == "error"}))
        title = _("REPORT NOT CHECKED")
        line = f"[bold red]{title}[/] {result.report}: {codes}"
    console.print(line, markup=True)
    for f in result.findings:
        console.print("  " + finding_line(f), markup=True)
