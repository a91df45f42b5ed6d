"""What ``verify`` and ``restore`` print for people: the verdict line of each backup,
its coverage and checks, and what a restore did."""

from __future__ import annotations

import sys

from rich.markup import escape

from fiscalsafe import localformat
from fiscalsafe.cli import localtext
from fiscalsafe.cli.coverage_text import ANCHOR_BACKUP, coverage_sentence
from fiscalsafe.cli.render import console, print_findings
from fiscalsafe.cli.verify_text import forced_restore_sentence, main_findings, signer_sentence
from fiscalsafe.i18n import _, n_
from fiscalsafe.report.texts import KINDS, VERDICTS


def render_restore(result, already: list) -> None:
    if result.restored:
        title = _("RESTORED")
        text = _(
            "{files} files into {folder}, every one verified",
            files=localformat.count(result.files),
            folder=result.dest,
        )
        console.print(f"[bold green]{title}[/] {escape(text)}", markup=True)
        if already:
            console.print("  " + forced_restore_sentence(result, already), markup=False)
        if result.rebuild_indexes:
            console.print(
                "  "
                + _(
                    "this was a no-index backup: the application must rebuild these "
                    "index files: {files}",
                    files=", ".join(result.rebuild_indexes),
                )
            )
    else:
        render_verify(result.report, detailed=True)
        title = _("NOT RESTORED")
        text = _("verification failed; nothing was written to {folder}", folder=result.dest)
        console.print(f"[bold red]{title}[/]: {escape(text)}", markup=True)
        if already:
            console.print(
                "  "
                + _(
                    "--force: the {n} entries already in {folder} are untouched",
                    n=len(already),
                    folder=result.dest,
                ),
                markup=False,
            )


def checks_line(r) -> str:
    """The steps that ran, by name; a bag verified without a key says so."""
    from fiscalsafe.pipeline.verify_backup import CHECK_NAMES

    names = ", ".join(_(CHECK_NAMES[c]) if c in CHECK_NAMES else c for c in r.checks)
    names = names or _("none")
    return _("{checks} (BagIt checks only)", checks=names) if r.mode == "bag" else names


def verdict_line(r) -> str:
    """The verdict, the target and what the backup says it is."""
    title = _(VERDICTS.get(r.verdict, VERDICTS["findings"]))
    target = escape(str(r.target))
    if r.verdict == "proven":
        line = f"[bold green]{title}[/] {target}"
    elif r.verdict == "valid":
        why = _("(BagIt only: no signature, no fiscal proof)")
        line = f"[bold green]{title}[/] {target} {escape(why)}"
    elif r.verdict == "consistent":
        why = _("the editor key came from inside the backup")
        line = f"[bold yellow]{title}[/] {target}: {escape(why)}"
    else:
        main = ", ".join(sorted({f.code for f in r.findings if f.severity == "error"})[:4])
        errors = n_("{n} error", "{n} errors", r.counts()["error"])
        line = f"[bold red]{title}[/] {target}: {errors} ({main})"
    if r.manifest is not None:
        line += " — " + escape(backup_words(r))
    return line


def backup_words(r) -> str:
    m = r.manifest
    tz = m.dossier.get("tz")
    kind = m.kind if localtext.english() or m.kind not in KINDS else _(KINDS[m.kind])
    words = _(
        "dossier {dossier} {kind} backup of {created}",
        dossier=m.dossier.get("id"),
        kind=kind,
        created=localtext.when(m.created, tz if isinstance(tz, str) else None),
    )
    if r.verified_at:
        clock = localtext.when(r.verified_at, tz if isinstance(tz, str) else None)
        words += " " + _("(verifier's clock {time})", time=clock)
    return words


def render_verify(r, detailed: bool, anchor: str = ANCHOR_BACKUP) -> None:
    console.print(verdict_line(r), markup=True)
    if r.verdict == "findings" and not detailed:
        for text in main_findings(r):
            console.print(f"    {text}", markup=False)
    if r.fiscal is not None and r.fiscal.coverage is not None:
        sentence = coverage_sentence(r.fiscal.coverage, anchor)
        console.print("  " + _("coverage: {sentence}", sentence=sentence))
    console.print("  " + _("checks: {checks}", checks=checks_line(r)), markup=False)
    if not detailed:
        return
    if r.mode == "backup":
        console.print(
            "  "
            + _(
                "{signer}; {members} members, {size} payload bytes",
                signer=signer_sentence(r),
                members=localformat.count(r.members),
                size=localformat.count(r.payload_bytes),
            ),
            markup=False,
        )
    if r.fiscal is not None:
        render_fiscal(r.fiscal)
    if r.findings:
        print_findings(r.findings)
    sys.stdout.flush()


def render_fiscal(fiscal) -> None:
    if fiscal.trust.get("self_asserted"):
        console.print("  " + _("editor trust: self-asserted (key inside the backup); pass --trust"))
    stats = fiscal.stats
    if stats:
        console.print(
            "  "
            + _(
                "{archives} fiscal archives, {tickets} tickets, {signatures} signatures verified",
                archives=localformat.count(stats.get("archives", 0)),
                tickets=localformat.count(stats.get("tickets", 0)),
                signatures=localformat.count(stats.get("signatures_verified", 0)),
            )
        )
