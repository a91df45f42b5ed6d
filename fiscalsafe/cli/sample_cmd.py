"""``fiscalsafe sample``: sample dossiers for tests, demos and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import localformat
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.options import JsonOpt, LanguageOpt, parse_date, parse_size
from fiscalsafe.cli.render import console, print_json
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    @app.command(help=_("Write a sample root: two shop dossiers and a keys folder."))
    @guarded
    def sample(
        directory: Annotated[Path, typer.Argument(help=_("New folder for the sample root."))],
        seed: Annotated[int, typer.Option(help=_("Same seed, same bytes."))] = 1,
        years: Annotated[int, typer.Option(help=_("Years of fiscal history."))] = 7,
        until: Annotated[
            str | None,
            typer.Option(help=_("Day after the last activity (YYYY-MM-DD); default today.")),
        ] = None,
        size: Annotated[
            str, typer.Option(help=_("Bulk database and photo bytes, all shops together."))
        ] = "8MB",
        tickets_per_day: Annotated[
            int, typer.Option(help=_("Average tickets a shop signs per open day."))
        ] = 20,
        open_app: Annotated[
            bool, typer.Option("--open", help=_("Leave lock files, as if the application ran."))
        ] = False,
        shops: Annotated[int, typer.Option(help=_("Number of shop dossiers (1 or 2)."))] = 2,
        tamper: Annotated[
            str | None,
            typer.Option(help=_("Damage the sample in one named way (see --tamper list).")),
        ] = None,
        json_out: JsonOpt = False,
        lang: LanguageOpt = None,
    ) -> int:
        """Write a sample root: two shop dossiers and a keys folder."""
        from fiscalsafe.samples.sample import write_sample
        from fiscalsafe.samples.tamper import TAMPERS, apply_tamper

        if tamper == "list":
            for name, (_unused, doc) in TAMPERS.items():
                console.print(f"{name:28} {_(doc)}")
            return exitcodes.OK
        if tamper is not None and tamper not in TAMPERS:
            raise UsageError(_("unknown --tamper {name}; see --tamper list", name=repr(tamper)))
        result = write_sample(
            directory,
            seed=seed,
            years=years,
            until=parse_date(until, now_utc().date(), "--until"),
            size=parse_size(size),
            tickets_per_day=tickets_per_day,
            open_app=open_app,
            shops=shops,
        )
        doc = result.to_json()
        if tamper is not None:
            doc["tamper"] = apply_tamper(tamper, result.dossiers[0], result.keys)
        if json_out:
            print_json(doc, "sample-output")
        else:
            console.print(
                _(
                    "sample written to {folder}: {dossiers} dossiers, {tickets} signed tickets, "
                    "{files} files",
                    folder=directory,
                    dossiers=len(result.dossiers),
                    tickets=localformat.count(result.tickets),
                    files=localformat.count(len(result.files)),
                )
            )
            for path in result.dossiers:
                console.print("  " + _("dossier  {path}", path=path))
            for name, path in result.keys.items():
                console.print(f"  {name:15}{path}")
            if tamper:
                console.print(
                    "  " + _("tampered {path}: {what}", path=result.dossiers[0], what=doc["tamper"])
                )
        return exitcodes.OK
