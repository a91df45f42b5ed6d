"""``fiscalsafe sample``: sample dossiers for tests, demos and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.options import (
    JsonOpt,
    parse_date,
    parse_size,
)
from fiscalsafe.cli.render import console, print_json
from fiscalsafe.errors import UsageError


def register(app: typer.Typer, guarded, load_profile, now_utc, read_passphrase) -> None:
    @app.command()
    @guarded
    def sample(
        directory: Annotated[Path, typer.Argument(help="New folder for the sample root.")],
        seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 1,
        years: Annotated[int, typer.Option(help="Years of fiscal history.")] = 7,
        until: Annotated[
            str | None,
            typer.Option(help="Day after the last activity (YYYY-MM-DD); default today."),
        ] = None,
        size: Annotated[
            str, typer.Option(help="Bulk database and photo bytes, all shops together.")
        ] = "8MB",
        tickets_per_day: Annotated[
            int, typer.Option(help="Average tickets a shop signs per open day.")
        ] = 20,
        open_app: Annotated[
            bool, typer.Option("--open", help="Leave lock files, as if the application ran.")
        ] = False,
        shops: Annotated[int, typer.Option(help="Number of shop dossiers (1 or 2).")] = 2,
        tamper: Annotated[
            str | None, typer.Option(help="Damage the sample in one named way (see --tamper list).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> int:
        """Write a sample root: two shop dossiers and a keys folder."""
        from fiscalsafe.samples.sample import write_sample
        from fiscalsafe.samples.tamper import TAMPERS, apply_tamper

        if tamper == "list":
            for name, (_, doc) in TAMPERS.items():
                console.print(f"{name:28} {doc}")
            return exitcodes.OK
        if tamper is not None and tamper not in TAMPERS:
            raise UsageError(f"unknown --tamper {tamper!r}; see --tamper list")
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
                f"sample written to {directory}: {len(result.dossiers)} dossiers, "
                f"{result.tickets} signed tickets, {len(result.files)} files"
            )
            for path in result.dossiers:
                console.print(f"  dossier  {path}")
            for name, path in result.keys.items():
                console.print(f"  {name:15}{path}")
            if tamper:
                console.print(f"  tampered {result.dossiers[0]}: {doc['tamper']}")
        return exitcodes.OK
