"""``fiscalsafe check``: prove a dossier in place; rendering only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import localformat
from fiscalsafe.cli import exitcodes, report_cmd
from fiscalsafe.cli.coverage_text import ANCHOR_AS_OF, ANCHOR_TODAY, coverage_sentence
from fiscalsafe.cli.options import (
    JsonOpt,
    MaxIdleOpt,
    ProfileOpt,
    StateOpt,
    TrustOpt,
    check_max_idle,
    parse_as_of,
    state_store,
)
from fiscalsafe.cli.render import console, print_findings, print_json, proofs_sentence
from fiscalsafe.cli.report_cmd import LangOpt, ReportOpt
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _, n_
from fiscalsafe.report.texts import VERDICTS
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS

DossierArg = Annotated[Path, typer.Argument(help=_("The shop dossier folder."))]
AsOfOpt = Annotated[str | None, typer.Option(help=_("Date the coverage ends (default: now)."))]
YearsOpt = Annotated[int, typer.Option(help=_("Years that must be covered."))]
RequireTrustOpt = Annotated[bool, typer.Option(help=_("Fail unless --trust names the editor key."))]
ProofKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help=_(
            "The shop's minisign secret key: reuse and record remembered proofs of "
            "sealed archives (README, Remembered proofs). Without it, every archive "
            "is proven in full."
        ),
    ),
]
PassphraseEnvOpt = Annotated[
    str, typer.Option(help=_("Environment variable holding the key's passphrase."))
]


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    @app.command(help=_("Prove a dossier's fiscal integrity in place, read-only."))
    @guarded
    def check(
        dossier: DossierArg,
        trust: TrustOpt = None,
        as_of: AsOfOpt = None,
        years: YearsOpt = 6,
        require_trust: RequireTrustOpt = False,
        profile: ProfileOpt = None,
        state: StateOpt = None,
        max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
        key: ProofKeyOpt = None,
        passphrase_env: PassphraseEnvOpt = "FISCALSAFE_PASSPHRASE",
        json_out: JsonOpt = False,
        report_file: ReportOpt = None,
        lang: LangOpt = None,
    ) -> int:
        """Prove a dossier's fiscal integrity in place, read-only."""
        from fiscalsafe.pipeline.check import start_check

        report_lang = report_cmd.report_language(report_file, lang, dossier)
        if years < 1:
            raise UsageError(_("--years must be at least 1"))
        from fiscalsafe.cli.trust import editor_trust

        trusted = editor_trust(trust)
        for key_path in trusted:
            if dossier.resolve() in key_path.resolve().parents:
                raise UsageError(
                    _(
                        "{path} lies inside the dossier being checked: it cannot vouch for it "
                        "(leave out --trust to check against the dossier's own key, reported "
                        "as such)",
                        path=key_path,
                    )
                )
        store = state_store(state)
        seed = None
        if key is not None:
            from fiscalsafe.cli.passphrase import open_secret_key

            seed = open_secret_key(key, passphrase_env).seed
        now = now_utc()
        with start_check(
            dossier,
            as_of=parse_as_of(as_of, now),
            years=years,
            trust=trusted,
            require_trust=require_trust,
            profile=load_profile(profile),
            max_idle_days=check_max_idle(max_idle_days),
            state=store,
            proof_seed=seed,
        ) as pending:
            report = pending.result()
            pending.remember_proofs()
        store.advance(report, "check", now)
        if report_file is not None:
            pages = report_cmd.write_check_report(
                report_file,
                report,
                dossier=dossier,
                lang=report_lang,
                now=now,
                editors=trusted,
                trust_paths=trust,
            )
        if json_out:
            print_json({**report.to_json(), "archive_proofs": report.archive_proofs})
        else:
            render_check(report, ANCHOR_AS_OF if as_of else ANCHOR_TODAY)
            console.print("  " + proofs_sentence(report.archive_proofs))
            if report_file is not None:
                written = ", ".join(str(p) for p in pages)
                console.print(_("report written: {files}", files=written))
        return exitcodes.OK if report.ok else exitcodes.FINDINGS


def verdict_line(report) -> str:
    counts = report.counts()
    title = _(VERDICTS.get(report.verdict, VERDICTS["findings"]))
    if report.verdict == "proven":
        text = _("dossier {dossier}: fiscal integrity verified", dossier=report.dossier)
        return f"[bold green]{title}[/] {text}"
    if report.verdict == "consistent":
        text = _(
            "dossier {dossier}: no error, but checked against the dossier's own editor key; "
            "pass --trust",
            dossier=report.dossier,
        )
        return f"[bold yellow]{title}[/] {text}"
    text = _(
        "dossier {dossier}: {errors}, {warnings}",
        dossier=report.dossier,
        errors=n_("{n} error", "{n} errors", counts["error"]),
        warnings=n_("{n} warning", "{n} warnings", counts["warning"]),
    )
    return f"[bold red]{title}[/] {text}"


def stats_line(stats: dict) -> str:
    number = localformat.count
    return _(
        "{archives} archives, {tickets} tickets, {records} journal records, "
        "{signatures} signatures verified",
        archives=number(stats.get("archives", 0)),
        tickets=number(stats.get("tickets", 0)),
        records=number(stats.get("journal_records", 0)),
        signatures=number(stats.get("signatures_verified", 0)),
    )


def render_check(report, anchor: str = ANCHOR_TODAY) -> None:
    cov = report.coverage
    console.print(verdict_line(report), markup=True)
    console.print("  " + stats_line(report.stats))
    if report.trust["self_asserted"]:
        fps = ", ".join(report.trust["fingerprints"]) or _("none")
        console.print(
            "  "
            + _(
                "trust: self-asserted (dossier's own key {fingerprints}); pass --trust to "
                "prove origin",
                fingerprints=fps,
            )
        )
    else:
        fps = ", ".join(report.trust["fingerprints"])
        console.print("  " + _("trust: {fingerprints}", fingerprints=fps))
    if cov is not None:
        console.print("  " + _("coverage: {sentence}", sentence=coverage_sentence(cov, anchor)))
    if report.findings:
        print_findings(report.findings)
