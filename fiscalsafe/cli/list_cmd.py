"""``fiscalsafe list``: what a medium holds, or one backup's contents; rendering only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.backup_text import leftover_sentences
from fiscalsafe.cli.coverage_text import claimed_coverage
from fiscalsafe.cli.render import console, print_json
from fiscalsafe.units import human_size


def register(app: typer.Typer, guarded, load_profile, now_utc, read_passphrase) -> None:
    @app.command("list")
    @guarded
    def list_cmd(
        target: Annotated[Path, typer.Argument(help="A medium/folder, or one backup archive.")],
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> int:
        """Show the backups a medium holds, or the contents of one backup."""
        from fiscalsafe.pipeline.leftovers import find_leftovers
        from fiscalsafe.pipeline.listing import list_backups

        if target.is_dir():
            entries = list_backups(target)
            if json_out:
                leftovers = [x.to_json() for x in find_leftovers(target)]
                doc = {"folder": str(target), "backups": [e.to_json() for e in entries]}
                print_json({**doc, "leftovers": leftovers}, "list")
                return exitcodes.OK
            if not entries:
                console.print(f"no fiscalsafe backup in {target}")
            for e in entries:
                parts = f", {len(e.paths)}/{e.parts_expected} parts" if e.parts_expected > 1 else ""
                console.print(
                    f"{e.dossier:10} {e.kind:9} {e.created:21} {human_size(e.size):>10}  "
                    f"{e.name}{parts}"
                )
                console.print(f"  coverage: {claimed_coverage(e.coverage, e.created)}")
            for line in leftover_sentences(target):
                console.print(line, markup=False)
            console.print(
                "(claims from the signed sidecars; run 'fiscalsafe verify' to prove them)"
            )
            return exitcodes.OK
        from fiscalsafe.pipeline.contents import list_archive

        doc = list_archive(target)
        if json_out:
            print_json(doc, "list")
        else:
            m = doc["manifest"]
            console.print(
                f"{target.name}: dossier {m['dossier']['id']} ({m['dossier']['shop']}), "
                f"{m['kind']} backup created {m['created']} by {m['tool']}"
            )
            for f in doc["files"]:
                console.print(f"  {f['category']:18} {human_size(f['size']):>10}  {f['path']}")
            for o in m["omitted"]:
                console.print(
                    f"  {'(omitted: ' + o['reason'] + ')':18} "
                    f"{human_size(o['size']):>10}  {o['path']}"
                )
            console.print(
                "(manifest not authenticated by 'list'; run 'fiscalsafe verify --key' to prove it)"
            )
        return exitcodes.OK
