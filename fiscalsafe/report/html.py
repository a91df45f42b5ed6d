"""The report as one self-contained HTML page: inline CSS and SVG, no script that runs, no
link to anything outside it, printable on A4. The data block at its end (an inert
``application/json`` script) carries the evidence and the context it was drawn from."""

from __future__ import annotations

from html import escape

from fiscalsafe.localformat import Formatter
from fiscalsafe.report.datablock import data_block_html
from fiscalsafe.report.model import DossierView, ReportModel, by_family, medium_pairs
from fiscalsafe.report.svg import legend_html, timeline_svg
from fiscalsafe.report.texts import SCOPE_CANNOT, SCOPE_VERIFIED, Translator

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 10.5pt;
  color: #111; margin: 0 auto; max-width: 190mm; padding: 8px; }
h1 { font-size: 18pt; margin: 0 0 4px; } h2 { font-size: 13pt; margin: 18px 0 6px;
  border-bottom: 1px solid #999; } h3 { font-size: 11pt; margin: 12px 0 4px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; }
th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } td.hash, code { font-family: "DejaVu Sans Mono", monospace;
  font-size: 8pt; word-break: break-all; }
.verdict { font-weight: bold; }
.verdict.proven, .verdict.valid, .conclusion.proven, .conclusion.valid { color: #0a6b2b; }
.verdict.consistent, .conclusion.consistent { color: #8a5a00; }
.verdict.findings, .conclusion.findings { color: #b00020; }
li.finding.error b { color: #b00020; } li.finding.warning b { color: #8a5a00; }
.badge { display: inline-block; padding: 2px 8px; border: 2px solid currentColor; }
section.dossier { break-inside: avoid; }
li.family { margin-bottom: 8px; } li.finding { margin: 2px 0; } .todo { font-style: italic; }
svg.timeline text { font-size: 10px; fill: #333; }
svg.timeline rect, .swatch { stroke: #555; stroke-width: 0.5; }
rect.covered, .swatch.covered { fill: #2e9e4f; background: #2e9e4f; }
rect.idle, .swatch.idle { fill: #a8dcb5; background: #a8dcb5; }
rect.gap, .swatch.gap { fill: #d7263d; background: #d7263d; }
rect.stale, .swatch.stale { fill: #f08a24; background: #f08a24; }
rect.beyond-backup, .swatch.beyond-backup { fill: #7b61a8; background: #7b61a8; }
rect.before-genesis, .swatch.before-genesis { fill: #d9d9d9; background: #d9d9d9; }
circle.last-operation { fill: #111; } .swatch.dot { background: #111; border-radius: 50%; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px;
  border: 1px solid #555; }
.legend { font-size: 8.5pt; } .small { font-size: 8.5pt; color: #444; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; } }
"""


def _e(value: object) -> str:
    return escape(str(value if value is not None else "-"))


def _rows(pairs: list[tuple[str, object]], cls: str = "") -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f'<table class="{cls}">{body}</table>'


def header(model: ReportModel, tr: Translator) -> str:
    title = tr._("Verification report") if model.kind == "verify" else tr._("Dossier check")
    pairs = [
        (tr._("Made on"), f"{model.generated} ({model.tz})"),
        (tr._("Auditor"), model.auditor or tr._("not given")),
        (tr._("Tool"), model.tool),
        (tr._("Command"), model.command),
    ]
    return (
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="verdict {_e(model.verdict)}" data-verdict="{_e(model.verdict)}">'
        f'<span class="badge">{_e(model.verdict_label)}</span></p>'
        f"{_rows(pairs, 'run')}</header>"
    )


def conclusions(model: ReportModel, tr: Translator) -> str:
    items = "".join(
        f'<li class="conclusion {_e(d.verdict)}" data-dossier="{_e(d.dossier)}">'
        f"<b>{_e(d.title)}</b>: {_e(d.conclusion)}</li>"
        for d in model.dossiers
    )
    title = tr._("Conclusion")
    return f'<section class="conclusions"><h2>{_e(title)}</h2><ul>{items}</ul></section>'


def dossier_section(d: DossierView, tr: Translator, lang: str) -> str:
    fmt = Formatter(lang, d.tz)
    shop = _rows(
        [
            (tr._("Shop"), d.shop),
            (tr._("SIRET"), d.siret),
            (tr._("Address"), d.address or tr._("not recorded in the dossier's identity file")),
            (tr._("Dossier"), d.dossier),
            (tr._("Time zone"), d.tz),
        ],
        "shop",
    )
    heading = tr._("Dossier {dossier}", dossier=d.dossier)
    coverage, findings = tr._("Six-year coverage"), tr._("Findings")
    parts = [
        f'<section class="dossier" data-dossier="{_e(d.dossier)}" data-verdict="{_e(d.verdict)}">',
        f'<h2>{_e(heading)} — <span class="verdict {_e(d.verdict)}">'
        f"{_e(d.verdict_label)}</span></h2>",
        shop,
        f"<h3>{_e(coverage)}</h3>",
        timeline_svg(d.cells, fmt, tr) if d.cells else "",
        legend_html(tr) if d.cells else "",
        f'<p class="coverage">{_e(d.coverage_note)}</p>',
        f"<h3>{_e(findings)}</h3>",
        findings_html(d, tr),
        "</section>",
    ]
    return "".join(parts)


def findings_html(d: DossierView, tr: Translator) -> str:
    """Each backup's findings, by family: the family's name and what to do, once, then
    each finding with its severity, code, place and message."""
    if not d.findings:
        none = tr._("No finding.")
        return f'<p class="no-findings">{_e(none)}</p>'
    todo = tr._("What to do:")
    out = []
    for target, views in d.findings:
        families = []
        for family, group in by_family(views):
            items = "".join(
                f'<li class="finding {_e(f.severity)}" data-code="{_e(f.code)}">'
                f"<b>{_e(f.severity_label)}</b> <code>{_e(f.code)}</code>"
                f"{' (' + _e(f.where) + ')' if f.where else ''}: {_e(f.message)}</li>"
                for f in group
            )
            families.append(
                f'<li class="family"><b>{_e(family)}</b><ul>{items}</ul>'
                f'<span class="todo">{_e(todo)} {_e(group[0].what_to_do)}</span></li>'
            )
        out.append(f'<h4>{_e(target)}</h4><ul class="finding-list">{"".join(families)}</ul>')
    return "".join(out)


def backups_table(model: ReportModel, tr: Translator) -> str:
    if not model.backups:
        return ""
    head = [
        tr._("File"),
        tr._("Kind"),
        tr._("Signed creation time"),
        tr._("Verifier's clock"),
        tr._("Size"),
        tr._("SHA-256"),
        tr._("Verdict"),
    ]
    title = tr._("Backups verified")
    rows = []
    for b in model.backups:
        hashes = "<br>".join(_e(h) for _, h in b.files) or "-"
        rows.append(
            f'<tr class="backup" data-target="{_e(b.target)}"><td>{_e(b.target)}</td>'
            f"<td>{_e(b.kind)}</td><td>{_e(b.created)}</td><td>{_e(b.verified_at)}</td>"
            f'<td>{_e(b.size)}</td><td class="hash">{hashes}</td>'
            f'<td class="verdict {_e(b.verdict)}" data-verdict="{_e(b.verdict)}">'
            f"{_e(b.verdict_label)}</td></tr>"
        )
    ths = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<section class="backups"><h2>{_e(title)}</h2>'
        f'<table class="backups"><tr>{ths}</tr>{"".join(rows)}</table></section>'
    )


def media_html(model: ReportModel, tr: Translator) -> str:
    if not model.media:
        return ""
    blocks = [_rows(medium_pairs(m, tr), "medium") for m in model.media]
    title = tr._("Medium") if model.kind == "verify" else tr._("Disk")
    return f'<section class="media"><h2>{_e(title)}</h2>{"".join(blocks)}</section>'


def _key_id_html(k, label: str) -> str:
    if not k.key_id:
        return ""
    return f'<br><span class="small">{_e(label)} {_e(k.key_id)}<br>{_e(k.public_key)}</span>'


def keys_html(model: ReportModel, tr: Translator) -> str:
    roles = {"shop": tr._("shop key"), "editor": tr._("software editor's key")}
    title, key_id_label = tr._("Keys"), tr._("minisign key id")
    rows = "".join(
        f'<tr class="key" data-role="{_e(k.role)}"><td>{_e(roles.get(k.role, k.role))}</td>'
        f'<td><code class="fingerprint" data-role="{_e(k.role)}">{_e(k.fingerprint)}</code>'
        f"{_key_id_html(k, key_id_label)}"
        f"</td><td>{_e(k.source)}</td><td>{_e(k.path or '-')}</td></tr>"
        for k in model.keys
    )
    head = "".join(
        f"<th>{_e(h)}</th>"
        for h in (tr._("Key"), tr._("Fingerprint"), tr._("Where it came from"), tr._("File"))
    )
    return (
        f'<section class="keys"><h2>{_e(title)}</h2><table><tr>{head}</tr>{rows}</table></section>'
    )


def evidence_html(model: ReportModel, tr: Translator, report_name: str) -> str:
    name = model.evidence_name or tr._("embedded in this report")
    pairs = [(tr._("Evidence record"), name), (tr._("Its SHA-256"), model.evidence_sha256)]
    cmd = f"fiscalsafe report-check {report_name}"
    if model.evidence_name:
        cmd += f" --evidence {model.evidence_name}"
    cmd += " --auditor-pub AUDITOR.pub"
    text = tr._("To check that this report, its evidence and its signature belong together:")
    stock = f"minisign -Vm {report_name} -p AUDITOR.pub"
    title = tr._("Evidence")
    return (
        f'<section class="evidence"><h2>{_e(title)}</h2>{_rows(pairs, "evidence")}'
        f"<p>{_e(text)}<br><code>{_e(cmd)}</code><br><code>{_e(stock)}</code></p></section>"
    )


def scope_html(model: ReportModel, tr: Translator) -> str:
    done = "".join(f"<li>{_e(tr._(t))}</li>" for t in SCOPE_VERIFIED[model.kind])
    cannot = "".join(f"<li>{_e(tr._(t))}</li>" for t in SCOPE_CANNOT)
    title, verified = tr._("Scope"), tr._("What was verified")
    unprovable = tr._("What fiscalsafe cannot prove")
    return (
        f'<section class="scope"><h2>{_e(title)}</h2>'
        f"<h3>{_e(verified)}</h3><ul>{done}</ul>"
        f"<h3>{_e(unprovable)}</h3><ul>{cannot}</ul></section>"
    )


def render_html(model: ReportModel, data: dict, report_name: str) -> bytes:
    tr = Translator(model.lang)
    title = tr._("Verification report") if model.kind == "verify" else tr._("Dossier check")
    body = "".join(
        [
            header(model, tr),
            conclusions(model, tr),
            *(dossier_section(d, tr, model.lang) for d in model.dossiers),
            backups_table(model, tr),
            media_html(model, tr),
            keys_html(model, tr),
            evidence_html(model, tr, report_name),
            scope_html(model, tr),
        ]
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="{model.lang}"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}{data_block_html(data)}</body></html>\n"
    )
    return page.encode("utf-8")
