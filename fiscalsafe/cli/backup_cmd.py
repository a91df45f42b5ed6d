"""``fiscalsafe backup`` and ``fiscalsafe list``: rendering only; the work is in pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.backup_text import left_out_sentence, what_is_safe
from fiscalsafe.cli.coverage_text import ANCHOR_TODAY, coverage_sentence
from fiscalsafe.cli.failure import Explained, failure_message
from fiscalsafe.cli.options import (
    MaxIdleOpt,
    StateOpt,
    check_max_idle,
    parse_size,
    state_store,
)
from fiscalsafe.cli.passphrase import open_secret_key
from fiscalsafe.cli.progress import live_progress
from fiscalsafe.cli.render import (
    console,
    err_console,
    print_findings,
    print_json,
)
from fiscalsafe.cli.trust import editor_trust
from fiscalsafe.errors import FiscalsafeError, UsageError
from fiscalsafe.pipeline.destination import prepare_destination
from fiscalsafe.pipeline.leftovers import remove_leftovers
from fiscalsafe.units import human_size
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS


def find_dossiers(root: Path, identity_name: str) -> list[Path]:
    """``--all``: every folder below ``root`` (depth 1 or 2) holding a dossier identity."""
    found = sorted(p.parent for p in root.glob(f"*/{identity_name}"))
    if not found:
        found = sorted(p.parent for p in root.glob(f"*/*/{identity_name}"))
    return found


def register(app: typer.Typer, guarded, load_profile, now_utc, read_passphrase) -> None:
    @app.command()
    @guarded
    def backup(
        source: Annotated[
            Path, typer.Argument(help="A dossier, or with --all a folder of dossiers.")
        ],
        to: Annotated[Path, typer.Option("--to", help="Destination folder (USB stick, disk).")],
        key: Annotated[Path, typer.Option("--key", help="The shop's minisign secret key.")],
        trust: Annotated[
            list[Path] | None, typer.Option("--trust", help="Editor public key (PEM).")
        ] = None,
        kind: Annotated[str, typer.Option(help="full | no-index | photos")] = "full",
        all_dossiers: Annotated[
            bool, typer.Option("--all", help="Back up every dossier under SOURCE.")
        ] = False,
        name: Annotated[str | None, typer.Option(help="Base name of the backup file.")] = None,
        rotate: Annotated[
            str | None, typer.Option(help="'weekday': name the backup after the weekday.")
        ] = None,
        keep: Annotated[
            int | None, typer.Option(help="Keep the N newest backups per dossier and kind.")
        ] = None,
        allow_findings: Annotated[
            bool, typer.Option(help="Back up despite fiscal findings (recorded).")
        ] = False,
        force: Annotated[
            bool, typer.Option(help="Back up although the application is open (recorded).")
        ] = False,
        level: Annotated[
            int, typer.Option(help="zstd compression level (1-22; 3 is the default, see README).")
        ] = 3,
        split: Annotated[
            str | None, typer.Option(help="Write parts of at most SIZE (e.g. 4000MB).")
        ] = None,
        years: Annotated[int, typer.Option(help="Years the fiscal check requires.")] = 6,
        require_trust: Annotated[
            bool, typer.Option(help="Refuse unless --trust is given.")
        ] = False,
        passphrase_env: Annotated[
            str, typer.Option(help="Environment variable holding the key's passphrase.")
        ] = "FISCALSAFE_PASSPHRASE",
        profile: Annotated[Path | None, typer.Option(help="Dossier profile (JSON).")] = None,
        state: StateOpt = None,
        max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> int:
        """Check, then back up a dossier into one signed, verified archive."""
        from fiscalsafe.pipeline.backup import BackupOptions, FindingsRefusal, backup_dossier

        if not 1 <= level <= 22:
            raise UsageError("--level must be between 1 and 22")
        if keep is not None and keep < 1:
            raise UsageError("--keep must be at least 1")
        prof = load_profile(profile)
        secret = _open_key(key, passphrase_env, json_out)
        opts = BackupOptions(
            kind=kind,
            name=name,
            rotate=rotate,
            keep=keep,
            allow_findings=allow_findings,
            force=force,
            level=level,
            split_size=parse_size(split) if split else None,
            years=years,
            trust=editor_trust(trust),
            require_trust=require_trust,
            max_idle_days=check_max_idle(max_idle_days),
            state=state_store(state),
        )
        dossiers = find_dossiers(source, prof.identity) if all_dossiers else [source]
        if all_dossiers and not dossiers:
            raise UsageError(f"no dossier found under {source}")
        names = [d.name.lower() for d in dossiers]
        if len(set(names)) != len(names):
            raise UsageError("two dossiers differ only by case: their backups would collide")
        if prepare_destination(to) and not json_out:
            err_console.print(f"created the backup folder {to}", markup=False)
        now = now_utc()
        if all_dossiers:
            _refuse_colliding_names(dossiers, prof, opts, name, now)
        results, failures = [], []
        for dossier in dossiers:
            if all_dossiers and name:
                opts.name = f"{name}_{dossier.name}"
            try:
                result = _run_one(dossier, to, secret, now, prof, opts, json_out, backup_dossier)
                results.append(result.to_json())
                if not json_out:
                    _summary(result)
            except FindingsRefusal as exc:
                message = f"{exc}; {what_is_safe(to, _planned_name(dossier, prof, opts, now))}"
                failures.append(
                    {"dossier": str(dossier), "error": message, "code": exitcodes.FINDINGS}
                )
                if not json_out:
                    err_console.print(f"[bold red]REFUSED[/] {escape(message)}", markup=True)
                    print_findings([f for f in exc.report.findings if f.severity == "error"], 5)
            except KeyboardInterrupt as exc:
                safe = what_is_safe(to, _planned_name(dossier, prof, opts, now))
                raise Explained(exc, f"{failure_message(exc)}; {safe}") from None
            except (FiscalsafeError, OSError) as exc:
                safe = what_is_safe(to, _planned_name(dossier, prof, opts, now))
                message = f"{failure_message(exc)}; {safe}"
                # One dossier on its own: the plain one-line error (exit code from the
                # table). With --json, CI still gets a document describing the failure.
                if not all_dossiers and not json_out:
                    raise Explained(exc, message) from exc
                failures.append(
                    {"dossier": str(dossier), "error": message, "code": exitcodes.for_error(exc)}
                )
                if json_out:
                    err_console.print(f"error: {message}", markup=False)
                else:
                    err_console.print(
                        f"[bold red]FAILED[/] {escape(str(dossier))}: {escape(message)}",
                        markup=True,
                    )
        code = max([f["code"] for f in failures], default=exitcodes.OK)
        if json_out:
            print_json(
                {"backups": results, "failures": failures, "exit_code": code}, "backup-result"
            )
        return code


def _planned_name(dossier, prof, opts, now) -> str | None:
    """The name this dossier's backup gets on the medium; None when it cannot be known."""
    from fiscalsafe.pipeline.backup import backup_name
    from fiscalsafe.pipeline.check import load_identity

    try:
        return backup_name(load_identity(dossier, prof), opts, now)
    except (FiscalsafeError, OSError):
        return None


def _refuse_colliding_names(dossiers, prof, opts, name, now) -> None:
    """Under --all, two dossiers must not get the same backup file name (compared as a
    case-insensitive medium would): the second would silently replace the first."""
    from fiscalsafe.pipeline.backup import backup_name
    from fiscalsafe.pipeline.check import load_identity

    planned: dict[str, Path] = {}
    for dossier in dossiers:
        try:
            identity = load_identity(dossier, prof)
        except FiscalsafeError:
            continue  # reported when that dossier's turn comes
        opts.name = f"{name}_{dossier.name}" if name else None
        key = backup_name(identity, opts, now).casefold()
        if key in planned:
            raise UsageError(
                f"{planned[key]} and {dossier} would be backed up under the same file name "
                f"(dossier id {identity.dossier_id}); back them up separately with --name"
            )
        planned[key] = dossier
    opts.name = name


def _remove_leftovers(dossier, to, prof, opts, now, json_out) -> None:
    """Partial files an interrupted backup of the same name left (a power cut)."""
    from fiscalsafe.formats.layout import EXTENSION

    name = _planned_name(dossier, prof, opts, now)
    removed = remove_leftovers(to, name + EXTENSION) if name else []
    if removed and not json_out:
        names = ", ".join(leftover.path.name for leftover in removed)
        err_console.print(
            f"removed {len(removed)} partial file(s) an interrupted backup of {name} left: {names}",
            markup=False,
        )


def _open_key(key, passphrase_env, json_out):
    """The shop key; decrypting it takes seconds (scrypt): say so, unless a prompt comes."""
    import os

    if not os.environ.get(passphrase_env):
        return open_secret_key(key, passphrase_env)
    with live_progress(json_out) as live:
        live.stage("opening the shop key")
        return open_secret_key(key, passphrase_env)


#: What each stage of a backup is, in words (``backup_dossier``'s ``on_stage``).
STAGES = {
    "packaging": "packaging {name}",
    "checking": "checking the signatures of {name}",
    "reading back": "reading {name} back",
}


def _run_one(dossier, to, secret, now, prof, opts, json_out, backup_dossier):
    _remove_leftovers(dossier, to, prof, opts, now, json_out)
    with live_progress(json_out) as live:
        live.stage(f"reading {dossier.name}, estimating its size")
        live.count_signatures()

        def tick(done: int, total: int) -> None:
            live.advance(done, total)

        def stage(what: str) -> None:
            text = STAGES.get(what, "{what} {name}").format(what=what, name=dossier.name)
            live.stage(text)

        def on_report(report) -> None:
            if not json_out and not report.ok:
                err_console.print(
                    f"[bold red]WARNING: dossier {report.dossier} has fiscal findings; backing "
                    "it up anyway (--allow-findings): the findings are recorded in the signed "
                    "manifest[/]",
                    markup=True,
                )

        return backup_dossier(
            dossier,
            to,
            secret,
            now=now,
            profile=prof,
            opts=opts,
            progress=tick,
            on_report=on_report,
            on_stage=stage,
        )


def _summary(r) -> None:
    ratio = r.payload_bytes / r.archive_bytes if r.archive_bytes else 0
    verdict = (
        "[bold green]BACKED UP[/]"
        if not r.findings_recorded
        else "[bold yellow]BACKED UP WITH FINDINGS[/]"
    )
    console.print(
        f"{verdict} dossier {r.dossier} ({r.kind}) -> {', '.join(str(p) for p in r.files)}",
        markup=True,
    )
    console.print(
        f"  {r.payload_files} files, {human_size(r.payload_bytes)} -> "
        f"{human_size(r.archive_bytes)} "
        f"(ratio {ratio:.2f}), {r.seconds:.1f} s; read back and verified"
    )
    console.print(f"  {left_out_sentence(r.left_out)}")
    if r.check_report is not None and r.check_report.coverage is not None and r.coverage:
        console.print("  coverage: " + coverage_sentence(r.check_report.coverage, ANCHOR_TODAY))
    if r.forced:
        console.print("  [yellow]made with --force while the application was open[/]", markup=True)
    for p in r.removed_by_rotation:
        console.print(
            f"  --keep: removed older {r.kind} backup of dossier {r.dossier}: {p}", markup=False
        )
