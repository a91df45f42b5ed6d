"""``fiscalsafe verify`` and ``fiscalsafe restore``: rendering only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import fsio, oscompat
from fiscalsafe.cli import exitcodes, report_cmd
from fiscalsafe.cli.backup_text import leftover_sentences
from fiscalsafe.cli.coverage_text import ANCHOR_AS_OF, ANCHOR_BACKUP
from fiscalsafe.cli.options import (
    EditorKeyOpt,
    JsonOutputOpt,
    LanguageOpt,
    MaxIdleOpt,
    ProfileFileOpt,
    StateOpt,
    check_max_idle,
    parse_as_of,
    state_store,
)
from fiscalsafe.cli.passphrase import open_secret_key
from fiscalsafe.cli.progress import live_progress
from fiscalsafe.cli.render import console, err_console, print_json
from fiscalsafe.cli.report_cmd import AuditorOpt, LangOpt, ReportOpt
from fiscalsafe.cli.trust import ShopKey, editor_trust, load_shop_keys, trust_dir
from fiscalsafe.cli.verify_render import render_restore, render_verify
from fiscalsafe.cli.verify_text import existing_entries
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.report import combine_verdicts


def pick_key(keys: list[ShopKey], files: list[Path]) -> ShopKey | None:
    """The trusted key whose id signed the first sidecar; else the first trusted key (which
    then fails, naming both keys). Never a key found inside the backup."""
    from fiscalsafe import minisign

    if not keys:
        return None
    side = Path(str(files[0]) + ".minisig")
    try:
        data = fsio.read_regular(side, minisign.MAX_FILE_BYTES, "sidecar") or b""
        sig = minisign.parse_signature(data)
        for key in keys:
            if key.key_id == sig.key_id:
                return key
    except Exception:  # noqa: BLE001 - a missing or bad sidecar is reported by verify
        pass
    return keys[0]


def verify_args(keys: list[ShopKey], files: list[Path]) -> dict:
    chosen = pick_key(keys, files)
    return {
        "shop_key": chosen.key if chosen else None,
        "key_dossiers": chosen.dossiers if chosen else None,
    }


def looks_like_bag(folder: Path) -> bool:
    """A folder is validated as a bag when it has a declaration, or the rest of one (a
    payload folder and tag files): a missing bagit.txt is then a finding, not a usage error."""
    if (folder / "bagit.txt").exists():
        return True
    tags = any(folder.glob("manifest-*.txt")) or (folder / "bag-info.txt").exists()
    return tags and (folder / "data").is_dir()


#: What makes a folder an extracted fiscalsafe backup rather than a plain bag.
EXTRACTED_MANIFEST = "fiscalsafe/manifest.json"


def is_extracted_backup(folder: Path) -> bool:
    return (folder / EXTRACTED_MANIFEST).is_file()


def find_backups(folder: Path) -> list[list[Path]]:
    """Every backup on a medium: single archives and split sets, sidecar or not."""
    from fiscalsafe.pipeline.verify_backup import discover

    candidates = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and (
            p.name.endswith((".tar.zst", ".tar"))
            or p.name[-4:-3] == "."
            and p.suffix[1:].isdigit()
            and ".tar" in p.name
        )
    )
    return discover(candidates) if candidates else []


TargetsArg = Annotated[
    list[Path], typer.Argument(help=_("Backups, split parts, a medium folder, or a bag."))
]
ShopKeysOpt = Annotated[
    list[Path] | None, typer.Option("--key", help=_("Shop public key (minisign .pub)."))
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(help=_("Coverage end (default: the backup's signed creation time).")),
]
YearsOpt = Annotated[int, typer.Option(help=_("Years that must be covered."))]
RequireTrustOpt = Annotated[bool, typer.Option(help=_("Fail unless the editor key is passed in."))]
EvidenceOpt = Annotated[Path | None, typer.Option(help=_("Write a JSON evidence record here."))]
AuditorKeyOpt = Annotated[
    Path | None, typer.Option(help=_("Sign the evidence with this minisign secret key."))
]
AuditorPassphraseOpt = Annotated[
    str, typer.Option(help=_("Environment variable with the auditor key's passphrase."))
]
SinceOpt = Annotated[
    Path | None,
    typer.Option(
        help=_(
            "An earlier evidence record: each dossier's newest backup must extend "
            "the history it proved."
        )
    ),
]
ArchiveArg = Annotated[Path, typer.Argument(help=_("The backup (or one part of a split set)."))]
DestArg = Annotated[Path, typer.Argument(help=_("Empty or new folder to restore into."))]
RestoreForceOpt = Annotated[
    bool, typer.Option(help=_("Restore into a non-empty folder, replacing entries."))
]


@dataclass(frozen=True)
class CommandEnv:
    """What the commands take from the application: the profile loader and the clock."""

    load_profile: Callable
    now_utc: Callable


@dataclass(frozen=True)
class VerifyRequest:
    """The ``verify`` command line, as given."""

    targets: list[Path]
    key: list[Path] | None
    trust: list[Path] | None
    as_of: str | None
    years: int
    require_trust: bool
    evidence: Path | None
    auditor_key: Path | None
    passphrase_env: str
    profile: Path | None
    since: Path | None
    state: Path | None
    max_idle_days: int
    json_out: bool
    report: Path | None = None
    lang: str | None = None
    auditor_name: str | None = None


def register(app: typer.Typer, guarded, load_profile, now_utc) -> None:
    env = CommandEnv(load_profile, now_utc)

    @app.command(help=_("Prove backups (or any BagIt bag) without restoring them."))
    @guarded
    def verify(
        targets: TargetsArg,
        key: ShopKeysOpt = None,
        trust: EditorKeyOpt = None,
        as_of: AsOfOpt = None,
        years: YearsOpt = 6,
        require_trust: RequireTrustOpt = False,
        evidence: EvidenceOpt = None,
        auditor_key: AuditorKeyOpt = None,
        passphrase_env: AuditorPassphraseOpt = "FISCALSAFE_PASSPHRASE",
        profile: ProfileFileOpt = None,
        since: SinceOpt = None,
        state: StateOpt = None,
        max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
        json_out: JsonOutputOpt = False,
        report: ReportOpt = None,
        lang: LangOpt = None,
        auditor_name: AuditorOpt = None,
    ) -> int:
        """Prove backups (or any BagIt bag) without restoring them."""
        request = VerifyRequest(
            targets=targets,
            key=key,
            trust=trust,
            as_of=as_of,
            years=years,
            require_trust=require_trust,
            evidence=evidence,
            auditor_key=auditor_key,
            passphrase_env=passphrase_env,
            profile=profile,
            since=since,
            state=state,
            max_idle_days=max_idle_days,
            json_out=json_out,
            report=report,
            lang=lang,
            auditor_name=auditor_name,
        )
        return run_verify(request, env)

    @app.command(
        help=_("Verify a backup while extracting it; publish the files only if all is proven.")
    )
    @guarded
    def restore(
        archive: ArchiveArg,
        dest: DestArg,
        key: ShopKeysOpt = None,
        trust: EditorKeyOpt = None,
        force: RestoreForceOpt = False,
        years: YearsOpt = 6,
        profile: ProfileFileOpt = None,
        json_out: JsonOutputOpt = False,
        lang: LanguageOpt = None,
    ) -> int:
        """Verify a backup while extracting it; publish the files only if all is proven."""
        return run_restore(archive, dest, key, trust, force, years, profile, json_out, env)


def run_verify(req: VerifyRequest, env: CommandEnv) -> int:
    from fiscalsafe.pipeline.evidence import build_evidence, write_evidence
    from fiscalsafe.pipeline.lineage import check_lineage, load_since

    report_lang = report_cmd.report_language(req.report, req.lang)
    prof = env.load_profile(req.profile)
    check_max_idle(req.max_idle_days)
    store = state_store(req.state)
    anchors = load_since(req.since) if req.since is not None else None
    shop_keys = load_shop_keys(req.key)
    editors = editor_trust(req.trust)
    now = env.now_utc()
    as_of_time = parse_as_of(req.as_of, now) if req.as_of else None
    auditor = open_secret_key(req.auditor_key, req.passphrase_env) if req.auditor_key else None
    items = verify_items(req.targets, bool(req.key), req.json_out)
    refuse_without_shop_key(items, shop_keys)
    how = {
        "trust": editors,
        "as_of": as_of_time,
        "years": req.years,
        "require_trust": req.require_trust,
        "profile": prof,
        "now": now,
        "max_idle_days": req.max_idle_days,
    }
    from fiscalsafe.pipeline.fiscal import prove_each_archive_once

    # Identical archive bytes in several backups of the medium are proven once, in memory;
    # remembered proofs are never read here.
    reports = []
    with prove_each_archive_once():
        for kind, files in items:
            with live_progress(req.json_out) as live:
                reports.append(verify_item(kind, files, shop_keys, how, live))
            # What one backup's pass freed is not kept while the next one runs.
            oscompat.release_free_memory()
    check_lineage(
        reports,
        state=store,
        since=anchors,
        now=now,
        journal_file=f"data/{prof.journal}",
    )
    if not req.json_out:
        for r in reports:
            anchor = ANCHOR_AS_OF if req.as_of else ANCHOR_BACKUP
            render_verify(r, detailed=len(items) == 1, anchor=anchor)
    written: list[Path] = []
    if req.evidence is not None:
        doc = build_evidence(reports, now=now, auditor=auditor)
        written = write_evidence(req.evidence, doc, auditor)
    pages: list[Path] = []
    if req.report is not None:
        pages = report_cmd.write_verify_report(
            req.report,
            build_evidence(reports, now=now, auditor=auditor),
            lang=report_lang,
            now=now,
            auditor_name=req.auditor_name,
            auditor=auditor,
            targets=req.targets,
            shop_keys=shop_keys,
            key_paths=req.key,
            editors=editors,
            trust_paths=req.trust,
            evidence=req.evidence,
        )
    print_outcome(reports, req.json_out, written, pages)
    return exitcodes.OK if all(r.ok for r in reports) else exitcodes.FINDINGS


def print_outcome(reports: list, json_out: bool, written: list[Path], pages: list[Path]) -> None:
    """The run's last lines: the combined verdict, and the files written."""
    if json_out:
        print_json(
            {
                "verdict": combine_verdicts([r.verdict for r in reports]),
                "reports": [r.to_json() for r in reports],
            },
            "verify-result",
        )
        return
    if len(reports) > 1:
        good = sum(r.ok for r in reports)
        console.print(_("{good} of {total} proven", good=good, total=len(reports)))
    if written:
        console.print(_("evidence written: {files}", files=", ".join(str(p) for p in written)))
    if pages:
        console.print(_("report written: {files}", files=", ".join(str(p) for p in pages)))


def verify_items(
    targets: list[Path], key_given: bool, json_out: bool = False
) -> list[tuple[str, list[Path]]]:
    """Everything to verify, in command-line order: bag folders and backups (or sets).
    A medium's leftovers of interrupted backups are named on the way."""
    from fiscalsafe.pipeline.verify_backup import discover

    items: list[tuple[str, list[Path]]] = []
    for target in targets:
        if target.is_dir() and is_extracted_backup(target):
            items.append(("folder", [target]))
        elif target.is_dir() and looks_like_bag(target):
            if key_given:
                raise UsageError(
                    _(
                        "{target} is a plain BagIt bag (it holds no {manifest}): "
                        "--key cannot apply to it; verify it without --key",
                        target=target,
                        manifest=EXTRACTED_MANIFEST,
                    )
                )
            items.append(("bag", [target]))
        elif target.is_dir():
            found = find_backups(target)
            if not json_out:
                for line in leftover_sentences(target):
                    err_console.print(line, markup=False)
            if not found:
                raise UsageError(_("no backup found in {folder}", folder=target))
            items.extend(("backup", files) for files in found)
        elif target.exists():
            items.extend(("backup", files) for files in discover([target]))
        else:
            raise UsageError(_("{path} does not exist", path=target))
    return items


def refuse_without_shop_key(items: list[tuple[str, list[Path]]], shop_keys: list) -> None:
    """Refuse before any work: a fiscalsafe backup is never verified without a shop key."""
    for kind, files in items:
        signed = Path(str(files[0]) + ".minisig").exists() or ".tar.zst" in files[0].name
        if (kind == "folder" or kind == "backup" and signed) and not shop_keys:
            folder = trust_dir() / "shop"
            if kind == "folder":
                raise UsageError(
                    _(
                        "{name} is an extracted fiscalsafe backup: pass the shop's public key "
                        "with --key (or put it in {folder})",
                        name=files[0].name,
                        folder=folder,
                    )
                )
            raise UsageError(
                _(
                    "{name} is a fiscalsafe backup: pass the shop's public key with --key "
                    "(or put it in {folder})",
                    name=files[0].name,
                    folder=folder,
                )
            )


def verify_item(kind: str, files: list[Path], shop_keys: list, how: dict, live):
    """One report: a plain bag folder, an extracted backup folder, or a backup (or set);
    its bytes and signatures shown live."""
    from fiscalsafe.pipeline.verify_backup import VerifyReport, verify_folder, verify_stream
    from fiscalsafe.verify.bag import validate_bag_directory

    live.stage(_("verifying {name}", name=files[0].name), total=sum_sizes(files))
    live.count_signatures()

    if kind == "bag":
        r = VerifyReport(target=str(files[0]), files=[], mode="bag")
        r.findings.extend(validate_bag_directory(files[0]))
        r.verified_at, r.checks = how["now"].strftime("%Y-%m-%dT%H:%M:%SZ"), ["bag"]
        return r
    if kind == "folder":
        keys = verify_args(shop_keys, [files[0] / EXTRACTED_MANIFEST])
        return verify_folder(files[0], **keys, **how)
    return verify_stream(files, **verify_args(shop_keys, files), **how, progress=live.advance)


def sum_sizes(files: list[Path]) -> int | None:
    """Bytes to read, for the progress bar; None for a folder."""
    try:
        return sum(p.stat().st_size for p in files if p.is_file()) or None
    except OSError:
        return None


def run_restore(archive, dest, key, trust, force, years, profile, json_out, env) -> int:
    from fiscalsafe.pipeline.restore import restore_backup
    from fiscalsafe.pipeline.verify_backup import discover

    shop_keys = load_shop_keys(key)
    if not shop_keys:
        raise UsageError(_("pass the shop's public key with --key"))
    if not archive.exists():
        raise UsageError(_("{path} does not exist", path=archive))
    files = discover([archive])[0]
    already = existing_entries(dest) if force else []
    with live_progress(json_out) as live:
        live.stage(_("verifying and restoring {name}", name=files[0].name), total=sum_sizes(files))
        live.count_signatures()
        result = restore_backup(
            files,
            dest,
            allow_existing=force,
            **verify_args(shop_keys, files),
            trust=editor_trust(trust),
            as_of=None,
            years=years,
            profile=env.load_profile(profile),
            now=env.now_utc(),
            progress=live.advance,
        )
    if json_out:
        print_json(
            {
                "restored": result.restored,
                "dest": str(result.dest),
                "files": result.files,
                "rebuild_indexes": result.rebuild_indexes,
                "report": result.report.to_json(),
            },
            "restore-result",
        )
    else:
        render_restore(result, already)
    return exitcodes.OK if result.restored else exitcodes.FINDINGS
