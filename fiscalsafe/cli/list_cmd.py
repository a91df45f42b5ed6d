"""``fiscalsafe list``: what a medium holds, or one backup's contents; rendering only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe.cli import exitcodes, localtext
from fiscalsafe.cli.backup_text import leftover_sentences
from fiscalsafe.cli.coverage_text import claimed_coverage
from fiscalsafe.cli.options import LanguageOpt
from fiscalsafe.cli.render import console, print_json
from fiscalsafe.i18n import _


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    @app.command("list", help=_("Show the backups a medium holds, or the contents of one backup."))
    @guarded
    def list_cmd(
        target: Annotated[Path, typer.Argument(help=_("A medium/folder, or one backup archive."))],
        json_out: Annotated[
            bool, typer.Option("--json", help=_("Machine-readable output."))
        ] = False,
        lang: LanguageOpt = None,
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
                console.print(_("no fiscalsafe backup in {folder}", folder=target))
            for e in entries:
                parts = ""
                if e.parts_expected > 1:
                    parts = _(
                        ", {found}/{expected} parts",
                        found=len(e.paths),
                        expected=e.parts_expected,
                    )
                created = localtext.when(e.created)
                size = localtext.size(e.size)
                console.print(f"{e.dossier:10} {e.kind:9} {created:21} {size:>10}  {e.name}{parts}")
                sentence = claimed_coverage(e.coverage, e.created)
                console.print("  " + _("coverage: {sentence}", sentence=sentence))
            for line in leftover_sentences(target):
                console.print(line, markup=False)
            console.print(
                _("(claims from the signed sidecars; run 'fiscalsafe verify' to prove them)")
            )
            return exitcodes.OK
        from fiscalsafe.pipeline.contents import list_archive

        doc = list_archive(target)
        if json_out:
            print_json(doc, "list")
        else:
            m = doc["manifest"]
            tz = m["dossier"].get("tz")
            console.print(
                _(
                    "{name}: dossier {dossier} ({shop}), {kind} backup created {created} by {tool}",
                    name=target.name,
                    dossier=m["dossier"]["id"],
                    shop=m["dossier"]["shop"],
                    kind=m["kind"],
                    created=localtext.when(m["created"], tz if isinstance(tz, str) else None),
                    tool=m["tool"],
                )
            )
            for f in doc["files"]:
                size = localtext.size(f["size"])
                console.print(f"  {f['category']:18} {size:>10}  {f['path']}")
            for o in m["omitted"]:
                omitted = _("(omitted: {reason})", reason=o["reason"])
                console.print(f"  {omitted:18} {localtext.size(o['size']):>10}  {o['path']}")
            console.print(
                _(
                    "(manifest not authenticated by 'list'; run 'fiscalsafe verify --key' to "
                    "prove it)"
                )
            )
        return exitcodes.OK
