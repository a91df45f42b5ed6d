"""``fiscalsafe backup`` and ``fiscalsafe list``: rendering only; the work is in pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fiscalsafe import localformat
from fiscalsafe.cli import exitcodes, localtext
from fiscalsafe.cli.backup_text import left_out_sentence, what_is_safe
from fiscalsafe.cli.coverage_text import ANCHOR_TODAY, coverage_sentence
from fiscalsafe.cli.failure import Explained, failure_message
from fiscalsafe.cli.options import (
    EditorKeyOpt,
    JsonOutputOpt,
    LanguageOpt,
    MaxIdleOpt,
    ProfileFileOpt,
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
    proofs_sentence,
    segments_sentence,
)
from fiscalsafe.cli.trust import editor_trust
from fiscalsafe.errors import FiscalsafeError, UsageError
from fiscalsafe.i18n import N_, _, n_
from fiscalsafe.pipeline.destination import prepare_destination
from fiscalsafe.pipeline.leftovers import remove_leftovers
from fiscalsafe.report.texts import KINDS
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS


def find_dossiers(root: Path, identity_name: str) -> list[Path]:
    """``--all``: every folder below ``root`` (depth 1 or 2) holding a dossier identity."""
    found = sorted(p.parent for p in root.glob(f"*/{identity_name}"))
    if not found:
        found = sorted(p.parent for p in root.glob(f"*/*/{identity_name}"))
    return found


SourceArg = Annotated[
    Path, typer.Argument(help=_("A dossier, or with --all a folder of dossiers."))
]
ToOpt = Annotated[Path, typer.Option("--to", help=_("Destination folder (USB stick, disk)."))]
SecretKeyOpt = Annotated[Path, typer.Option("--key", help=_("The shop's minisign secret key."))]
KindOpt = Annotated[str, typer.Option(help=_("full | no-index | photos"))]
AllOpt = Annotated[bool, typer.Option("--all", help=_("Back up every dossier under SOURCE."))]
NameOpt = Annotated[str | None, typer.Option(help=_("Base name of the backup file."))]
RotateOpt = Annotated[
    str | None, typer.Option(help=_("'weekday': name the backup after the weekday."))
]
KeepOpt = Annotated[int | None, typer.Option(help=_("Keep the N newest backups per dossier."))]
AllowFindingsOpt = Annotated[
    bool, typer.Option(help=_("Back up despite fiscal findings (recorded)."))
]
ForceOpt = Annotated[
    bool, typer.Option(help=_("Back up although the application is open (recorded)."))
]
LevelOpt = Annotated[
    int, typer.Option(help=_("zstd compression level (1-22; 3 is the default, see README)."))
]
SplitOpt = Annotated[str | None, typer.Option(help=_("Write parts of at most SIZE (e.g. 4000MB)."))]
YearsOpt = Annotated[int, typer.Option(help=_("Years the fiscal check requires."))]
RequireTrustOpt = Annotated[bool, typer.Option(help=_("Refuse unless --trust is given."))]
PassphraseEnvOpt = Annotated[
    str, typer.Option(help=_("Environment variable holding the key's passphrase."))
]


@dataclass(frozen=True)
class BackupRequest:
    """The ``backup`` command line, as given."""

    source: Path
    to: Path
    key: Path
    trust: list[Path] | None
    kind: str
    all_dossiers: bool
    name: str | None
    rotate: str | None
    keep: int | None
    allow_findings: bool
    force: bool
    level: int
    split: str | None
    years: int
    require_trust: bool
    passphrase_env: str
    profile: Path | None
    state: Path | None
    max_idle_days: int
    json_out: bool


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    @app.command(help=_("Check, then back up a dossier into one signed, verified archive."))
    @guarded
    def backup(
        source: SourceArg,
        to: ToOpt,
        key: SecretKeyOpt,
        trust: EditorKeyOpt = None,
        kind: KindOpt = "full",
        all_dossiers: AllOpt = False,
        name: NameOpt = None,
        rotate: RotateOpt = None,
        keep: KeepOpt = None,
        allow_findings: AllowFindingsOpt = False,
        force: ForceOpt = False,
        level: LevelOpt = 3,
        split: SplitOpt = None,
        years: YearsOpt = 6,
        require_trust: RequireTrustOpt = False,
        passphrase_env: PassphraseEnvOpt = "FISCALSAFE_PASSPHRASE",
        profile: ProfileFileOpt = None,
        state: StateOpt = None,
        max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
        json_out: JsonOutputOpt = False,
        lang: LanguageOpt = None,
    ) -> int:
        """Check, then back up a dossier into one signed, verified archive."""
        request = BackupRequest(
            source=source,
            to=to,
            key=key,
            trust=trust,
            kind=kind,
            all_dossiers=all_dossiers,
            name=name,
            rotate=rotate,
            keep=keep,
            allow_findings=allow_findings,
            force=force,
            level=level,
            split=split,
            years=years,
            require_trust=require_trust,
            passphrase_env=passphrase_env,
            profile=profile,
            state=state,
            max_idle_days=max_idle_days,
            json_out=json_out,
        )
        return run_backup(request, load_profile, now_utc)


def run_backup(req: BackupRequest, load_profile, now_utc) -> int:
    if not 1 <= req.level <= 22:
        raise UsageError(_("--level must be between 1 and 22"))
    if req.keep is not None and req.keep < 1:
        raise UsageError(_("--keep must be at least 1"))
    prof = load_profile(req.profile)
    secret = _open_key(req.key, req.passphrase_env, req.json_out)
    opts = backup_options(req)
    dossiers = find_dossiers(req.source, prof.identity) if req.all_dossiers else [req.source]
    if req.all_dossiers and not dossiers:
        raise UsageError(_("no dossier found under {folder}", folder=req.source))
    names = [d.name.lower() for d in dossiers]
    if len(set(names)) != len(names):
        raise UsageError(_("two dossiers differ only by case: their backups would collide"))
    if prepare_destination(req.to) and not req.json_out:
        err_console.print(_("created the backup folder {folder}", folder=req.to), markup=False)
    now = now_utc()
    if req.all_dossiers:
        _refuse_colliding_names(dossiers, prof, opts, req.name, now)
    results, failures = [], []
    for dossier in dossiers:
        if req.all_dossiers and req.name:
            opts.name = f"{req.name}_{dossier.name}"
        doc, failed = _back_up_one(req, dossier, secret, now, prof, opts)
        (failures if failed else results).append(doc)
    code = max([f["code"] for f in failures], default=exitcodes.OK)
    if req.json_out:
        print_json({"backups": results, "failures": failures, "exit_code": code}, "backup-result")
    return code


def backup_options(req: BackupRequest):
    from fiscalsafe.pipeline.backup import BackupOptions

    return BackupOptions(
        kind=req.kind,
        name=req.name,
        rotate=req.rotate,
        keep=req.keep,
        allow_findings=req.allow_findings,
        force=req.force,
        level=req.level,
        split_size=parse_size(req.split) if req.split else None,
        years=req.years,
        trust=editor_trust(req.trust),
        require_trust=req.require_trust,
        max_idle_days=check_max_idle(req.max_idle_days),
        state=state_store(req.state),
    )


def _back_up_one(req: BackupRequest, dossier: Path, secret, now, prof, opts) -> tuple[dict, bool]:
    """One dossier's backup document, or (``True``) its failure, with ``error`` and ``code``;
    every failure also says what is safe on the medium."""
    from fiscalsafe.pipeline.backup import FindingsRefusal, ProofsNotRecorded, backup_dossier

    json_out = req.json_out
    try:
        result = _run_one(dossier, req.to, secret, now, prof, opts, json_out, backup_dossier)
        doc = result.to_json()
        if not json_out:
            _summary(result)
        return doc, False
    except FindingsRefusal as exc:
        safe = what_is_safe(req.to, _planned_name(dossier, prof, opts, now))
        message = _("{problem}; {safe}", problem=exc, safe=safe)
        if not json_out:
            title = _("REFUSED")
            err_console.print(f"[bold red]{title}[/] {escape(message)}", markup=True)
            print_findings([f for f in exc.report.findings if f.severity == "error"], 5)
        return {"dossier": str(dossier), "error": message, "code": exitcodes.FINDINGS}, True
    except KeyboardInterrupt as exc:
        safe = what_is_safe(req.to, _planned_name(dossier, prof, opts, now))
        message = _("{problem}; {safe}", problem=failure_message(exc), safe=safe)
        raise Explained(exc, message) from None
    except (FiscalsafeError, OSError) as exc:
        if isinstance(exc, ProofsNotRecorded):  # the backup is in place: it says so itself
            message = failure_message(exc)
        else:
            safe = what_is_safe(req.to, _planned_name(dossier, prof, opts, now))
            message = _("{problem}; {safe}", problem=failure_message(exc), safe=safe)
        # One dossier on its own: the plain one-line error (exit code from the
        # table). With --json, CI still gets a document describing the failure.
        if not req.all_dossiers and not json_out:
            raise Explained(exc, message) from exc
        if json_out:
            err_console.print(f"{_('error:')} {message}", markup=False)
        else:
            title = _("FAILED")
            err_console.print(
                f"[bold red]{title}[/] {escape(str(dossier))}: {escape(message)}", markup=True
            )
        return {"dossier": str(dossier), "error": message, "code": exitcodes.for_error(exc)}, True


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
                _(
                    "{first} and {second} would be backed up under the same file name "
                    "(dossier id {dossier_id}); back them up separately with --name",
                    first=planned[key],
                    second=dossier,
                    dossier_id=identity.dossier_id,
                )
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
            _(
                "removed {n} partial file(s) an interrupted backup of {name} left: {files}",
                n=len(removed),
                name=name,
                files=names,
            ),
            markup=False,
        )


def _open_key(key, passphrase_env, json_out):
    """The shop key; decrypting it takes seconds (scrypt): say so, unless a prompt comes."""
    import os

    if not os.environ.get(passphrase_env):
        return open_secret_key(key, passphrase_env)
    with live_progress(json_out) as live:
        live.stage(_("opening the shop key"))
        return open_secret_key(key, passphrase_env)


#: What each stage of a backup is, in words (``backup_dossier``'s ``on_stage``).
STAGES = {
    "packaging": N_("packaging {name}"),
    "checking": N_("checking the signatures of {name}"),
    "reading back": N_("reading {name} back"),
}


def _run_one(dossier, to, secret, now, prof, opts, json_out, backup_dossier):
    _remove_leftovers(dossier, to, prof, opts, now, json_out)
    with live_progress(json_out) as live:
        live.stage(_("reading {name}, estimating its size", name=dossier.name))
        live.count_signatures()

        def tick(done: int, total: int) -> None:
            live.advance(done, total)

        def stage(what: str) -> None:
            if what in STAGES:
                live.stage(_(STAGES[what], name=dossier.name))
            else:
                live.stage(f"{what} {dossier.name}")

        def on_report(report) -> None:
            if not json_out and not report.ok:
                warning = _(
                    "WARNING: dossier {dossier} has fiscal findings; backing it up anyway "
                    "(--allow-findings): the findings are recorded in the signed manifest",
                    dossier=report.dossier,
                )
                err_console.print(f"[bold red]{escape(warning)}[/]", markup=True)

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
    if r.findings_recorded:
        verdict = "[bold yellow]" + _("BACKED UP WITH FINDINGS") + "[/]"
    else:
        verdict = "[bold green]" + _("BACKED UP") + "[/]"
    files = ", ".join(str(p) for p in r.files)
    kind = _(KINDS[r.kind]) if r.kind in KINDS and not localtext.english() else r.kind
    text = _("dossier {dossier} ({kind}) -> {files}", dossier=r.dossier, kind=kind, files=files)
    console.print(f"{verdict} {escape(text)}", markup=True)
    console.print(
        "  "
        + _(
            "{files}, {payload} -> {archive} (ratio {ratio}), {seconds} s; read back and verified",
            files=n_(
                "{count} file",
                "{count} files",
                r.payload_files,
                count=localformat.count(r.payload_files),
            ),
            payload=localtext.size(r.payload_bytes),
            archive=localtext.size(r.archive_bytes),
            ratio=localtext.decimal(ratio, 2),
            seconds=localtext.decimal(r.seconds, 1),
        )
    )
    console.print(f"  {left_out_sentence(r.left_out)}")
    if not r.read_from_medium:
        caution = _(
            "the read-back could not bypass this system's file cache: it may have read "
            "memory, not the medium; unplug and replug it, then run fiscalsafe verify on it"
        )
        console.print(f"  [yellow]{escape(caution)}[/]", markup=True)
    if r.check_report is not None and r.check_report.coverage is not None and r.coverage:
        sentence = coverage_sentence(r.check_report.coverage, ANCHOR_TODAY)
        console.print("  " + _("coverage: {sentence}", sentence=sentence))
    if r.archive_proofs:
        console.print("  " + proofs_sentence(r.archive_proofs))
    if sum(r.segments.values()):
        console.print("  " + segments_sentence(r.segments))
    if r.forced:
        forced = _("made with --force while the application was open")
        console.print(f"  [yellow]{escape(forced)}[/]", markup=True)
    for p in r.removed_by_rotation:
        console.print(
            "  "
            + _(
                "--keep: removed older {kind} backup of dossier {dossier}: {path}",
                kind=kind,
                dossier=r.dossier,
                path=p,
            ),
            markup=False,
        )
