"""What a report says, built from a verify or check result and the circumstances of the run.

The input is the JSON document the result already has (the evidence record of ``verify``,
``schemas/evidence.schema.json``, or the check report of ``check``) plus a *context*
(``schemas/report-data.md``: language, auditor, command line, media, keys). Everything
here is already in the reader's language; ``html`` and ``pdf`` only lay it out, so both
say the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fiscalsafe.localformat import Formatter, parse_time
from fiscalsafe.report import timeline
from fiscalsafe.report.texts import (
    FAMILIES,
    KEY_SOURCES,
    KINDS,
    SEVERITIES,
    VERDICTS,
    Translator,
    family_of,
)
from fiscalsafe.verify.report import combine_verdicts


@dataclass(frozen=True)
class FindingView:
    code: str
    severity: str  # the JSON key: error | warning | info
    severity_label: str
    message: str
    where: str
    family: str
    what_to_do: str


@dataclass(frozen=True)
class BackupRow:
    target: str
    dossier: str
    kind: str
    created: str
    verified_at: str
    size: str
    files: list[tuple[str, str]]  # (path, SHA-256)
    verdict: str
    verdict_label: str


@dataclass(frozen=True)
class KeyView:
    role: str  # shop | editor | auditor
    fingerprint: str
    key_id: str
    public_key: str
    source: str
    path: str


@dataclass
class DossierView:
    dossier: str
    shop: str
    siret: str
    address: str | None
    tz: str
    verdict: str
    verdict_label: str
    conclusion: str
    coverage_note: str
    cells: list[timeline.MonthCell]
    findings: list[tuple[str, list[FindingView]]] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The dossier and its shop (a plain bag has no shop)."""
        return self.dossier if self.shop == "-" else f"{self.dossier} — {self.shop}"


@dataclass
class ReportModel:
    lang: str
    kind: str  # verify | check
    verdict: str
    verdict_label: str
    generated: str
    tz: str
    tool: str
    command: str
    auditor: str | None
    evidence_name: str
    evidence_sha256: str
    dossiers: list[DossierView]
    backups: list[BackupRow]
    keys: list[KeyView]
    media: list[dict[str, Any]]


def verifications_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The results a document holds, each shaped as one verification: the evidence record's
    ``verifications``, or a check report seen as one (no backup, its own fiscal part)."""
    if doc.get("format") == "fiscalsafe-evidence":
        return list(doc.get("verifications") or [])
    return [
        {
            "target": doc.get("path", ""),
            "mode": "check",
            "verdict": doc.get("verdict", "findings"),
            "verified_at": doc.get("as_of"),
            "files": [],
            "shop_key": None,
            "backup": None,
            "fiscal": doc,
            "findings": doc.get("findings") or [],
        }
    ]


def dossier_id(v: dict[str, Any]) -> str:
    backup, fiscal = v.get("backup") or {}, v.get("fiscal") or {}
    return str((backup.get("dossier") or {}).get("id") or fiscal.get("dossier") or v["target"])


def identity_of(group: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """Shop name, SIRET and time zone: the signed manifest's copy of the dossier identity
    file for a backup, the identity file itself (in the context) for a check."""
    for v in group:
        signed = (v.get("backup") or {}).get("dossier")
        if signed:
            return signed
    return (context.get("identities") or {}).get(dossier_id(group[0]), {})


def finding_views(findings: list[dict[str, Any]], tr: Translator) -> list[FindingView]:
    views = []
    for f in findings:
        code = str(f.get("code", ""))
        family = family_of(code)
        title, todo = FAMILIES[family] if family else ("", "")
        where = " ".join(
            str(part)
            for part in (
                f.get("file"),
                tr._("record {record}", record=f["record"]) if "record" in f else None,
            )
            if part
        )
        severity = str(f.get("severity", "error"))
        views.append(
            FindingView(
                code=code,
                severity=severity,
                severity_label=tr._(SEVERITIES.get(severity, severity)),
                message=str(f.get("message", "")),
                where=where,
                family=tr._(title) if title else code,
                what_to_do=tr._(todo) if todo else "",
            )
        )
    return views


def by_family(views: list[FindingView]) -> list[tuple[str, list[FindingView]]]:
    """Findings grouped by family, in the order each family first appears."""
    groups: dict[str, list[FindingView]] = {}
    for view in views:
        groups.setdefault(view.family, []).append(view)
    return list(groups.items())


def medium_pairs(medium: dict[str, Any], tr: Translator) -> list[tuple[str, Any]]:
    """What a report says of one medium (or disk), label and value, in both renderings."""
    na = tr._("not available")
    return [
        (tr._("Path"), medium.get("path")),
        (tr._("Mount point"), medium.get("mount_point") or na),
        (tr._("File system"), medium.get("fstype") or na),
        (tr._("Device"), medium.get("device") or na),
        (tr._("Volume label"), medium.get("label") or na),
        (tr._("Volume UUID"), medium.get("uuid") or na),
        (tr._("Device id (serial)"), medium.get("id") or na),
    ]


def backup_row(v: dict[str, Any], fmt: Formatter, tr: Translator) -> BackupRow:
    backup = v.get("backup") or {}
    files = v.get("files") or []
    verdict = str(v.get("verdict", "findings"))
    size = sum(int(f.get("size") or 0) for f in files) if files else None
    return BackupRow(
        target=str(v.get("target", "")),
        dossier=dossier_id(v),
        kind=tr._(KINDS[backup["kind"]]) if backup.get("kind") in KINDS else "-",
        created=fmt.when(backup.get("created")),
        verified_at=fmt.when(v.get("verified_at")),
        size=fmt.size(size),
        files=[(str(f.get("path", "")), str(f.get("sha256", ""))) for f in files],
        verdict=verdict,
        verdict_label=tr._(VERDICTS.get(verdict, verdict)),
    )


def newest(group: list[dict[str, Any]]) -> dict[str, Any]:
    def created(v: dict[str, Any]) -> str:
        return str((v.get("backup") or {}).get("created") or v.get("verified_at") or "")

    return max(group, key=created)


def conclusion(kind: str, group: list[dict[str, Any]], fmt: Formatter, tr: Translator) -> str:
    """One sentence: the dossier's newest result, and how many of its results are proven."""
    last = newest(group)
    verdict = last.get("verdict")
    fiscal = last.get("fiscal") or {}
    years = fiscal.get("years", 6)
    errors = sum(1 for f in last.get("findings") or [] if f.get("severity") == "error")
    if kind == "check":
        subject = tr._("the dossier, checked as of {date},", date=fmt.when(fiscal.get("as_of")))
    elif not last.get("backup"):  # a plain bag, or a backup whose manifest was unreadable
        subject = str(last.get("target", ""))
    else:
        created = (last.get("backup") or {}).get("created")
        subject = tr._("the backup of {date}", date=fmt.when(created))
    if verdict == "proven":
        text = tr._(
            "PROVEN: {subject} is complete, intact and signed; its fiscal archives and its "
            "journal are valid and the {years} years required are covered without "
            "interruption.",
            subject=subject,
            years=years,
        )
    elif verdict == "consistent":
        text = tr._(
            "CONSISTENT, ORIGIN NOT PROVEN: {subject} has no error, but the software "
            "editor's key came from inside it, so the origin of its fiscal signatures is "
            "not proven.",
            subject=subject,
        )
    elif verdict == "valid":
        text = tr._(
            "VALID BAG: {subject} is a valid BagIt bag; no signature and no fiscal content "
            "were proven.",
            subject=subject,
        )
    else:
        text = tr.ngettext(
            "NOT PROVEN: {subject} has {n} error; see the findings below.",
            "NOT PROVEN: {subject} has {n} errors; see the findings below.",
            errors,
            subject=subject,
        )
    if len(group) > 1:
        proven = sum(1 for v in group if v.get("verdict") == "proven")
        text += " " + tr.ngettext(
            "{proven} of {n} backup of this dossier is proven.",
            "{proven} of {n} backups of this dossier are proven.",
            len(group),
            proven=proven,
        )
    return text


def coverage_note(cov: dict[str, Any] | None, fmt: Formatter, tr: Translator) -> str:
    if not cov:
        return tr._("No coverage was computed: the fiscal content could not be verified.")
    cells = timeline.month_cells(cov)
    counts = timeline.counts(cells)
    required = cov.get("required") or [None, None]
    text = tr._(
        "Required: {start} to {end}. Months covered: {covered} of {total}; not covered: "
        "{gaps}. Last recorded operation: {last}.",
        start=fmt.day(required[0]),
        end=fmt.day(required[1]),
        covered=counts["covered"] + counts["idle"],
        total=len(cells),
        gaps=counts["gap"] + counts["stale"] + counts["beyond-backup"],
        last=fmt.day(cov.get("last_operation")),
    )
    if cov.get("since_genesis"):
        text += " " + tr._(
            "The dossier is younger than the required period: its first record is of {day}.",
            day=fmt.day(cov.get("genesis")),
        )
    return text


def dossier_view(
    kind: str, group: list[dict[str, Any]], context: dict[str, Any], lang: str
) -> DossierView:
    tr = Translator(lang)
    ident = identity_of(group, context)
    fmt = Formatter(lang, ident.get("tz") or "UTC")
    last = newest(group)
    cov = (last.get("fiscal") or {}).get("coverage")
    verdict = combine_verdicts([str(v.get("verdict")) for v in group])
    return DossierView(
        dossier=dossier_id(group[0]),
        shop=str(ident.get("shop") or "-"),
        siret=str(ident.get("siret") or "-"),
        address=ident.get("address"),
        tz=str(ident.get("tz") or "UTC"),
        verdict=verdict,
        verdict_label=tr._(VERDICTS.get(verdict, verdict)),
        conclusion=conclusion(kind, group, fmt, tr),
        coverage_note=coverage_note(cov, fmt, tr),
        cells=timeline.month_cells(cov),
        findings=[
            (str(v.get("target")), finding_views(v.get("findings") or [], tr))
            for v in group
            if v.get("findings")
        ],
    )


def key_views(
    doc_verifications: list[dict[str, Any]], context: dict[str, Any], tr: Translator
) -> list[KeyView]:
    """The shop keys given, then each editor key the fiscal checks used, with its source."""

    def source(key: object) -> str:
        return tr._(KEY_SOURCES[key]) if key in KEY_SOURCES else "-"

    keys = [
        KeyView(
            "shop",
            str(k.get("fingerprint", "")),
            str(k.get("id", "")),
            str(k.get("public_key", "")),
            source(k.get("source")),
            str(k.get("path") or ""),
        )
        for k in context.get("shop_keys") or []
    ]
    seen: set[str] = set()
    for v in doc_verifications:
        trust = (v.get("fiscal") or {}).get("trust") or {}
        self_asserted = bool(trust.get("self_asserted"))
        origin = "self-asserted" if self_asserted else context.get("editor_source")
        paths = "" if self_asserted else ", ".join(context.get("editor_paths") or [])
        for fp in trust.get("fingerprints") or []:
            if fp not in seen:
                seen.add(fp)
                keys.append(KeyView("editor", str(fp), "", "", source(origin), paths))
    return keys


def build_model(
    doc: dict[str, Any], context: dict[str, Any], evidence_name: str, evidence_sha256: str
) -> ReportModel:
    lang = context.get("lang", "en")
    tr = Translator(lang)
    kind = "check" if doc.get("format") == "fiscalsafe-check-report" else "verify"
    found = verifications_of(doc)
    groups: dict[str, list[dict[str, Any]]] = {}
    for v in found:
        groups.setdefault(dossier_id(v), []).append(v)
    dossiers = [dossier_view(kind, g, context, lang) for g in groups.values()]
    tz = dossiers[0].tz if dossiers else "UTC"
    fmt = Formatter(lang, tz)
    verdict = combine_verdicts([str(v.get("verdict")) for v in found])
    keys = key_views(found, context, tr)
    return ReportModel(
        lang=lang,
        kind=kind,
        verdict=verdict,
        verdict_label=tr._(VERDICTS.get(verdict, verdict)),
        generated=fmt.when(parse_time(context.get("generated"))),
        tz=tz,
        tool=str(doc.get("tool", "")),
        command=str(context.get("command", "")),
        auditor=context.get("auditor"),
        evidence_name=evidence_name,
        evidence_sha256=evidence_sha256,
        dossiers=dossiers,
        backups=[backup_row(v, Formatter(lang, _tz_of(v, groups, context)), tr) for v in found]
        if kind == "verify"
        else [],
        keys=keys,
        media=list(context.get("media") or []),
    )


def _tz_of(v: dict[str, Any], groups: dict[str, list[dict[str, Any]]], context: dict) -> str:
    return str(identity_of(groups[dossier_id(v)], context).get("tz") or "UTC")
