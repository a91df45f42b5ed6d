"""``fiscalsafe check``: prove a dossier in place; rendering only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS


def register(app: typer.Typer, guarded, load_profile, now_utc, read_passphrase) -> None:
    @app.command()
    @guarded
    def check(
        dossier: Annotated[Path, typer.Argument(help="The shop dossier folder.")],
        trust: TrustOpt = None,
        as_of: Annotated[
            str | None, typer.Option(help="Date the coverage ends (default: now).")
        ] = None,
        years: Annotated[int, typer.Option(help="Years that must be covered.")] = 6,
        require_trust: Annotated[
            bool, typer.Option(help="Fail unless --trust names the editor key.")
        ] = False,
        profile: ProfileOpt = None,
        state: StateOpt = None,
        max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                help="The shop's minisign secret key: reuse and record remembered proofs of "
                "sealed archives (README, Remembered proofs). Without it, every archive is "
                "proven in full.",
            ),
        ] = None,
        passphrase_env: Annotated[
            str, typer.Option(help="Environment variable holding the key's passphrase.")
        ] = "FISCALSAFE_PASSPHRASE",
        json_out: JsonOpt = False,
        report_file: ReportOpt = None,
        lang: LangOpt = None,
    ) -> int:
        """Prove a dossier's fiscal integrity in place, read-only."""
        from fiscalsafe.pipeline.check import start_check

        report_lang = report_cmd.report_language(report_file, lang, dossier)
        if years < 1:
            raise UsageError("--years must be at least 1")
        from fiscalsafe.cli.trust import editor_trust

        trusted = editor_trust(trust)
        for key_path in trusted:
            if dossier.resolve() in key_path.resolve().parents:
                raise UsageError(
                    f"{key_path} lies inside the dossier being checked: it cannot vouch for it "
                    "(leave out --trust to check against the dossier's own key, reported as such)"
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
                console.print(f"report written: {', '.join(str(p) for p in pages)}")
        return exitcodes.OK if report.ok else exitcodes.FINDINGS


def render_check(report, anchor: str = ANCHOR_TODAY) -> None:
    counts = report.counts()
    cov = report.coverage
    if report.verdict == "proven":
        console.print(
            f"[bold green]PROVEN[/] dossier {report.dossier}: fiscal integrity verified",
            markup=True,
        )
    elif report.verdict == "consistent":
        console.print(
            f"[bold yellow]CONSISTENT, ORIGIN NOT PROVEN[/] dossier {report.dossier}: no "
            "error, but checked against the dossier's own editor key; pass --trust",
            markup=True,
        )
    else:
        console.print(
            f"[bold red]NOT PROVEN[/] dossier {report.dossier}: {counts['error']} "
            f"error(s), {counts['warning']} warning(s)",
            markup=True,
        )
    stats = report.stats
    console.print(
        f"  {stats.get('archives', 0)} archives, {stats.get('tickets', 0)} tickets, "
        f"{stats.get('journal_records', 0)} journal records, "
        f"{stats.get('signatures_verified', 0)} signatures verified"
    )
    if report.trust["self_asserted"]:
        fps = ", ".join(report.trust["fingerprints"]) or "none"
        console.print(
            f"  trust: self-asserted (dossier's own key {fps}); pass --trust to prove origin"
        )
    else:
        console.print(f"  trust: {', '.join(report.trust['fingerprints'])}")
    if cov is not None:
        console.print("  coverage: " + coverage_sentence(cov, anchor))
    if report.findings:
        print_findings(report.findings)
